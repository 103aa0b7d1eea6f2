import { join } from 'node:path';

import type { BenchContext } from '../lib/context.ts';
import { collectAndMeasureHeap, writeHeapSnapshot, type HeapUsage } from '../lib/inspector.ts';
import {
  processAgeSeconds,
  processRssByKind,
  processRssBytes,
  startCpuWindow,
  tcpSocketMemory,
  type RssByKind,
} from '../lib/procfs.ts';
import { connectSubscribers } from '../lib/subscribers.ts';
import type { ServerHandle, SystemUnderTest } from '../systems/types.ts';
import { invalid, type Outcome, type Scenario } from './types.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Snapshot {
  readonly rss: number;
  readonly rssByKind: RssByKind;
  readonly heap?: HeapUsage;
  readonly socketBytes: number;
}

/**
 * Forces a GC and reads the heap; then, after `Sizes.idleAfterGcS` and once RSS has held
 * steady, reads RSS, so that memory the collection freed and the process gives back soon
 * after is not counted. Returns the seconds it waited.
 */
async function snapshot(ctx: BenchContext, handle: ServerHandle): Promise<[Snapshot, number]> {
  const url = handle.server.inspectorUrl;
  const heap = url ? await collectAndMeasureHeap(url) : undefined;
  const { pid } = handle.server;
  const { idleAfterGcS, idleAfterGcSteadyS } = ctx.sizes;
  const waitedS = await settle(pid, performance.now(), idleAfterGcS, idleAfterGcSteadyS);
  const reading = {
    rss: processRssBytes(pid),
    rssByKind: processRssByKind(pid),
    heap,
    socketBytes: tcpSocketMemory().bytes,
  };
  return [reading, waitedS];
}

/** RSS changes within this count as steady. */
const STEADY_RSS_BYTES = 256 * 1024;
const MAX_STEADY_WAIT_MS = 10_000;

/**
 * Waits until `restS` have passed since `since` (ms, `performance.now()`) and the server's
 * RSS has then held steady for `steadyS` (10 s more at most), so that memory the process
 * is about to give back is not counted (see `Sizes.idleBaselineAgeS`). Returns the
 * seconds waited.
 */
async function settle(pid: number, since: number, restS: number, steadyS: number): Promise<number> {
  const started = performance.now();
  const rest = since + restS * 1000 - started;
  if (rest > 0) await sleep(rest);
  const deadline = performance.now() + MAX_STEADY_WAIT_MS;
  let steadySince = performance.now();
  let last = processRssBytes(pid);
  while (performance.now() - steadySince < steadyS * 1000 && performance.now() < deadline) {
    await sleep(250);
    const rss = processRssBytes(pid);
    if (Math.abs(rss - last) > STEADY_RSS_BYTES) steadySince = performance.now();
    last = rss;
  }
  return (performance.now() - started) / 1000;
}

/**
 * With `--heap-snapshot`, a snapshot after the measurement (which it must not disturb); the
 * memory V8 uses to build it stays with the process, so that run's RSS figure is inflated.
 */
async function maybeWriteHeapSnapshot(
  ctx: BenchContext,
  handle: ServerHandle,
  when: 'before' | 'after',
): Promise<string | undefined> {
  const url = handle.server.inspectorUrl;
  if (!ctx.heapSnapshot || !url) return undefined;
  const path = join(ctx.artefactDir, `idle-${handle.system}-${when}.heapsnapshot`);
  await writeHeapSnapshot(url, path);
  ctx.progress(`heap snapshot: ${path}`);
  return path;
}

/** Scenario 1: connections with a personal and a shared subscription, doing nothing. */
export const idle: Scenario = {
  id: 'idle',
  title: 'Idle connections: memory and CPU',
  rows: [
    { name: 'idle RSS per connection', unit: 'bytes', better: 'lower' },
    { name: 'idle heap per connection', unit: 'bytes', better: 'lower' },
    { name: 'idle CPU', unit: '% of a core', better: 'lower' },
  ],
  async run(ctx: BenchContext, system: SystemUnderTest): Promise<Outcome> {
    const first = await measureIdle(ctx, system);
    const release = foreignRelease(ctx, first);
    if (!release) return first;
    ctx.progress(`  ${release}; measuring again`);
    const second = await measureIdle(ctx, system);
    const again = foreignRelease(ctx, second);
    const notes = [`first attempt not a result: ${release}`, ...second.notes];
    if (!again) return { ...second, notes };
    return {
      ...second,
      values: { ...second.values, 'idle RSS per connection': invalid(again) },
      notes,
    };
  },
};

interface IdleOutcome extends Outcome {
  readonly perConnection: {
    readonly rss: number;
    readonly anonymous: number;
    readonly heap: number | undefined;
  };
}

/**
 * The V8 heap lives in anonymous mappings, so neither those nor the RSS can grow less than
 * the heap did unless the process gave back memory of its own between the readings (a
 * step of 14-17 MB in the gateway's V8 pages, in some runs before the baseline and in
 * others after it, whatever the waits): the RSS figure then counts that release as a
 * saving of the connections.
 * Returns why, or undefined. Smoke runs have too few connections to tell.
 */
