import type { BenchContext } from '../lib/context.ts';
import { RoomSequences, type PublishJob } from '../lib/publish.ts';
import { runStep, warmUp, type StepResult } from '../lib/step.ts';
import { connectSubscribers } from '../lib/subscribers.ts';
import { SwitchboardSystem } from '../systems/switchboard.ts';
import type { SystemName, SystemUnderTest } from '../systems/types.ts';
import { invalid, type Cell, type Outcome, type Scenario, type SharedResults } from './types.ts';

const ROOM = 'r1';

interface Point {
  readonly row: string;
  readonly rate: number;
  readonly mode: PublishJob['mode'];
}

/** Where events enter Switchboard besides straight on NATS: its publisher, over HTTP or NATS. */
const PUBLISHER_MODES = [
  { via: 'HTTP publish', mode: 'http' },
  { via: 'NATS request publish', mode: 'nats-request' },
] as const;

function points(own: number, common: number, system: SystemName): Point[] {
  const loads = [
    { at: '50 % of own max', rate: own * 0.5 },
    { at: '80 % of own max', rate: own * 0.8 },
    { at: 'common rate', rate: common },
  ];
  const list: Point[] = loads.map(({ at, rate }) => ({
    row: `latency p99 at ${at} (NATS)`,
    rate,
    mode: 'nats',
  }));
  if (system === 'switchboard') {
    for (const { via, mode } of PUBLISHER_MODES)
      for (const { at, rate } of loads)
        list.push({
          row: `latency p99 at ${at.replace(' of own max', '')} via ${via}`,
          rate,
          mode,
        });
  }
  return list.map((p) => ({ ...p, rate: Math.max(1, Math.round(p.rate)) }));
}

function toMs(step: StepResult): Cell {
  if (step.problems.length > 0) return invalid(step.problems.join('; '));
  return Math.round(step.latencyUs.p99 / 10) / 100;
}

/** Scenario 4: publish-to-delivery latency at fixed shares of each system's own fan-out maximum. */
export const latency: Scenario = {
  id: 'latency',
  title: 'Latency at 50 % and 80 % of each system’s maximum and at one common rate',
  rows: [
    { name: 'latency p99 at 50 % of own max (NATS)', unit: 'ms', better: 'lower' },
    { name: 'latency p99 at 80 % of own max (NATS)', unit: 'ms', better: 'lower' },
    { name: 'latency p99 at common rate (NATS)', unit: 'ms', better: 'lower' },
    ...PUBLISHER_MODES.flatMap(({ via }) =>
      ['50 %', '80 %', 'common rate'].map((at) => ({
        name: `latency p99 at ${at} via ${via}`,
        unit: 'ms',
        better: 'lower' as const,
      })),
    ),
  ],
  async run(ctx: BenchContext, system: SystemUnderTest, shared: SharedResults): Promise<Outcome> {
    const own = shared.fanoutKnee[system.name];
    const knees = Object.values(shared.fanoutKnee);
    if (own === undefined || knees.length === 0) {
      const why = invalid('no fan-out maximum from this run');
      return {
        values: Object.fromEntries(this.rows.map((r) => [r.name, why])),
        notes: [],
        details: {},
      };
    }
    const common = Math.min(...knees) * 0.5;
    const n = ctx.sizes.fanoutSubscribers;
    const handle = await system.start(ctx, {});
    const values: Record<string, Cell> = {};
    const details: Record<string, unknown> = {};
    try {
      const { gen } = await connectSubscribers(ctx, handle, {
        conns: n,
        probes: ctx.sizes.probes,
        rooms: [ROOM],
      });
      try {
        const sequences = new RoomSequences();
        await warmUp(ctx, handle, gen, sequences, { rooms: [ROOM], fastSubscribers: [n] });
        for (const point of points(own, common, system.name)) {
          const step = await runStep(ctx, handle, gen, sequences, {
            rate: point.rate,
            durationS: ctx.sizes.latencyStepS,
            rooms: [ROOM],
            fastSubscribers: [n],
            mode: point.mode,
            httpUrl: system instanceof SwitchboardSystem ? system.publishUrl(ctx) : undefined,
            apiKey: system instanceof SwitchboardSystem ? system.keys.publish : undefined,
          });
          ctx.progress(
            `  ${point.mode} ${point.rate} msg/s → p99 ${step.latencyUs.p99} µs ${step.problems.join('; ')}`,
          );
          values[point.row] = toMs(step);
          details[point.row] = {
            rate: point.rate,
            mode: point.mode,
            latencyUs: step.latencyUs,
            publisherLagUs: step.publish.lag,
            problems: step.problems,
          };
        }
      } finally {
        await gen.quit();
      }
    } finally {
      await handle.stop();
    }
    for (const row of this.rows) values[row.name] ??= 'n/a';
    return {
      values,
      notes: [
        `${n} subscribers in one room; latency = receive time − intended send time, at probe clients; common rate ${Math.round(common)} msg/s`,
      ],
      details,
    };
  },
};
