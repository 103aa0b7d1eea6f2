import type { ServerHandle } from '../systems/types.ts';
import type { BenchContext } from './context.ts';
import type { CountReport, Loadgen, Percentiles } from './loadgen.ts';
import { busyOfCore, startCpuWindow, type CpuWindow } from './procfs.ts';
import type { PublishJob, PublishResult, RoomSequences } from './publish.ts';

/** A generator using more than this share of its core is the bottleneck, not the server. */
export const GENERATOR_BOUND = 0.9;

/** One open-loop publishing step against subscribers that are already connected. */
export interface StepSpec {
  readonly rate: number;
  readonly durationS: number;
  readonly rooms: readonly string[];
  /** Full-speed subscribers per room, in the order of `rooms`. */
  readonly fastSubscribers: readonly number[];
  readonly mode?: PublishJob['mode'];
  readonly httpUrl?: string;
  readonly apiKey?: string;
  /** More processes whose CPU the step reports, by name (e.g. Switchboard's publisher service). */
  readonly alsoWatch?: Readonly<Record<string, number>>;
}

/** What one step measured, and whether it counts as a result. */
export interface StepResult {
  readonly rate: number;
  readonly published: number;
  readonly expected: number;
  readonly delivered: number;
  readonly loss: number;
  readonly deliveriesPerS: number;
  readonly deliveriesPerCpuS: number;
  readonly serverCpu: number;
  readonly generatorCpu: number;
  /** Share of a core each watched process used: server, generator, nats, benchPublisher, benchHttpClient, `alsoWatch`. */
  readonly cpuShares: Record<string, number>;
  readonly coreBusy: Record<string, number>;
  /** Share of the server's core used by processes other than the server (other users, the kernel). */
  readonly foreignLoad: number;
  readonly latencyUs: Percentiles;
  readonly counters: CountReport;
  readonly publish: PublishResult;
  /** Why the step is not a result (loss, disorder, a bound generator), empty if it is one. */
  readonly problems: readonly string[];
}

/**
 * Polls the generator until the expected deliveries arrived or they stop coming;
 * also returns when (performance.now()) the count last moved.
 */
async function drain(
  gen: Loadgen,
  expected: number,
): Promise<{ counters: CountReport; lastChange: number }> {
  const quietMs = 1000;
  let last = await gen.report();
  let lastChange = performance.now();
  while (last.fast + last.probe < expected && performance.now() - lastChange < quietMs) {
    await new Promise((r) => setTimeout(r, 25));
    const next = await gen.report();
    if (next.fast + next.probe !== last.fast + last.probe) lastChange = performance.now();
    last = next;
  }
  return { counters: last, lastChange };
}

/**
 * Order is checked only when one publisher writes straight to NATS: concurrent HTTP
 * or request publishes may reach the publisher service in any order.
 */
function problemsOf(
  c: CountReport,
  loss: number,
  cpu: CpuWindow,
  pub: PublishResult,
  ordered: boolean,
): string[] {
  const problems: string[] = [];
  if (loss > 0) problems.push(`lost ${loss} deliveries`);
  if (loss < 0) problems.push(`${-loss} deliveries more than published`);
  if (ordered && c.order_errors > 0) problems.push(`${c.order_errors} out of order`);
  if (ordered && c.gaps > 0) problems.push(`${c.gaps} sequence gaps at probes`);
  if (c.duplicates > 0) problems.push(`${c.duplicates} duplicates at probes`);
  if (c.bad_payload > 0) problems.push(`${c.bad_payload} malformed payloads`);
  if (c.closed_fast > 0) problems.push(`${c.closed_fast} fast clients closed`);
  if (pub.errors > 0) problems.push(`${pub.errors} publish errors (${pub.firstError})`);
  const genShare = (cpu.seconds.generator ?? 0) / cpu.wallSeconds;
  if (genShare > GENERATOR_BOUND)
    problems.push(`generator-bound (${Math.round(genShare * 100)} % of its core)`);
  return problems;
}

function foreignLoad(ctx: BenchContext, cpu: CpuWindow, serverCpuS: number): number {
  const busy = busyOfCore(ctx.cpus.server, cpu.coreBusy) ?? 0;
  return Math.max(0, busy - serverCpuS / cpu.wallSeconds);
}

/** Publishes at a fixed rate, waits for the deliveries, and checks them. */
export async function runStep(
  ctx: BenchContext,
  handle: ServerHandle,
  gen: Loadgen,
  sequences: RoomSequences,
  spec: StepSpec,
): Promise<StepResult> {
  await gen.mark();
  const job: PublishJob = {
    mode: spec.mode ?? 'nats',
    natsUrl: ctx.nats.url,
    subjectPrefix: handle.subjectPrefix,
    httpUrl: spec.httpUrl,
    apiKey: spec.apiKey,
    rooms: spec.rooms,
    rate: spec.rate,
    durationS: spec.durationS,
    seqStart: sequences.starts(spec.rooms),
    padBytes: ctx.sizes.padBytes,
    concurrency: 64,
  };
  const endCpu = startCpuWindow({
    server: handle.server.pid,
    generator: gen.pid,
    nats: ctx.nats.process.pid,
    ...ctx.publisher.pids,
    ...spec.alsoWatch,
  });
  const publish = await ctx.publisher.run(job);
  const publishedAt = performance.now();
  sequences.advance(spec.rooms, publish.perRoom);
  const expected = publish.perRoom.reduce(
    (sum, n, i) => sum + n * (spec.fastSubscribers[i] ?? 0),
    0,
  );
  const { counters, lastChange } = await drain(gen, expected);
  const cpu = endCpu();

  const delivered = counters.fast + counters.probe;
  const loss = expected - delivered;
  const serverCpuS = cpu.seconds.server ?? 0;
  return {
    rate: spec.rate,
    published: publish.sent,
    expected,
    delivered,
    loss,
    deliveriesPerS: delivered / (publish.durationS + Math.max(0, lastChange - publishedAt) / 1000),
    deliveriesPerCpuS: serverCpuS > 0 ? delivered / serverCpuS : 0,
    serverCpu: serverCpuS / cpu.wallSeconds,
    generatorCpu: (cpu.seconds.generator ?? 0) / cpu.wallSeconds,
    cpuShares: Object.fromEntries(
      Object.entries(cpu.seconds).map(([name, s]) => [
        name,
        Number((s / cpu.wallSeconds).toFixed(3)),
      ]),
    ),
    coreBusy: cpu.coreBusy,
    foreignLoad: foreignLoad(ctx, cpu, serverCpuS),
    latencyUs: counters.latency_us,
    counters,
    publish,
    problems: problemsOf(counters, loss, cpu, publish, job.mode === 'nats'),
  };
}

/** An unrecorded short step so JIT warm-up and first-use allocations are not measured. */
export async function warmUp(
  ctx: BenchContext,
  handle: ServerHandle,
  gen: Loadgen,
  sequences: RoomSequences,
  spec: Omit<StepSpec, 'durationS' | 'rate'>,
): Promise<void> {
  const rate = Math.max(spec.rooms.length, ctx.sizes.fanoutStartRate);
  await runStep(ctx, handle, gen, sequences, {
    ...spec,
    rate,
    durationS: ctx.sizes.mode === 'smoke' ? 0.2 : 0.5,
  });
}
