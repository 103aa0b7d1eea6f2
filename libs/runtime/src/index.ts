import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
export { listen, mountHealthAndFallback, sendText, stopListening } from './http.ts';
export {
  afterNextMajorCollection,
  ChurnTrimmer,
  loadHeapTrim,
  type ChurnTrimmerOptions,
  type HeapTrim,
  type MajorCollectionWatch,
  type NoHeapTrim,
  type TrimCause,
} from './memory.ts';
import type { Bus } from '@switchboard/bus';

/**
 * Stops the process on SIGTERM or SIGINT: runs `stop` once, then exits 0, or 1 when
 * `stop` fails or overruns `timeoutMs` (a stuck drain must not keep a pod alive).
 */
export function stopOnSignals(logger: Logger, stop: () => Promise<void>, timeoutMs: number): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, timeoutMs }, 'shutting down');

    const deadline = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown timed out');
      process.exit(1);
    }, timeoutMs);
    deadline.unref();

    stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}

/** Runs shutdown steps one after another (stop accepting, close, drain, flush telemetry). */
export function inOrder(...steps: Array<() => unknown>): () => Promise<void> {
  return async () => {
    for (const step of steps) await step();
  };
}

/** Runs a service's async entry point; a start-up failure is logged and exits 1. */
export function runMain(logger: Logger, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    logger.fatal({ err }, 'start-up failed');
    process.exit(1);
  });
}

/** Logs what a bus reports: connection changes at warn/info, handler failures at error. */
export function logBusStatus(bus: Bus, logger: Logger): void {
  bus.onStatus((status) => {
    if (status.type === 'handler_error')
      logger.error({ err: status.error, subject: status.subject }, 'bus handler failed');
    else if (status.type === 'error') logger.error({ err: status.error }, 'bus error');
    else if (status.type === 'disconnected') logger.warn('bus disconnected');
    else logger.info('bus reconnected');
  });
}

/** Switchboard's version, from the root package.json, for the start-up log line. */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;
