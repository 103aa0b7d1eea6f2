import type { BenchContext } from '../lib/context.ts';
import { processRssBytes } from '../lib/procfs.ts';
import { RoomSequences } from '../lib/publish.ts';
import { runStep, warmUp } from '../lib/step.ts';
import { connectSubscribers } from '../lib/subscribers.ts';
import type { SystemUnderTest } from '../systems/types.ts';
import { invalid, type Outcome, type Scenario, type SharedResults } from './types.ts';

const ROOM = 'r1';
const MiB = 1024 * 1024;

/** Samples a process's RSS until stopped; returns the peak. */
function watchRss(pid: number): () => number {
  let peak = processRssBytes(pid);
  const timer = setInterval(() => {
    peak = Math.max(peak, processRssBytes(pid));
  }, 100);
  return () => {
    clearInterval(timer);
    return Math.max(peak, processRssBytes(pid));
  };
}

/** Scenario 6: the fan-out at half of each system's maximum, a tenth of the clients reading slowly. */
export const slowConsumers: Scenario = {
  id: 'slow-consumers',
  title: 'Slow consumers at half load',
  rows: [
    { name: 'slow consumers: fast clients p99', unit: 'ms', better: 'lower' },
    { name: 'slow consumers: server RSS growth', unit: 'MiB', better: 'lower' },
  ],
  async run(ctx: BenchContext, system: SystemUnderTest, shared: SharedResults): Promise<Outcome> {
    const knee = shared.fanoutKnee[system.name];
    if (knee === undefined) {
      const why = invalid('no fan-out maximum from this run');
      return {
        values: {
          'slow consumers: fast clients p99': why,
          'slow consumers: server RSS growth': why,
        },
        notes: [],
        details: {},
      };
    }
    const n = ctx.sizes.fanoutSubscribers;
    const slow = Math.round(n * ctx.sizes.slowShare);
    const rate = Math.max(1, Math.round(knee / 2));
    const handle = await system.start(ctx, {});
    try {
      const { gen } = await connectSubscribers(ctx, handle, {
        conns: n,
        probes: ctx.sizes.probes,
        slow,
        slowBytesPerTick: 512,
        rooms: [ROOM],
      });
      try {
        const { open_fast: fast, open_slow: slowOpen } = await gen.report();
        const sequences = new RoomSequences();
        await warmUp(ctx, handle, gen, sequences, { rooms: [ROOM], fastSubscribers: [fast] });
        const rssBefore = processRssBytes(handle.server.pid);
        const peakRss = watchRss(handle.server.pid);
        const step = await runStep(ctx, handle, gen, sequences, {
          rate,
          durationS: ctx.sizes.slowStepS,
          rooms: [ROOM],
          fastSubscribers: [fast],
        });
        const growth = (peakRss() - rssBefore) / MiB;
        ctx.progress(
          `  ${rate} msg/s, ${slowOpen} slow: fast p99 ${step.latencyUs.p99} µs, RSS +${growth.toFixed(1)} MiB ${step.problems.join('; ')}`,
        );
        const c = step.counters;
        return {
          values: {
            'slow consumers: fast clients p99':
              step.problems.length > 0
                ? invalid(step.problems.join('; '))
                : Math.round(step.latencyUs.p99 / 10) / 100,
            'slow consumers: server RSS growth': Math.round(growth * 10) / 10,
          },
          notes: [
            `${slowOpen} of ${n} clients read 10 KiB/s with a 4 KiB receive buffer, at ${rate} msg/s; server backpressure limit 1 MiB where it has one`,
            `${c.closed_slow} slow clients closed by the server, ${c.slow} deliveries reached slow clients`,
          ],
          details: {
            rate,
            fast,
            slow: slowOpen,
            latencyUs: step.latencyUs,
            rssBefore,
            rssGrowthMiB: growth,
            closedSlow: c.closed_slow,
            slowDeliveries: c.slow,
            cpuShares: step.cpuShares,
            foreignLoad: step.foreignLoad,
            problems: step.problems,
          },
        };
      } finally {
        await gen.quit();
      }
    } finally {
      await handle.stop();
    }
  },
};
