import type { BenchContext } from '../lib/context.ts';
import { busyOfCore } from '../lib/procfs.ts';
import { RoomSequences } from '../lib/publish.ts';
import { runStep, type StepResult } from '../lib/step.ts';
import { connectSubscribers } from '../lib/subscribers.ts';
import { SwitchboardSystem } from '../systems/switchboard.ts';
import type { SystemUnderTest } from '../systems/types.ts';
import { invalid, type Outcome, type Scenario } from './types.ts';

const P99_LIMIT_US = 2000;

const SUBSCRIBERS = 10;
const ROOM = 'r1';

/** Busy share (%) of a core list that names one core. */
function coreBusy(cores: string | undefined, step: StepResult): number | undefined {
  const busy = busyOfCore(cores, step.coreBusy);
  return busy === undefined ? undefined : Math.round(busy * 100);
}

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
    // The publisher service is what this scenario measures: it gets the server core (the
    // gateway there has only the ten subscribers), the HTTP client and NATS the load core.
    const publisher = await system.startIngressPublisher(ctx).catch(async (err: unknown) => {
      await handle.stop();
      throw err;
    });
    const steps: StepResult[] = [];
    try {
      const { gen } = await connectSubscribers(ctx, handle, {
        conns: SUBSCRIBERS,
        probes: SUBSCRIBERS,
        rooms: [ROOM],
      });
      try {
        const sequences = new RoomSequences();
        const spec = {
          rooms: [ROOM],
          fastSubscribers: [SUBSCRIBERS],
          mode: 'http' as const,
          httpUrl: `http://127.0.0.1:${ctx.ingressPublisherPort}/v1/events`,
          apiKey: system.keys.publish,
          alsoWatch: { ...system.supportPids(), publisher: publisher.pid },
        };
        const warmUpRate = ctx.sizes.ingressRates[0] ?? 500;
        await runStep(ctx, handle, gen, sequences, {
          ...spec,
          rate: warmUpRate,
          durationS: ctx.sizes.ingressWarmUpS,
        });
        for (const rate of ctx.sizes.ingressRates) {
          const step = await runStep(ctx, handle, gen, sequences, {
            ...spec,
            rate,
            durationS: ctx.sizes.ingressStepS,
          });
          steps.push(step);
          ctx.progress(
            `  ${rate} req/s → ${Math.round(step.publish.achievedRate)}/s, p99 ${step.publish.response?.p99} µs (from the write ${step.publish.service?.p99} µs), client late p99 ${step.publish.lag.p99} µs, publisher ${step.cpuShares.publisher} of the server core, load core ${coreBusy(ctx.cpus.load, step)} % (client ${step.cpuShares.benchHttpClient}, nats ${step.cpuShares.nats}) ${step.problems.join('; ')}`,
          );
          if (!ok(step)) break;
        }
      } finally {
        await gen.quit();
      }
    } finally {
      await publisher.stop();
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
        `the publisher service alone on the server core with the gateway of the subscribers; open-loop HTTP keep-alive client (sbhttp, C, 64 sockets) on the load core, response time from intended send time (details: the client's own lateness as clientLateUs, the round trip from the write as serviceUs); one unrecorded ${ctx.sizes.ingressWarmUpS} s warm-up step; ${SUBSCRIBERS} subscribers check every event arrives`,
      ],
      details: {
        steps: steps.map((s) => ({
          rate: s.rate,
          achieved: Math.round(s.publish.achievedRate),
          responseUs: s.publish.response,
          serviceUs: s.publish.service,
          clientLateUs: s.publish.lag,
          cpu: s.cpuShares,
          serverCoreBusyPct: coreBusy(ctx.cpus.server, s),
          loadCoreBusyPct: coreBusy(ctx.cpus.load, s),
          loss: s.loss,
          problems: s.problems,
        })),
      },
    };
  },
};