function foreignRelease(ctx: BenchContext, outcome: IdleOutcome): string | undefined {
  const { rss, anonymous, heap } = outcome.perConnection;
  if (ctx.sizes.mode === 'smoke' || heap === undefined) return undefined;
  const short = heap - SLACK_BYTES;
  if (anonymous >= short && rss >= short) return undefined;
  const what = anonymous < short ? `anonymous memory grew ${anonymous}` : `RSS grew ${rss}`;
  return `${what} bytes per connection, less than the V8 heap's ${heap}: the process gave back memory of its own between the readings`;
}

/** Each connection's rooms: one of its own and one all share. */
const ROOMS = ['p{i}', 'shared'];

/** The warm-up wave before the baseline, as a share of the measured connections. */
const WARM_UP_SHARE = 0.1;

/** How far growth may fall short of the heap's (page rounding, other arenas). */
const SLACK_BYTES = 100;

async function measureIdle(ctx: BenchContext, system: SystemUnderTest): Promise<IdleOutcome> {
  const n = ctx.sizes.idleConns;
  const handle = await system.start(ctx, { inspect: true });
  try {
    const { pid } = handle.server;
    const startedAt = performance.now() - processAgeSeconds(pid) * 1000;
    const { idleBaselineAgeS, idleRestS, idleSteadyS } = ctx.sizes;
    // A first, smaller wave that opens and closes: what any first connections cost once
    // (compiling their code path, growing V8's young generation, the memory a server gives
    // back after its first busy period) then falls before the baseline.
    const warmUpConns = Math.ceil(n * WARM_UP_SHARE);
    const { gen: warmUp } = await connectSubscribers(ctx, handle, {
      conns: warmUpConns,
      probes: 0,
      rooms: ROOMS,
    });
    await warmUp.quit();
    const warmedAt = performance.now();
    await settle(pid, startedAt, idleBaselineAgeS, 0);
    // At least the rest after the last connection that the second reading gets, too.
    await settle(pid, warmedAt, idleRestS, idleSteadyS);
    const baselineAgeS = processAgeSeconds(pid);
    const [before, beforeWaitS] = await snapshot(ctx, handle);
    const beforeSnapshot = await maybeWriteHeapSnapshot(ctx, handle, 'before');
    const { gen } = await connectSubscribers(ctx, handle, {
      conns: n,
      probes: 0,
      rooms: ROOMS,
    });
    try {
      const afterS = await settle(pid, performance.now(), idleRestS, idleSteadyS);
      const [after, afterWaitS] = await snapshot(ctx, handle);
      const afterSnapshot = await maybeWriteHeapSnapshot(ctx, handle, 'after');
      const endCpu = startCpuWindow({ server: handle.server.pid });
      await sleep(ctx.sizes.idleCpuS * 1000);
      const cpu = endCpu();

      const perConn = (a: number, b: number): number => Math.round((a - b) / n);
      const heapPerConn =
        after.heap && before.heap
          ? perConn(after.heap.usedBytes, before.heap.usedBytes)
          : undefined;
      const notes = [
        `${n} connections, 2 subscriptions each; after a forced GC through the inspector, minus the idle process (after a warm-up wave of ${warmUpConns} that opened and closed); GCs ${baselineAgeS.toFixed(1)} s after the server started and ${afterS.toFixed(1)} s after the last connection, once its RSS held steady; RSS read ${beforeWaitS.toFixed(1)} and ${afterWaitS.toFixed(1)} s after each GC`,
        `kernel TCP memory ${perConn(after.socketBytes, before.socketBytes)} bytes per connection (client and server ends, both on this machine)`,
        `RSS per connection by kind: malloc heap ${perConn(after.rssByKind.mallocHeap, before.rssByKind.mallocHeap)}, anonymous mappings (V8 heap pages, ...) ${perConn(after.rssByKind.anonymous, before.rssByKind.anonymous)}, files ${perConn(after.rssByKind.files, before.rssByKind.files)} bytes`,
      ];
      if (afterSnapshot)
        notes.push(
          `heap snapshots taken: RSS is inflated; per connection: npx tsx test/bench/lib/heap-summary.ts ${beforeSnapshot} ${afterSnapshot} --per ${n}`,
        );
      return {
        perConnection: {
          rss: perConn(after.rss, before.rss),
          anonymous: perConn(after.rssByKind.anonymous, before.rssByKind.anonymous),
          heap: heapPerConn,
        },
        values: {
          'idle RSS per connection': perConn(after.rss, before.rss),
          'idle heap per connection': heapPerConn ?? 'unavailable: no inspector',
          'idle CPU': Math.round(((cpu.seconds.server ?? 0) / cpu.wallSeconds) * 1000) / 10,
        },
        notes,
        details: {
          connections: n,
          before,
          after,
          idleCpuSeconds: cpu.seconds.server,
          wallSeconds: cpu.wallSeconds,
        },
      };
    } finally {
      await gen.quit();
    }
  } finally {
    await handle.stop();
  }
}
