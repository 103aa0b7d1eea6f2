import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
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
    // A random port base, so a leftover process or a parallel job cannot collide with this run.
    env: {
      ...process.env,
      ...env,
      BENCH_OUT: out,
      BENCH_PORT_BASE: String(20_000 + Math.floor(Math.random() * 20_000)),
    },
    encoding: 'utf8',
    timeout: 150_000,
  });
  if (!existsSync(out))
    throw new Error(`the smoke run wrote no results (status ${run.status}):\n${run.stderr}`);
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
      expect(cells.map(([system]) => system).sort()).toEqual([
        'socketio',
        'switchboard',
        'uws',
        'ws',
      ]);
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
