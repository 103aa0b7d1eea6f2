import { createInterface } from 'node:readline';

import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import hdr from 'hdr-histogram-js';

import { Ticker } from './ticker.ts';
import type { PublishJob, PublishResult } from './publish-job.ts';

/**
 * The open-loop publisher, run as its own process on the load core. Message i is
 * due at t0 + i/rate (a worker thread wakes it then) and carries that intended time
 * (CLOCK_MONOTONIC µs, the clock the C generator reads), so a late publisher shows up
 * as latency, not as a lower rate. NATS publishing and NATS requests only: HTTP
 * publishing is `sbhttp`'s (loadgen/httppub.c).
 * Jobs arrive one JSON line at a time on stdin; each result goes back as one line.
 */
// Read straight from process.hrtime: an offset to performance.now() taken at start-up was
// off by the milliseconds the first use of `performance` spends loading perf_hooks.
const nowUs = (): number => {
  const [s, ns] = process.hrtime();
  return s * 1e6 + ns / 1e3;
};

/** At most 4,000 wake-ups a second; above that rate messages go out in small batches. */
const MIN_TICK_GAP_US = 250;

const encoder = new TextEncoder();
const ticker = new Ticker();
const connections = new Map<string, NatsConnection>();

function histogram(): ReturnType<typeof hdr.build> {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 2,
  });
}

async function natsFor(url: string): Promise<NatsConnection> {
  let nc = connections.get(url);
  if (!nc) {
    nc = await connect({ servers: url, name: 'bench-publisher' });
    connections.set(url, nc);
  }
  return nc;
}

function percentiles(h: ReturnType<typeof hdr.build>): {
  p50: number;
  p99: number;
  p999: number;
  max: number;
} {
  return {
    p50: h.getValueAtPercentile(50),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    max: h.maxValue,
  };
}

/** Everything one job needs while it runs. */
class JobRun {
  readonly lag = histogram();
  readonly rtt = histogram();
  readonly perRoom: number[];
  readonly pad: string;
  readonly requestHeaders = headers();
  errors = 0;
  firstError: string | undefined;

  constructor(
    readonly job: PublishJob,
    readonly nc: NatsConnection,
  ) {
    this.perRoom = job.rooms.map(() => 0);
    this.pad = 'x'.repeat(job.padBytes);
    this.requestHeaders.set('authorization', `Bearer ${job.apiKey ?? ''}`);
  }

  fail(err: unknown): void {
    this.errors++;
    this.firstError ??= err instanceof Error ? err.message : String(err);
  }

  async #request(body: string, intendedUs: number): Promise<void> {
    try {
      const reply = await this.nc.request('sb.svc.publisher.publish', encoder.encode(body), {
        timeout: 10_000,
        headers: this.requestHeaders,
      });
      if (!reply.string().includes('"ok":true'))
        this.fail(new Error(`publish refused: ${reply.string()}`));
      this.rtt.recordValue(Math.max(1, nowUs() - intendedUs));
    } catch (err) {
      this.fail(err);
    }
  }

  send(i: number, intendedUs: number, iso: string): Promise<void> | undefined {
    const { job } = this;
    const k = i % job.rooms.length;
    const room = job.rooms[k]!;
    const seq = (job.seqStart[k] ?? 0) + ++this.perRoom[k]!;
    const data = `{"bk":${k},"bs":${seq},"bt":${Math.round(intendedUs)},"pad":"${this.pad}"}`;
    if (job.mode === 'nats') {
      const event = `{"type":"event","channel":"chat.messages","event":"bench","id":"evt_${k}_${seq}","timestamp":"${iso}","data":${data}}`;
      this.nc.publish(job.subjectPrefix + room, encoder.encode(event));
      return undefined;
    }
    const body = `{"channel":"chat.messages","event":"bench","room_id":"${room}","data":${data}}`;
    return this.#request(body, intendedUs);
  }

  async run(): Promise<PublishResult> {
    const { job } = this;
    const total = Math.max(1, Math.round(job.rate * job.durationS));
    const intervalUs = 1e6 / job.rate;
    const t0 = nowUs() + 5_000;
    const pending: Array<Promise<void>> = [];
    let i = 0;

    await new Promise<void>((resolve) => {
      const tick = (): void => {
        const now = nowUs();
        const iso = new Date().toISOString();
        while (i < total && t0 + i * intervalUs <= now) {
          const intended = t0 + i * intervalUs;
          this.lag.recordValue(Math.max(1, now - intended));
          const sent = this.send(i, intended, iso);
          if (sent) pending.push(sent);
          i++;
        }
        if (i < total) return;
        stop();
        resolve();
      };
      const stop = ticker.start({ t0Us: t0, intervalUs, total, minGapUs: MIN_TICK_GAP_US }, tick);
    });
    await this.nc.flush();
    const durationS = (nowUs() - t0) / 1e6;
    await Promise.all(pending);
    return {
      sent: i,
      perRoom: this.perRoom,
      errors: this.errors,
      firstError: this.firstError,
      durationS,
      achievedRate: i / durationS,
      lag: percentiles(this.lag),
      response: job.mode === 'nats' ? undefined : percentiles(this.rtt),
    };
  }
}

async function runJob(line: string): Promise<void> {
  const job = JSON.parse(line) as PublishJob;
  const result = await new JobRun(job, await natsFor(job.natsUrl)).run();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

let queue = Promise.resolve();
createInterface({ input: process.stdin }).on('line', (line) => {
  queue = queue
    .then(() => runJob(line))
    .catch((err: unknown) => {
      process.stdout.write(
        `${JSON.stringify({ error: err instanceof Error ? err.message : String(err) })}\n`,
      );
    });
});
process.stdin.once('end', () => {
  void queue.then(async () => {
    for (const nc of connections.values()) await nc.drain();
    await ticker.close();
  });
});
void ticker.online.then(() => process.stdout.write('{"ready":true}\n'));
