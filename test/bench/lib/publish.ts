import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { HTTP_PUBLISHER_BIN } from './loadgen.ts';
import type { PublishJob, PublishResult } from './publish-job.ts';

export type { PublishJob, PublishResult } from './publish-job.ts';

const WORKER = join(dirname(fileURLToPath(import.meta.url)), 'publish-worker.ts');

/** A child process that answers each line on its stdin with one line on its stdout. */
class LineChild {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #waiters: Array<(line: string) => void> = [];
  readonly ready: Promise<string>;

  constructor(name: string, cpus: string | undefined, command: string, args: string[]) {
    this.#child =
      cpus === undefined ? spawn(command, args) : spawn('taskset', ['-c', cpus, command, ...args]);
    this.ready = new Promise((resolve) => this.#waiters.push(resolve));
    createInterface({ input: this.#child.stdout }).on('line', (line) =>
      this.#waiters.shift()?.(line),
    );
    this.#child.stderr.on('data', (chunk: Buffer) =>
      process.stderr.write(`${name}: ${chunk.toString()}`),
    );
  }

  get pid(): number {
    return this.#child.pid ?? 0;
  }

  ask(line: string): Promise<string> {
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      this.#child.stdin.write(`${line}\n`);
    });
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.stdin.end();
    const timer = setTimeout(() => this.#child.kill('SIGTERM'), 3000);
    await exited;
    clearTimeout(timer);
  }
}

/** `sbhttp`'s job line: see test/bench/loadgen/httppub.c. */
function httpJobLine(job: PublishJob): string {
  const { hostname, port, pathname } = new URL(job.httpUrl ?? '');
  const words = [hostname, port, pathname, job.apiKey ?? '', job.rate, job.durationS];
  words.push(job.concurrency, job.padBytes, job.rooms.length);
  job.rooms.forEach((room, i) => words.push(room, job.seqStart[i] ?? 0));
  if (words.some((w) => String(w) === '' || /\s/.test(String(w))))
    throw new Error(`sbhttp cannot take this job: ${JSON.stringify(words)}`);
  return `JOB ${words.join(' ')}`;
}

/**
 * The long-lived open-loop publishers, pinned to the load core: a Node process for NATS
 * publishing and NATS requests, and `sbhttp` (C) for HTTP publishing, where Node's event
 * loop alone was about 2 ms late at p99, the size of the ingress target.
 */
export class Publisher {
  private constructor(
    readonly node: LineChild,
    readonly http: LineChild,
    /** Whether `sbhttp` got a real-time priority (it needs CAP_SYS_NICE). */
    readonly httpRealtime: boolean,
  ) {}

  /** Starts both publishers and waits until they read jobs; `sbhttp` must have been built. */
  static async start(cpus: string | undefined): Promise<Publisher> {
    const node = new LineChild('publisher', cpus, process.execPath, ['--import', 'tsx', WORKER]);
    const http = new LineChild('sbhttp', cpus, HTTP_PUBLISHER_BIN, []);
    const [, httpReady] = await Promise.all([node.ready, http.ready]);
    const { realtime } = JSON.parse(httpReady) as { realtime?: boolean };
    return new Publisher(node, http, realtime === true);
  }

  /** Both processes, for CPU accounting. */
  get pids(): { benchPublisher: number; benchHttpClient: number } {
    return { benchPublisher: this.node.pid, benchHttpClient: this.http.pid };
  }

  /** Runs one job; resolves when every message has gone out (and, for requests, been answered). */
  async run(job: PublishJob): Promise<PublishResult> {
    const line =
      job.mode === 'http'
        ? await this.http.ask(httpJobLine(job))
        : await this.node.ask(JSON.stringify(job));
    const parsed = JSON.parse(line) as PublishResult | { error: string };
    if ('error' in parsed) throw new Error(`publisher (${job.mode}): ${parsed.error}`);
    return parsed;
  }

  async stop(): Promise<void> {
    await Promise.all([this.node.stop(), this.http.stop()]);
  }
}

/** Tracks per-room sequence numbers across publishing runs against one set of subscribers. */
export class RoomSequences {
  readonly #sent = new Map<string, number>();

  /** The last sequence sent per room, in the order of `rooms`. */
  starts(rooms: readonly string[]): number[] {
    return rooms.map((room) => this.#sent.get(room) ?? 0);
  }

  /** Records what a run sent. */
  advance(rooms: readonly string[], perRoom: readonly number[]): void {
    rooms.forEach((room, i) =>
      this.#sent.set(room, (this.#sent.get(room) ?? 0) + (perRoom[i] ?? 0)),
    );
  }
}
