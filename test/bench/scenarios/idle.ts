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
import type { Outcome, Scenario } from './types.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Snapshot {
  readonly rss: number;
  readonly rssByKind: RssByKind;
  readonly heap?: HeapUsage;
  readonly socketBytes: number;
}

async function snapshot(handle: ServerHandle): Promise<Snapshot> {
  const url = handle.server.inspectorUrl;
  const heap = url ? await collectAndMeasureHeap(url) : undefined;
  const { pid } = handle.server;
  return {
    rss: processRssBytes(pid),
    rssByKind: processRssByKind(pid),
    heap,
    socketBytes: tcpSocketMemory().bytes,
  };
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
    const n = ctx.sizes.idleConns;
    const handle = await system.start(ctx, { inspect: true });
    try {
      const { pid } = handle.server;
      const startedAt = performance.now() - processAgeSeconds(pid) * 1000;
      const { idleBaselineAgeS, idleRestS, idleSteadyS } = ctx.sizes;
      await settle(pid, startedAt, idleBaselineAgeS, idleSteadyS);
      const baselineAgeS = processAgeSeconds(pid);
      const before = await snapshot(handle);
      const beforeSnapshot = await maybeWriteHeapSnapshot(ctx, handle, 'before');
      const { gen } = await connectSubscribers(ctx, handle, {
        conns: n,
        probes: 0,
        rooms: ['p{i}', 'shared'],
      });
      try {
        const afterS = await settle(pid, performance.now(), idleRestS, idleSteadyS);
        const after = await snapshot(handle);
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
          `${n} connections, 2 subscriptions each; after a forced GC through the inspector, minus the idle process; readings ${baselineAgeS.toFixed(1)} s after the server started and ${afterS.toFixed(1)} s after the last connection, once its RSS held steady`,
          `kernel TCP memory ${perConn(after.socketBytes, before.socketBytes)} bytes per connection (client and server ends, both on this machine)`,
          `RSS per connection by kind: malloc heap ${perConn(after.rssByKind.mallocHeap, before.rssByKind.mallocHeap)}, anonymous mappings (V8 heap pages, ...) ${perConn(after.rssByKind.anonymous, before.rssByKind.anonymous)}, files ${perConn(after.rssByKind.files, before.rssByKind.files)} bytes`,
        ];
        if (afterSnapshot)
          notes.push(
            `heap snapshots taken: RSS is inflated; per connection: npx tsx test/bench/lib/heap-summary.ts ${beforeSnapshot} ${afterSnapshot} --per ${n}`,
          );
        return {
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
  },
};
