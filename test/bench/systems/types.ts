import type { BenchContext } from '../lib/context.ts';
import type { RunningProcess } from '../lib/process.ts';

/** The systems compared, in table order. */
export const SYSTEM_NAMES = ['switchboard', 'uws', 'ws', 'socketio'] as const;
export type SystemName = (typeof SYSTEM_NAMES)[number];

/** Ways a scenario wants the server started. */
export interface StartOptions {
  /** Open the V8 inspector so the runner can force a GC and read the heap. */
  readonly inspect?: boolean;
  readonly env?: Readonly<Record<string, string>>;
}

/** A running server under test, as the load generator and the CPU accounting see it. */
export interface ServerHandle {
  readonly system: SystemName;
  /** The process on the server core whose CPU and memory are measured. */
  readonly server: RunningProcess;
  readonly port: number;
  readonly path: string;
  readonly proto: 'sb' | 'sio';
  /** Prefix of the NATS subjects events for room `r` go out on. */
  readonly subjectPrefix: string;
  stop(): Promise<void>;
}

/** One system of the comparison. */
export interface SystemUnderTest {
  readonly name: SystemName;
  /** Why it cannot run here, if it cannot. */
  unavailable(): string | undefined;
  start(ctx: BenchContext, options: StartOptions): Promise<ServerHandle>;
  /** Stops anything the system keeps up between scenarios. */
  close(): Promise<void>;
}

/** Node flags for a server under test; the inspector only where a scenario reads the heap or profiles. */
export function nodeFlags(options: StartOptions): string[] {
  const flags = ['--import', 'tsx'];
  if (options.inspect) flags.push('--inspect=127.0.0.1:0');
  return flags;
}
