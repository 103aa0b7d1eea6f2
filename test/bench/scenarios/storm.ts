import type { BenchContext } from '../lib/context.ts';
import { recordProfile } from '../lib/flamegraph.ts';
import { profileDuring } from '../lib/inspector.ts';
import type { ReadyReport } from '../lib/loadgen.ts';
import { busyOfCore, startCpuWindow } from '../lib/procfs.ts';
import { connectSubscribers } from '../lib/subscribers.ts';
import type { ServerHandle, SystemUnderTest } from '../systems/types.ts';
import { invalid, type Outcome, type Scenario } from './types.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Handshakes in flight in the unthrottled wave: fewer than the servers' listen backlog
 * (511 for Node, 512 for uWebSockets.js). With more, the kernel drops the SYNs that find
 * the accept queue full and the clients retry after a second, so the wave would measure
 * the SYN retransmission timer, the same for every server, instead of the servers.
 */
const UNTHROTTLED_IN_FLIGHT = 500;

/** One wave of connections, as the results file records it. */
interface WaveSummary {
  readonly rate: number | 'unthrottled';
  readonly subscribed: number;
  readonly failed: number;
  readonly failures: Record<string, number>;
  readonly acceptedPerS: number;
  readonly connectToSubscribedUs: ReadyReport['connect_us'];
  /** The server's CPU seconds per accepted connection, in µs (its whole process). */
  readonly serverCpuUsPerConn: number;
  /** Busy share of the load core, where the generator (and Switchboard's other services) run. */
  readonly loadCoreBusy: number | undefined;
}

function summary(
  rate: number | 'unthrottled',
  r: ReadyReport,
  serverCpuS: number,
  loadCoreBusy: number | undefined,
): WaveSummary {
  return {
    rate,
    subscribed: r.subscribed,
    failed: r.failed,
    failures: r.failures,
    acceptedPerS: Math.round(r.rate),
    connectToSubscribedUs: r.connect_us,
    serverCpuUsPerConn: r.subscribed > 0 ? Math.round((serverCpuS * 1e6) / r.subscribed) : 0,
    loadCoreBusy: loadCoreBusy === undefined ? undefined : Math.round(loadCoreBusy * 100) / 100,
  };
}

/** Connects a wave of `n` clients at `rate` per second (0: unthrottled). */
function connectWave(
  ctx: BenchContext,
  handle: ServerHandle,
  n: number,
  rate: number,
): ReturnType<typeof connectSubscribers> {
  return connectSubscribers(
    ctx,
    handle,
    {
      conns: n,
      probes: 0,
      rooms: ['r1'],
      connectRate: rate || undefined,
      maxPending: rate ? 100_000 : UNTHROTTLED_IN_FLIGHT,
    },
    true,
  );
}

/**
 * One more unthrottled wave with the V8 sampler on, after the measured ones (sampling
 * slows the server down, so this wave's rate is not a result).
 */
async function profileWave(ctx: BenchContext, handle: ServerHandle, n: number): Promise<unknown> {
  const url = handle.server.inspectorUrl;
  if (!url) return { profile: 'no inspector URL' };
  let ready: ReadyReport | undefined;
  const json = await profileDuring(url, async () => {
    const wave = await connectWave(ctx, handle, n, 0);
    ready = wave.ready;
    await wave.gen.quit();
  });
  const title = `${handle.system} gateway, unthrottled connect storm of ${n} clients (${Math.round(ready?.rate ?? 0)}/s while sampled)`;
  return recordProfile(ctx.artefactDir, `connect-storm-${handle.system}`, title, json);
}

/** Scenario 5: clients connect, authenticate and subscribe at fixed rates, then as fast as they can. */
export const storm: Scenario = {
  id: 'connect-storm',
  title: 'Connect storm',
  rows: [
    { name: 'connect storm (unthrottled)', unit: 'connections/s', better: 'higher' },
    { name: 'connect-to-subscribed p99 (unthrottled)', unit: 'ms', better: 'lower' },
    { name: 'connect failures (unthrottled)', unit: 'connections', better: 'lower' },
  ],
  async run(ctx: BenchContext, system: SystemUnderTest): Promise<Outcome> {
    const n = ctx.sizes.stormConns;
    const profiled = ctx.cpuProfile && system.name === 'switchboard';
    const handle = await system.start(ctx, { inspect: profiled });
    const runs: WaveSummary[] = [];
    let last: ReadyReport | undefined;
    let profile: unknown;
    try {
      for (const rate of [...ctx.sizes.stormRates, 0]) {
        const endCpu = startCpuWindow({ server: handle.server.pid });
        const { gen, ready } = await connectWave(ctx, handle, n, rate);
        const cpu = endCpu();
        await gen.quit();
        const wave = summary(
          rate || 'unthrottled',
          ready,
          cpu.seconds.server ?? 0,
          busyOfCore(ctx.cpus.load, cpu.coreBusy),
        );
        runs.push(wave);
        ctx.progress(
          `  ${rate || 'unthrottled'}: ${Math.round(ready.rate)} conn/s, p99 ${ready.connect_us.p99} µs, ${ready.failed} failed, server ${wave.serverCpuUsPerConn} µs CPU/conn`,
        );
        last = ready;
        // Let the server finish closing the previous wave before the next one.
        await sleep(500);
      }
      if (profiled) profile = await profileWave(ctx, handle, n);
    } finally {
      await handle.stop();
    }
    const fixed = runs.filter((r) => r.rate !== 'unthrottled');
    if (!last || last.subscribed === 0) {
      const why = invalid(
        `no client subscribed${last?.handshake_error ? ` (${last.handshake_error})` : ''}`,
      );
      return {
        values: Object.fromEntries(this.rows.map((r) => [r.name, why])),
        notes: [],
        details: { runs, profile },
      };
    }
    return {
      values: {
        'connect storm (unthrottled)': Math.round(last?.rate ?? 0),
        'connect-to-subscribed p99 (unthrottled)':
          Math.round((last?.connect_us.p99 ?? 0) / 10) / 100,
        'connect failures (unthrottled)': last?.failed ?? 0,
      },
      notes: [
        `${n} clients per wave, one subscription each, at most ${UNTHROTTLED_IN_FLIGHT} handshakes in flight when unthrottled; server CPU per connection (unthrottled) ${last.subscribed > 0 ? runs[runs.length - 1]!.serverCpuUsPerConn : 0} µs`,
        ...fixed.map(
          (r) =>
            `at ${r.rate}/s: ${r.acceptedPerS} conn/s, p99 ${Math.round(r.connectToSubscribedUs.p99 / 100) / 10} ms, ${r.failed} failed`,
        ),
      ],
      details: { runs, profile },
    };
  },
};
