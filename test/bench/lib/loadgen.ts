import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { StartError } from './process.ts';

const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
const LOADGEN_DIR = join(BENCH_DIR, 'loadgen');
/** Where the generator binary goes; test/bench/bin is gitignored. */
export const LOADGEN_BIN = join(BENCH_DIR, 'bin', 'sbload');
/** The open-loop HTTP publisher (loadgen/httppub.c), built with it. */
export const HTTP_PUBLISHER_BIN = join(BENCH_DIR, 'bin', 'sbhttp');

/** Builds the C load generator and HTTP publisher with make (a no-op when they are up to date). */
export function buildLoadgen(): void {
  const result = spawnSync('make', ['-s', '-C', LOADGEN_DIR], { encoding: 'utf8' });
  if (result.error || result.status !== 0 || ![LOADGEN_BIN, HTTP_PUBLISHER_BIN].every(existsSync)) {
    const why = result.error?.message ?? result.stderr;
    throw new StartError(`cannot build the load generator (needs make and gcc): ${why}`);
  }
}

/** Latency or connect-time percentiles in microseconds, as the generator prints them. */
export interface Percentiles {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

/** The generator's line once every connection has subscribed or failed. */
export interface ReadyReport {
  readonly attempted: number;
  readonly subscribed: number;
  readonly failed: number;
  readonly fd_limit: number;
  readonly elapsed_s: number;
  readonly rate: number;
  readonly failures: Record<string, number>;
  /** Status line of the first refused upgrade, if any. */
  readonly handshake_error: string;
  readonly connect_us: Percentiles;
}

/** Counters since the last mark. `fast` excludes probes; both read at full speed. */
export interface CountReport {
  readonly t_us: number;
  readonly fast: number;
  readonly probe: number;
  readonly slow: number;
  readonly bytes: number;
  readonly order_errors: number;
  readonly gaps: number;
  readonly duplicates: number;
  readonly bad_payload: number;
  readonly closed_fast: number;
  readonly closed_slow: number;
  readonly open_fast: number;
  readonly open_slow: number;
  readonly latency_us: Percentiles;
}

/** What the generator is asked to do; see loadgen/main.c for the flags. */
export interface LoadgenOptions {
  readonly port: number;
  readonly path: string;
  readonly proto: 'sb' | 'sio';
  readonly conns: number;
  readonly probes: number;
  readonly rooms: readonly string[];
  readonly slow?: number;
  readonly slowBytesPerTick?: number;
  readonly groupSize?: number;
  readonly sources?: number;
  readonly connectRate?: number;
  readonly maxPending?: number;
  readonly setupTimeoutS?: number;
  readonly cpus?: string;
}

function toArgs(o: LoadgenOptions): string[] {
  const args = ['--port', String(o.port), '--path', o.path, '--proto', o.proto];
  args.push('--conns', String(o.conns), '--probes', String(o.probes));
  for (const room of o.rooms) args.push('--room', room);
  const optional: Array<[string, number | undefined]> = [
    ['--slow', o.slow],
    ['--slow-bytes', o.slowBytesPerTick],
    ['--group-size', o.groupSize],
    ['--sources', o.sources],
    ['--rate', o.connectRate],
    ['--max-pending', o.maxPending],
    ['--setup-timeout', o.setupTimeoutS],
  ];
  for (const [flag, value] of optional) if (value !== undefined) args.push(flag, String(value));
  return args;
}

/** A running generator, driven over stdin with one JSON line back per command. */
export class Loadgen {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #waiters: Array<(line: Record<string, unknown>) => void> = [];
  readonly #unclaimed: Array<Record<string, unknown>> = [];
  readonly #stderr: string[] = [];
  readonly #exit: Promise<number | null>;

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.#child = child;
    createInterface({ input: child.stdout }).on('line', (line) => {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      const waiter = this.#waiters.shift();
      if (waiter) waiter(parsed);
      else this.#unclaimed.push(parsed);
    });
    createInterface({ input: child.stderr }).on('line', (line) => this.#stderr.push(line));
    this.#exit = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Starts the generator; it begins connecting at once. */
  static start(options: LoadgenOptions): Loadgen {
    const args = toArgs(options);
    const child =
      options.cpus === undefined
        ? spawn(LOADGEN_BIN, args)
        : spawn('taskset', ['-c', options.cpus, LOADGEN_BIN, ...args]);
    return new Loadgen(child);
  }

  get pid(): number {
    return this.#child.pid ?? 0;
  }

  #next<T>(timeoutMs: number, what: string): Promise<T> {
    const early = this.#unclaimed.shift();
    if (early) return Promise.resolve(early as T);
    return new Promise<T>((resolve, reject) => {
      const waiter = (line: Record<string, unknown>): void => {
        clearTimeout(timer);
        resolve(line as T);
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`load generator: no ${what} after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#exit.then(
        (code) => {
          clearTimeout(timer);
          reject(
            new Error(
              `load generator exited (${code}) waiting for ${what}: ${this.#stderr.join(' ')}`,
            ),
          );
        },
        (err: unknown) => reject(err instanceof Error ? err : new Error(String(err))),
      );
      this.#waiters.push(waiter);
    });
  }

  /** Waits until every connection has subscribed or failed. */
  ready(timeoutMs: number): Promise<ReadyReport> {
    return this.#next<ReadyReport>(timeoutMs, 'ready line');
  }

  /** Zeroes the delivery counters and the latency histogram. */
  async mark(): Promise<void> {
    const answer = this.#next<Record<string, unknown>>(5000, 'mark answer');
    this.#child.stdin.write('mark\n');
    await answer;
  }

  /** Counters since the last mark. */
  async report(): Promise<CountReport> {
    const answer = this.#next<CountReport>(5000, 'report');
    this.#child.stdin.write('report\n');
    return answer;
  }

  /** Closes every connection and waits for the process to exit. */
  async quit(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    this.#child.stdin.end('quit\n');
    await this.#exit;
  }
}
