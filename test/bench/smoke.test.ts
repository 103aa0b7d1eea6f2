import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import type { BenchResults } from './lib/results.ts';

const RUN = join(import.meta.dirname, 'run.ts');

/**
 * A random port base below Linux's ephemeral range (32768 and up), where the outgoing connections of
 * the tests running beside this one take their ports; five ports from it are used.
 */
function randomPortBase(): number {
  return 10_000 + Math.floor(Math.random() * 22_000);
}

/** Runs `run.ts --smoke` with extra arguments and environment; returns its exit code and results. */
function smoke(
  args: string[],
  env: Record<string, string> = {},
): { status: number | null; results: BenchResults; stderr: string } {
  const out = join(mkdtempSync(join(tmpdir(), 'bench-smoke-')), 'smoke.json');
  // The bench checks its ports before it binds them and exits with 2 when one is taken; another
  // process may still hold one, so a taken port means another base, up to three times.
  for (let attempt = 1; ; attempt++) {
    const run = spawnSync(process.execPath, ['--import', 'tsx', RUN, '--smoke', ...args], {
      env: { ...process.env, ...env, BENCH_OUT: out, BENCH_PORT_BASE: String(randomPortBase()) },
      encoding: 'utf8',
      timeout: 150_000,
    });
    if (!existsSync(out)) {
      if (attempt < 3 && /is in use; pick other ports/.test(run.stderr)) continue;
      throw new Error(`the smoke run wrote no results (status ${run.status}):\n${run.stderr}`);
    }
    return {
      status: run.status,
      results: JSON.parse(readFileSync(out, 'utf8')) as BenchResults,
      stderr: run.stderr,
    };
  }
}

/** The part of an ingress step's details this test reads. */
interface IngressStep {
  readonly rate: number;
  readonly achieved: number;
  readonly loss: number;
  readonly problems: readonly string[];
  readonly responseUs: { readonly p50: number };
  readonly serviceUs: { readonly p50: number };
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

  it('publishes over HTTP with sbhttp: every event arrives, each request answered', () => {
    const { status, results, stderr } = smoke([
      '--systems',
      'switchboard',
      '--scenarios',
      'ingress',
    ]);

    expect(stderr).not.toMatch(/^smoke failure:/m);
    expect(status).toBe(0);
    const row = results.scenarios.find((s) => s.name.startsWith('ingress'));
    const { steps } = row?.details?.switchboard as { steps: IngressStep[] };
    expect(steps).toHaveLength(1);
    const [step] = steps;
    expect(step).toMatchObject({ rate: 200, loss: 0, problems: [] });
    expect(step!.achieved).toBeGreaterThan(150);
    expect(step!.responseUs.p50).toBeGreaterThan(0);
    expect(step!.serviceUs.p50).toBeGreaterThan(0);
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
