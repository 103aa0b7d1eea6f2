import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import type { PublishJob, PublishResult } from './publish-job.ts';

export type { PublishJob, PublishResult } from './publish-job.ts';

const WORKER = join(dirname(fileURLToPath(import.meta.url)), 'publish-worker.ts');

/** The long-lived open-loop publisher process, pinned to the load core. */
export class Publisher {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #waiters: Array<(line: string) => void> = [];
  readonly #ready: Promise<string>;

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.#child = child;
    this.#ready = new Promise((resolve) => this.#waiters.push(resolve));
    createInterface({ input: child.stdout }).on('line', (line) => this.#waiters.shift()?.(line));
    child.stderr.on('data', (chunk: Buffer) =>
      process.stderr.write(`publisher: ${chunk.toString()}`),
    );
  }

  /** Starts the publisher and waits until it reads jobs. */
  static async start(cpus: string | undefined): Promise<Publisher> {
    const nodeArgs = ['--import', 'tsx', WORKER];
    const child =
      cpus === undefined
        ? spawn(process.execPath, nodeArgs)
        : spawn('taskset', ['-c', cpus, process.execPath, ...nodeArgs]);
    const publisher = new Publisher(child);
    await publisher.#ready;
    return publisher;
  }

  get pid(): number {
    return this.#child.pid ?? 0;
  }

  /** Runs one job; resolves when every message has gone out (and, for requests, been answered). */
  run(job: PublishJob): Promise<PublishResult> {
    return new Promise((resolve, reject) => {
      this.#waiters.push((line) => {
        const parsed = JSON.parse(line) as PublishResult | { error: string };
        if ('error' in parsed) reject(new Error(`publisher: ${parsed.error}`));
        else resolve(parsed);
      });
      this.#child.stdin.write(`${JSON.stringify(job)}\n`);
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
