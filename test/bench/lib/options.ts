import { dirname, join } from 'node:path';

import { SYSTEM_NAMES, type SystemName } from '../systems/types.ts';
import type { Sizes } from './sizes.ts';

/** Command line of `run.ts`. */
export interface RunOptions {
  readonly mode: Sizes['mode'];
  readonly systems: readonly SystemName[];
  /** Scenario ids to run; empty: all. */
  readonly scenarios: readonly string[];
  readonly out: string;
  readonly chartDir: string;
  /**
   * CPU-profile the Switchboard gateway at its fan-out knee and in a storm wave: by default
   * in full runs, in quick ones with `--profile` (they would not fit in 3 minutes).
   */
  readonly cpuProfile: boolean;
  /** Run Switchboard's auth, channel-authorizer and publisher under `node --cpu-prof`. */
  readonly profileServices: boolean;
  /** Write heap snapshots of each Node server before and after the idle connections open. */
  readonly heapSnapshot: boolean;
  /** Move the kernel threads that may run anywhere off the server core for the run. */
  readonly isolate: boolean;
  readonly portBase: number;
}

const USAGE = `usage: tsx test/bench/run.ts [--quick | --smoke] [--systems a,b] [--scenarios x,y]
       [--profile | --no-profile] [--profile-services] [--heap-snapshot] [--no-isolate]
  env: BENCH_OUT (results JSON), BENCH_PORT_BASE (default 19100),
       BENCH_SERVER_CPU / BENCH_LOAD_CPUS (taskset core lists, default 1 / 0)`;

/** Raised for a bad command line; the message is the usage text. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Parses argv (without node and script) and the BENCH_* environment. */
export function parseOptions(argv: readonly string[], benchDir: string): RunOptions {
  let mode: Sizes['mode'] = 'full';
  let systems: SystemName[] = [...SYSTEM_NAMES];
  let scenarios: string[] = [];
  let cpuProfile: boolean | undefined;
  let profileServices = false;
  let heapSnapshot = false;
  let isolate = true;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.split('=', 2) as [string, string | undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    if (flag === '--quick') mode = 'quick';
    else if (flag === '--smoke') mode = 'smoke';
    else if (flag === '--full') mode = 'full';
    else if (flag === '--profile') cpuProfile = true;
    else if (flag === '--no-profile') cpuProfile = false;
    else if (flag === '--profile-services') profileServices = true;
    else if (flag === '--heap-snapshot') heapSnapshot = true;
    else if (flag === '--no-isolate') isolate = false;
    else if (flag === '--systems') {
      const wanted = list(value());
      const unknown = wanted.filter((s) => !(SYSTEM_NAMES as readonly string[]).includes(s));
      if (unknown.length > 0)
        throw new UsageError(`unknown system ${unknown.join(', ')}\n${USAGE}`);
      systems = wanted as SystemName[];
    } else if (flag === '--scenarios') scenarios = list(value());
    else throw new UsageError(`unknown option ${arg}\n${USAGE}`);
  }
  // Smoke runs check correctness only: the scenarios that count every delivery.
  if (mode === 'smoke' && scenarios.length === 0) scenarios = ['fan-out', 'many-topics'];
  const defaultOut = mode === 'smoke' ? 'results/smoke.json' : 'results/latest.json';
  const out = process.env.BENCH_OUT ?? join(benchDir, defaultOut);
  return {
    mode,
    systems,
    scenarios,
    out,
    // Beside the results, so that a run with its own BENCH_OUT leaves the committed charts be.
    chartDir: dirname(out),
    cpuProfile: (cpuProfile ?? mode === 'full') && mode !== 'smoke',
    profileServices,
    heapSnapshot,
    isolate,
    portBase: Number(process.env.BENCH_PORT_BASE ?? 19100),
  };
}
