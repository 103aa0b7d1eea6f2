import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import type { BenchResults } from './lib/results.ts';

const RUN = join(import.meta.dirname, 'run.ts');

/** Runs `run.ts --smoke` with extra arguments and environment; returns its exit code and results. */
function smoke(
  args: string[],
  env: Record<string, string> = {},
): { status: number | null; results: BenchResults; stderr: string } {
  const out = join(mkdtempSync(join(tmpdir(), 'bench-smoke-')), 'smoke.json');
  const run = spawnSync(process.execPath, ['--import', 'tsx', RUN, '--smoke', ...args], {
    env: { ...process.env, ...env, BENCH_OUT: out, BENCH_PORT_BASE: '19300' },
    encoding: 'utf8',
    timeout: 150_000,
  });
  return {
    status: run.status,
    results: JSON.parse(readFileSync(out, 'utf8')) as BenchResults,
    stderr: run.stderr,
  };
}

function numbersOf(results: BenchResults, row: string): Array<[string, unknown]> {
  const found = results.scenarios.find((s) => s.name === row);
  return Object.entries(found?.systems ?? {}).filter(
    ([, v]) => typeof v !== 'string' || !v.startsWith('unavailable'),
  );
}

describe('bench smoke run', () => {
  it('delivers every event to every subscriber, in order, on every system that runs', () => {
    const { status, results, stderr } = smoke([]);

    expect(stderr).not.toMatch(/^smoke failure:/m);
    expect(status).toBe(0);
    for (const row of ['fan-out', 'many topics']) {
      const cells = numbersOf(results, row);
      expect(cells.length).toBeGreaterThanOrEqual(3);
      for (const [, value] of cells) expect(typeof value).toBe('number');
    }
  }, 180_000);

  it('fails when a server loses deliveries', () => {
    const { status, results } = smoke(['--systems', 'uws', '--scenarios', 'fan-out'], {
      BENCH_DROP_EVERY: '7',
    });

    expect(status).toBe(1);
    const cell = results.scenarios.find((s) => s.name === 'fan-out')?.systems.uws;
    expect(cell).toMatch(/lost \d+ deliveries/);
  }, 180_000);
});
