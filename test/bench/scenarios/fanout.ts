import type { BenchContext } from '../lib/context.ts';
import { recordProfile } from '../lib/flamegraph.ts';
import { profileDuring } from '../lib/inspector.ts';
import { RoomSequences } from '../lib/publish.ts';
import { runStep, warmUp, type StepResult } from '../lib/step.ts';
import { connectSubscribers } from '../lib/subscribers.ts';
import type { SystemUnderTest } from '../systems/types.ts';
import { invalid, type Outcome, type Scenario, type SharedResults } from './types.ts';

/** A step counts when nothing was lost or reordered and p99 stayed under this. */
const P99_LIMIT_US = 50_000;
const ROOM = 'r1';

function stepSummary(s: StepResult): Record<string, unknown> {
  return {
    rate: s.rate,
    published: s.published,
    deliveriesPerS: Math.round(s.deliveriesPerS),
    deliveriesPerCpuS: Math.round(s.deliveriesPerCpuS),
    loss: s.loss,
    p50Us: s.latencyUs.p50,
    p99Us: s.latencyUs.p99,
    p999Us: s.latencyUs.p999,
    maxUs: s.latencyUs.max,
    serverCpu: Number(s.serverCpu.toFixed(3)),
    generatorCpu: Number(s.generatorCpu.toFixed(3)),
    foreignLoadOnServerCore: Number(s.foreignLoad.toFixed(3)),
    coreBusy: s.coreBusy,
    publisherLagP99Us: s.publish.lag.p99,
    problems: s.problems,
  };
}

/** A step that is a result: correct, generator not bound, p99 under the limit. */
export function passes(s: StepResult): boolean {
  return s.problems.length === 0 && s.latencyUs.p99 < P99_LIMIT_US;
}

/**
 * Other processes' share of the server core above which a failed step says more about
 * them than about the server: such a step is run once more before it counts as the knee.
 */
const FOREIGN_LOAD_RETRY = 0.1;

/**
 * A step that failed and was run once more, and how that went: one that failed while other
 * processes held the server core, or a doubling step that missed the p99 limit narrowly.
 */
interface Retry {
  readonly rate: number;
  readonly reason: 'foreign load' | 'narrow miss';
  readonly foreignLoad: number;
  readonly p99Us: number;
  readonly passedOnRetry: boolean;
}

function spoiledByForeignLoad(s: StepResult): boolean {
  const bound = s.problems.some((p) => p.startsWith('generator-bound'));
  return !passes(s) && !bound && s.foreignLoad > FOREIGN_LOAD_RETRY;
}

/**
 * A step that failed on its p99 alone, by less than the limit again. One stall of the
 * machine of 30–50 ms does that to a short step at any rate (at 1,000 subscribers and 100
 * msg/s a stall delays more than 1 % of the probes' frames), while a server past its knee
 * misses by more: 80–730 ms in the quick runs of 2026-12-03 and 2026-12-04.
 */
function missedNarrowly(s: StepResult): boolean {
  return (
    s.problems.length === 0 && s.latencyUs.p99 >= P99_LIMIT_US && s.latencyUs.p99 < 2 * P99_LIMIT_US
  );
}

/** Bisection steps after the doubling has found a failing rate. */
const MAX_BISECTIONS = 3;

/** Steps the publish rate up (doubling, then bisection) until a step fails. */
async function findKnee(
  ctx: BenchContext,
  run: (rate: number) => Promise<StepResult>,
): Promise<{ best?: StepResult; firstFail?: StepResult; steps: StepResult[]; retries: Retry[] }> {
  const steps: StepResult[] = [];
  const retries: Retry[] = [];
  const measure = async (rate: number): Promise<StepResult> => {
    const step = await run(rate);
    steps.push(step);
    ctx.progress(
      `  ${rate} msg/s → ${Math.round(step.deliveriesPerS)} deliveries/s, p99 ${step.latencyUs.p99} µs, foreign load ${Math.round(step.foreignLoad * 100)} % ${step.problems.join('; ')}`,
    );
    return step;
  };
  /** Measures `rate`; runs it once more if it failed for a reason that may not be the server's. */
  const measureOnce = async (rate: number, retryNarrowMiss: boolean): Promise<StepResult> => {
    const first = await measure(rate);
    const reason = spoiledByForeignLoad(first)
      ? 'foreign load'
      : retryNarrowMiss && missedNarrowly(first)
        ? 'narrow miss'
        : undefined;
    if (!reason) return first;
    ctx.progress(`  ${reason} at ${rate} msg/s: running it again`);
    const again = await measure(rate);
    const { foreignLoad, latencyUs } = first;
    retries.push({ rate, reason, foreignLoad, p99Us: latencyUs.p99, passedOnRetry: passes(again) });
    return again;
  };

  let best: StepResult | undefined;
  let firstFail: StepResult | undefined;
  let rate = ctx.sizes.fanoutStartRate;
  // The doubling ends on the first failed step, and an early end costs half the result or
  // more, so a narrow miss there is run again; one in the bisection costs at most the rest
  // of the bracket.
  for (let i = 0; i < ctx.sizes.fanoutMaxSteps; i++) {
    const step = await measureOnce(rate, ctx.sizes.mode !== 'smoke');
    if (!passes(step)) {
      firstFail = step;
      break;
    }
    best = step;
    rate *= 2;
  }
  // Bisect until the knee is known to within an eighth of the best rate (at most three
  // steps): with one bisection the result could sit a third below the knee, so two systems
  // whose knees were close could come out 1.5 times apart.
  let fail = firstFail;
  for (let i = 0; best && fail && ctx.sizes.mode !== 'smoke' && i < MAX_BISECTIONS; i++) {
    if (fail.rate - best.rate <= best.rate / 8) break;
    const step = await measureOnce(Math.round((best.rate + fail.rate) / 2), false);
    if (passes(step)) best = step;
    else fail = step;
  }
  return { best, firstFail, steps, retries };
}

