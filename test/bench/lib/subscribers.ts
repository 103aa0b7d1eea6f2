import type { ServerHandle } from '../systems/types.ts';
import type { BenchContext } from './context.ts';
import { Loadgen, type LoadgenOptions, type ReadyReport } from './loadgen.ts';

/** Raised when not every client could connect and subscribe, so a run would not be comparable. */
export class SetupError extends Error {
  override readonly name = 'SetupError';
}

/** Past ~28k connections one source address runs out of ephemeral ports. */
const CONNS_PER_SOURCE = 25_000;

/** Connects and subscribes `conns` clients to the server; fails unless all of them made it. */
export async function connectSubscribers(
  ctx: BenchContext,
  handle: ServerHandle,
  options: Omit<LoadgenOptions, 'port' | 'path' | 'proto' | 'cpus'>,
  allowFailures = false,
): Promise<{ gen: Loadgen; ready: ReadyReport }> {
  const gen = Loadgen.start({
    port: handle.port,
    path: handle.path,
    proto: handle.proto,
    cpus: ctx.cpus.load,
    sources: Math.ceil(options.conns / CONNS_PER_SOURCE),
    ...options,
  });
  const timeoutMs = 30_000 + options.conns * 5;
  let ready: ReadyReport;
  try {
    ready = await gen.ready(timeoutMs);
  } catch (err) {
    await gen.quit();
    throw err;
  }
  if (!allowFailures && ready.subscribed < options.conns) {
    await gen.quit();
    const failures = Object.entries(ready.failures)
      .filter(([, n]) => n > 0)
      .map(([why, n]) => `${why} ${n}`)
      .join(', ');
    throw new SetupError(
      `${ready.subscribed} of ${options.conns} clients subscribed (${failures}; fd limit ${ready.fd_limit})` +
        (ready.handshake_error ? `; server answered "${ready.handshake_error}"` : ''),
    );
  }
  return { gen, ready };
}
