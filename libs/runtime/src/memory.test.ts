import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { describe, expect, it } from 'vitest';

import { afterNextMajorCollection, ChurnTrimmer, loadHeapTrim, type TrimCause } from './memory.ts';

function rssBytes(): number {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line?.split(/\s+/)[1]) * 1024;
}

/**
 * Allocates 64 MiB in 16 KiB buffers (below glibc's mmap threshold, so on the C heap) and
 * keeps every eighth: once the rest are collected, their memory lies free between chunks in
 * use, where `free` keeps it.
 */
function fragmentCHeap(): Buffer[] {
  const kept: Buffer[] = [];
  for (let i = 0; i < 4096; i++) {
    const buffer = Buffer.allocUnsafeSlow(16 * 1024).fill(i & 0xff);
    if (i % 8 === 0) kept.push(buffer);
  }
  return kept;
}

function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

describe('loadHeapTrim', () => {
  // The machines this project runs on (and CI) are Linux with glibc; elsewhere this would
  // rightly fail, since the gateway would then keep the memory.
  it('returns memory freed between chunks in use to the system', async () => {
    const trim = loadHeapTrim();
    if (typeof trim !== 'function') throw new Error(`no heap trim: ${trim.reason}`);

    const kept = fragmentCHeap();
    // V8 frees the buffers' memory after a collection, partly from another thread.
    for (let i = 0; i < 50 && process.memoryUsage().arrayBuffers > 16 * 1024 * 1024; i++) {
      collectGarbage();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(process.memoryUsage().arrayBuffers).toBeLessThan(16 * 1024 * 1024);
    const before = rssBytes();
    expect(trim()).toBe(true);
    const released = before - rssBytes();
    // 56 MiB were freed; a trim hands back whole pages only, less than the last chunk of each run.
    expect(released).toBeGreaterThan(24 * 1024 * 1024);
    expect(kept.length).toBe(512);
  });
});

describe('afterNextMajorCollection', () => {
  it('calls back once after a major collection, and not after a cancelled wait', async () => {
    let calls = 0;
    let cancelledCalls = 0;
    afterNextMajorCollection(() => calls++);
    const cancel = afterNextMajorCollection(() => cancelledCalls++);
    cancel();
    collectGarbage();
    for (let i = 0; i < 50 && calls === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(calls).toBe(1);
    collectGarbage();
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toBe(1);
    expect(cancelledCalls).toBe(0);
  });
});

describe('ChurnTrimmer', () => {
  function trimmer(threshold: number): { t: ChurnTrimmer; calls: number[] } {
    const calls: number[] = [];
    const t = new ChurnTrimmer(() => true, threshold, { onTrim: ({ churn }) => calls.push(churn) });
    return { t, calls };
  }

  /** A trimmer whose major collections the test runs by calling `collect`. */
  function watchedTrimmer(threshold: number): {
    t: ChurnTrimmer;
    causes: TrimCause[];
    collect: () => void;
    waits: () => number;
  } {
    const causes: TrimCause[] = [];
    let pending: (() => void) | undefined;
    let waits = 0;
    const t = new ChurnTrimmer(() => true, threshold, {
      afterNextMajorCollection: (callback) => {
        waits++;
        pending = callback;
        return () => (pending = undefined);
      },
      onTrim: ({ cause }) => causes.push(cause),
    });
    const collect = (): void => {
      const callback = pending;
      pending = undefined;
      callback?.();
    };
    return { t, causes, collect, waits: () => waits };
  }

  it('trims once the churn reached the threshold and a tick was quiet', () => {
    const { t, calls } = trimmer(100);
    for (let i = 0; i < 99; i++) t.note();
    t.tick();
    expect(calls).toEqual([]); // below the threshold
    for (let i = 0; i < 50; i++) t.note();
    t.tick();
    expect(calls).toEqual([]); // 50 in this tick: still busy
    for (let i = 0; i < 9; i++) t.note();
    t.tick();
    expect(calls).toEqual([158]); // 9 < a tenth of 100: quiet
    t.tick();
    expect(calls).toEqual([158]); // nothing since
    expect(t.trims).toBe(1);
  });

  it('trims after a minute of ticks even while churn goes on', () => {
    const { t, calls } = trimmer(100);
    for (let tick = 0; tick < 60; tick++) {
      for (let i = 0; i < 100; i++) t.note();
      t.tick();
    }
    expect(calls).toEqual([6_000]);
  });

  it('counts churn afresh after a trim at once', () => {
    const { t, calls } = trimmer(100);
    for (let i = 0; i < 150; i++) t.note();
    t.trimNow();
    t.tick();
    expect(calls).toEqual([150]);
    expect(t.trims).toBe(1);
  });

  it('trims once more after the next major collection, and only once', () => {
    const { t, causes, collect } = watchedTrimmer(100);
    for (let i = 0; i < 100; i++) t.note();
    t.tick();
    t.tick(); // quiet
    expect(causes).toEqual(['churn']);
    expect(t.awaitingCollection).toBe(true);
    collect();
    expect(causes).toEqual(['churn', 'collection']);
    expect(t.awaitingCollection).toBe(false);
    collect();
    expect(causes).toEqual(['churn', 'collection']);
  });

  it('waits for one collection however many trims come before it', () => {
    const { t, causes, collect, waits } = watchedTrimmer(100);
    t.trimNow();
    for (let i = 0; i < 100; i++) t.note();
    t.tick();
    t.tick(); // quiet
    expect(waits()).toBe(1);
    collect();
    expect(causes).toEqual(['requested', 'churn', 'collection']);
  });

  it('still trims at the end of a wave that a trim after a collection fell into', () => {
    const { t, causes, collect } = watchedTrimmer(100);
    t.trimNow();
    for (let i = 0; i < 60; i++) t.note();
    t.tick();
    collect(); // mid-wave
    for (let i = 0; i < 60; i++) t.note();
    t.tick();
    t.tick(); // quiet: 120 since the requested trim
    expect(causes).toEqual(['requested', 'collection', 'churn']);
  });

  it('stops waiting when closed', () => {
    const { t, causes, collect } = watchedTrimmer(100);
    t.trimNow();
    t.close();
    expect(t.awaitingCollection).toBe(false);
    collect();
    expect(causes).toEqual(['requested']);
  });
});
