import type { BenchContext } from '../lib/context.ts';
import { subscriptionsByClient } from '../lib/nats-server.ts';
import { RoomSequences } from '../lib/publish.ts';
import { runStep, warmUp, type StepResult } from '../lib/step.ts';
import { connectSubscribers } from '../lib/subscribers.ts';
import type { SystemUnderTest } from '../systems/types.ts';
import { passes } from './fanout.ts';
import { invalid, type Outcome, type Scenario } from './types.ts';

const GROUP_SIZE = 10;

/**
 * Every room of the scenario and its subscriber count: one personal room each and
 * groups of ten, interleaved (ten personal rooms, then their group) so that any
 * stretch of messages has the same mix, whatever the step's length.
 */
function roomPlan(conns: number): { rooms: string[]; subscribers: number[] } {
  const rooms: string[] = [];
  const subscribers: number[] = [];
  for (let i = 0; i < conns; i++) {
    rooms.push(`p${i}`);
    subscribers.push(1);
    const group = Math.floor(i / GROUP_SIZE);
    if (i % GROUP_SIZE === GROUP_SIZE - 1 || i === conns - 1) {
      rooms.push(`g${group}`);
      subscribers.push(i - group * GROUP_SIZE + 1);
    }
  }
  return { rooms, subscribers };
}

/** The NATS connection of the server under test: the gateway's, or the baseline's `bench-<name>`. */
function serverSubscriptions(counts: Record<string, number>, system: string): number | undefined {
  const name = Object.keys(counts).find((n) =>
    system === 'switchboard' ? /gateway/i.test(n) : n === `bench-${system}`,
  );
  return name === undefined ? undefined : counts[name];
}

/**
 * A subscription can reach NATS just after its client got the acknowledgement, so
 * the counts are read until two readings 200 ms apart agree.
 */
async function settledSubscriptions(monitorUrl: string): Promise<Record<string, number>> {
  let previous = await subscriptionsByClient(monitorUrl);
  for (let i = 0; i < 25; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const next = await subscriptionsByClient(monitorUrl);
    if (JSON.stringify(next) === JSON.stringify(previous)) return next;
    previous = next;
  }
  return previous;
}

/** Scenario 3: each connection on a personal room and a room shared by ten. */
export const manyTopics: Scenario = {
  id: 'many-topics',
  title: 'Many topics: personal and group rooms',
  rows: [
    { name: 'many topics', unit: 'deliveries/s', better: 'higher' },
    { name: 'server NATS event subscriptions', unit: 'subscriptions', better: 'lower' },
  ],
  async run(ctx: BenchContext, system: SystemUnderTest): Promise<Outcome> {
    const n = ctx.sizes.manyTopicsConns;
    const { rooms, subscribers } = roomPlan(n);
    const handle = await system.start(ctx, {});
    const steps: StepResult[] = [];
    let natsSubs: number | undefined;
    let allSubs: Record<string, number> | undefined;
    try {
      const probes = Math.max(1, Math.round(n / 100));
      const { gen } = await connectSubscribers(ctx, handle, {
        conns: n,
        probes,
        rooms: ['p{i}', 'g{g}'],
        groupSize: GROUP_SIZE,
      });
      try {
        allSubs = await settledSubscriptions(ctx.nats.monitorUrl);
        natsSubs = serverSubscriptions(allSubs, system.name);
        const sequences = new RoomSequences();
        await warmUp(ctx, handle, gen, sequences, { rooms, fastSubscribers: subscribers });
        let rate = ctx.sizes.manyTopicsRate;
        for (let i = 0; i < ctx.sizes.manyTopicsMaxSteps; i++) {
          const step = await runStep(ctx, handle, gen, sequences, {
            rate,
            durationS: ctx.sizes.stepS,
            rooms,
            fastSubscribers: subscribers,
          });
          steps.push(step);
          ctx.progress(
            `  ${rate} msg/s → ${Math.round(step.deliveriesPerS)} deliveries/s ${step.problems.join('; ')}`,
          );
          if (!passes(step)) break;
          rate *= 2;
        }
      } finally {
        await gen.quit();
      }
    } finally {
      await handle.stop();
    }

    const best = steps.filter(passes).at(-1);
    const notes = [
      `${n} connections, ${rooms.length} rooms (personal + groups of ${GROUP_SIZE}), published straight to NATS`,
    ];
    if (system.name === 'switchboard' && natsSubs !== undefined) {
      const verdict = natsSubs === rooms.length ? 'equals' : 'differs from';
      notes.push(
        `gateway NATS subscriptions ${natsSubs} ${verdict} ${rooms.length} distinct topics`,
      );
    } else if (system.name !== 'switchboard') {
      notes.push('baselines listen on one wildcard subscription');
    }
    const failed = steps.find((s) => !passes(s));
    return {
      values: {
        'many topics': best
          ? Math.round(best.deliveriesPerS)
          : invalid(failed?.problems.join('; ') || 'no passing step'),
        'server NATS event subscriptions':
          natsSubs ?? `unavailable: no NATS connection named for ${system.name}`,
      },
      notes,
      details: {
        connections: n,
        distinctTopics: rooms.length,
        natsSubscriptionsByClient: allSubs ?? {},
        steps: steps.map((s) => ({
          rate: s.rate,
          deliveriesPerS: Math.round(s.deliveriesPerS),
          loss: s.loss,
          p99Us: s.latencyUs.p99,
          latencyUs: s.latencyUs,
          publisherLagP99Us: s.publish.lag.p99,
          cpuShares: s.cpuShares,
          coreBusy: s.coreBusy,
          foreignLoad: s.foreignLoad,
          problems: s.problems,
        })),
      },
    };
  },
};
