import { Worker } from 'node:worker_threads';

/** When the publisher means to send: message i at `t0Us + i * intervalUs` (CLOCK_MONOTONIC µs). */
export interface TickPlan {
  readonly t0Us: number;
  readonly intervalUs: number;
  readonly total: number;
  /** Wake-ups are at least this far apart; messages falling in between go out together. */
  readonly minGapUs: number;
}

/**
 * The worker sleeps on a futex until each intended send time and then wakes the main
 * thread. Plain JavaScript, evaluated: a worker thread does not get tsx's loader.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const nowUs = () => {
  const [s, ns] = process.hrtime();
  return s * 1e6 + ns / 1e3;
};
const sleeper = new Int32Array(new SharedArrayBuffer(4));
parentPort.on('message', ({ t0Us, intervalUs, total, minGapUs }) => {
  let i = 0;
  while (i < total) {
    const wait = t0Us + i * intervalUs - nowUs();
    if (wait > 0) Atomics.wait(sleeper, 0, 0, wait / 1000);
    parentPort.postMessage(i);
    if (i === total - 1) break;
    const next = Math.ceil((nowUs() + minGapUs - t0Us) / intervalUs);
    i = Math.min(Math.max(i + 1, next), total - 1);
  }
});
`;

/**
 * The open-loop publisher's clock. The event loop's timers round to whole milliseconds,
 * too coarse for a 2 ms response-time target; this calls back at each intended send
 * time, to within the kernel's wake-up latency.
 */
export class Ticker {
  readonly #worker = new Worker(WORKER_SOURCE, { eval: true });

  /** Resolves once the worker thread runs, so the first plan does not wait for it to boot. */
  readonly online: Promise<void> = new Promise((resolve) => this.#worker.once('online', resolve));

  constructor() {
    this.#worker.unref();
  }

  /** Starts a plan; `onTick` may find several messages due, or none. Returns the stop function. */
  start(plan: TickPlan, onTick: () => void): () => void {
    this.#worker.on('message', onTick);
    this.#worker.postMessage(plan);
    return () => this.#worker.off('message', onTick);
  }

  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}