function retryNote({ rate, reason, foreignLoad, p99Us, passedOnRetry }: Retry): string {
  const outcome = passedOnRetry ? 'passed when run again' : 'failed again';
  if (reason === 'narrow miss')
    return `the step at ${rate} msg/s failed with a p99 of ${p99Us} µs, under twice the limit, and ${outcome}`;
  const share = Math.round(foreignLoad * 100);
  return `the step at ${rate} msg/s failed while other processes used ${share} % of the server core, and ${outcome}`;
}

/** Re-runs the knee step with the V8 sampler on, through the inspector so start-up is left out. */
async function profileAtKnee(
  ctx: BenchContext,
  system: SystemUnderTest,
  rate: number,
): Promise<unknown> {
  const n = ctx.sizes.fanoutSubscribers;
  const handle = await system.start(ctx, { inspect: true });
  try {
    const { gen } = await connectSubscribers(ctx, handle, { conns: n, probes: 0, rooms: [ROOM] });
    try {
      const sequences = new RoomSequences();
      const spec = { rooms: [ROOM], fastSubscribers: [n] };
      await warmUp(ctx, handle, gen, sequences, spec);
      const url = handle.server.inspectorUrl;
      if (!url) return { profile: 'no inspector URL' };
      const profile = await profileDuring(url, () =>
        runStep(ctx, handle, gen, sequences, { ...spec, rate, durationS: ctx.sizes.stepS }),
      );
      const title = `${system.name} gateway, fan-out to ${n} subscribers at ${rate} msg/s`;
      return { rate, ...recordProfile(ctx.artefactDir, `fan-out-${system.name}`, title, profile) };
    } finally {
      await gen.quit();
    }
  } finally {
    await handle.stop();
  }
}

/** Scenario 2: one hot room, many subscribers, publish rate stepped to the knee. */
export const fanout: Scenario = {
  id: 'fan-out',
  title: 'Fan-out: one room, many subscribers',
  rows: [
    { name: 'fan-out', unit: 'deliveries/s', better: 'higher' },
    { name: 'fan-out per server CPU-second', unit: 'deliveries/CPU-s', better: 'higher' },
  ],
  async run(ctx: BenchContext, system: SystemUnderTest, shared: SharedResults): Promise<Outcome> {
    const n = ctx.sizes.fanoutSubscribers;
    const handle = await system.start(ctx, {});
    let knee: Awaited<ReturnType<typeof findKnee>>;
    try {
      const { gen } = await connectSubscribers(ctx, handle, {
        conns: n,
        probes: ctx.sizes.probes,
        rooms: [ROOM],
      });
      try {
        const sequences = new RoomSequences();
        await warmUp(ctx, handle, gen, sequences, { rooms: [ROOM], fastSubscribers: [n] });
        const step = (rate: number): Promise<StepResult> =>
          runStep(ctx, handle, gen, sequences, {
            rate,
            durationS: ctx.sizes.stepS,
            rooms: [ROOM],
            fastSubscribers: [n],
          });
        knee = await findKnee(ctx, step);
      } finally {
        await gen.quit();
      }
    } finally {
      await handle.stop();
    }

    const notes: string[] = [`${n} subscribers, events published straight to NATS (pre-encoded)`];
    const { best, firstFail, steps, retries } = knee;
    notes.push(...retries.map(retryNote));
    const details: Record<string, unknown> = {
      subscribers: n,
      steps: steps.map(stepSummary),
      retries,
    };
    if (!best) {
      const why = firstFail?.problems.join('; ') || `p99 ${firstFail?.latencyUs.p99} µs`;
      return {
        values: { 'fan-out': invalid(why), 'fan-out per server CPU-second': invalid(why) },
        notes,
        details,
      };
    }
    shared.fanoutKnee[system.name] = best.rate;
    if (!firstFail) notes.push('knee not reached: the value is a lower bound');
    if (best.foreignLoad > 0.1) {
      notes.push(
        `other processes used ${Math.round(best.foreignLoad * 100)} % of the server core during the best step`,
      );
    }
    const bound = firstFail?.problems.find((p) => p.startsWith('generator-bound'));
    if (bound) notes.push(`search stopped by a ${bound} step: the value is a lower bound`);
    if (ctx.cpuProfile && system.name === 'switchboard') {
      details.profile = await profileAtKnee(ctx, system, best.rate);
    }
    const value = bound
      ? `≥ ${Math.round(best.deliveriesPerS)} (generator-bound above)`
      : Math.round(best.deliveriesPerS);
    return {
      values: {
        'fan-out': value,
        'fan-out per server CPU-second': Math.round(best.deliveriesPerCpuS),
      },
      notes,
      details,
    };
  },
};
