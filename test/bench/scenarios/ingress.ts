import type { BenchContext } from '../lib/context.ts';
import { RoomSequences } from '../lib/publish.ts';
import { runStep, type StepResult } from '../lib/step.ts';
import { connectSubscribers } from '../lib/subscribers.ts';
import { SwitchboardSystem } from '../systems/switchboard.ts';
import type { SystemUnderTest } from '../systems/types.ts';
import { invalid, type Outcome, type Scenario } from './types.ts';

const P99_LIMIT_US = 2000;
const SUBSCRIBERS = 10;
const ROOM = 'r1';

function ok(step: StepResult): boolean {
  return step.problems.length === 0 && (step.publish.response?.p99 ?? Infinity) < P99_LIMIT_US;
}

/** Scenario 7: HTTP publishes at constant rates; the highest rate whose response p99 stays under 2 ms. */
export const ingress: Scenario = {
  id: 'ingress',
  title: 'Ingress: HTTP publish',
  rows: [{ name: 'ingress (HTTP publish, p99 < 2 ms)', unit: 'publishes/s', better: 'higher' }],
  appliesTo: ['switchboard'],
  async run(ctx: BenchContext, system: SystemUnderTest): Promise<Outcome> {
    if (!(system instanceof SwitchboardSystem))
      throw new Error('ingress applies to switchboard only');
    const handle = await system.start(ctx, {});
    const steps: StepResult[] = [];
    try {
      const { gen } = await connectSubscribers(ctx, handle, {
        conns: SUBSCRIBERS,
        probes: SUBSCRIBERS,
        rooms: [ROOM],
      });
      try {
        const sequences = new RoomSequences();
        for (const rate of ctx.sizes.ingressRates) {
          const step = await runStep(ctx, handle, gen, sequences, {
            rate,
            durationS: ctx.sizes.ingressStepS,
            rooms: [ROOM],
            fastSubscribers: [SUBSCRIBERS],
            mode: 'http',
            httpUrl: system.publishUrl(ctx),
            apiKey: system.keys.publish,
          });
          steps.push(step);
          ctx.progress(
            `  ${rate} req/s → ${Math.round(step.publish.achievedRate)}/s, p99 ${step.publish.response?.p99} µs ${step.problems.join('; ')}`,
          );
          if (!ok(step)) break;
        }
      } finally {
        await gen.quit();
      }
    } finally {
      await handle.stop();
    }
    const best = steps.filter(ok).at(-1);
    const first = steps[0];
    return {
      values: {
        'ingress (HTTP publish, p99 < 2 ms)': best
          ? Math.round(best.publish.achievedRate)
          : invalid(
              first
                ? `p99 ${first.publish.response?.p99} µs at ${first.rate}/s ${first.problems.join('; ')}`
                : 'no step',
            ),
      },
      notes: [
        `open-loop HTTP keep-alive client (64 sockets) on the load core, response time from intended send time; ${SUBSCRIBERS} subscribers check every event arrives`,
      ],
      details: {
        steps: steps.map((s) => ({
          rate: s.rate,
          achieved: Math.round(s.publish.achievedRate),
          responseUs: s.publish.response,
          loss: s.loss,
          problems: s.problems,
        })),
      },
    };
  },
};
