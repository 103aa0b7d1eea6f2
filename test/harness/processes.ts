import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

/** The repository root; service entry points are resolved against it. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Generous: on a loaded 2-core machine, five Node processes starting at once take a while. */
const READY_DEADLINE_MS = 40_000;
const KILL_AFTER_MS = 10_000;

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A child process of the test run, with its output kept for failure messages. */
export interface RunningProcess {
  readonly name: string;
  readonly pid: number | undefined;
  /** Every stdout and stderr line so far, prefixed with the stream's name. */
  readonly lines: readonly string[];
  /** Resolves when the process has exited, for whatever reason. */
  readonly exited: Promise<ExitInfo>;
  /** Sends SIGTERM and waits for the exit; SIGKILL after 10 s. Safe to call twice. */
  stop(): Promise<ExitInfo>;
  /** Sends SIGKILL (a crash: no graceful shutdown) and waits for the exit. */
  kill(): Promise<ExitInfo>;
}

export interface SpawnOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** True for the output line that says the process is ready to serve. */
  readonly isReady: (line: string) => boolean;
}

const running = new Set<ChildProcess>();

// A crashed or interrupted test run must not leave services holding ports.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function describeFailure(name: string, why: string, lines: readonly string[]): Error {
  const tail = lines.slice(-40).join('\n');
  return new Error(`${name} ${why}; its last output:\n${tail || '(none)'}`);
}

/** Starts a process and resolves once it prints its ready line. */
export async function spawnProcess(options: SpawnOptions): Promise<RunningProcess> {
  const child = spawn(options.command, [...options.args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);

  const lines: string[] = [];
  // 'close', not 'exit': by then stdout and stderr are drained, so `lines` is complete.
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });

  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  for (const [stream, source] of [
    ['out', child.stdout],
    ['err', child.stderr],
  ] as const) {
    createInterface({ input: source }).on('line', (line) => {
      lines.push(`[${options.name} ${stream}] ${line}`);
      if (options.isReady(line)) markReady();
    });
  }

  const spawned = new Promise<never>((_, reject) => child.once('error', reject));
  let deadline: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    deadline = setTimeout(
      () =>
        reject(
          describeFailure(
            options.name,
            `was not ready within ${READY_DEADLINE_MS / 1000} s`,
            lines,
          ),
        ),
      READY_DEADLINE_MS,
    );
  });
  const exitedEarly = exited.then((info) => {
    throw describeFailure(
      options.name,
      `exited (code ${info.code}, signal ${info.signal}) before it was ready`,
      lines,
    );
  });

  const stop = stopper(child, exited);
  try {
    await Promise.race([ready, spawned, timedOut, exitedEarly]);
  } catch (error) {
    await stop();
    throw error;
  } finally {
    clearTimeout(deadline);
  }
  const kill = async (): Promise<ExitInfo> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    return exited;
  };
  return { name: options.name, pid: child.pid, lines, exited, stop, kill };
}

function stopper(child: ChildProcess, exited: Promise<ExitInfo>): () => Promise<ExitInfo> {
  return async () => {
    if (child.pid === undefined) return { code: null, signal: null };
    if (child.exitCode !== null || child.signalCode !== null) return exited;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
    try {
      return await exited;
    } finally {
      clearTimeout(killer);
    }
  };
}

/** True for a pino line `{"msg":"ready", ...}`. */
export function isReadyLogLine(line: string): boolean {
  if (!line.startsWith('{')) return false;
  try {
    return (JSON.parse(line) as { msg?: unknown }).msg === 'ready';
  } catch {
    return false;
  }
}

/** The services' entry points, relative to the repository root. */
export const ServiceEntries = {
  standalone: 'services/standalone/src/main.ts',
  auth: 'services/auth/src/main.ts',
  channelAuthorizer: 'services/channel-authorizer/src/main.ts',
  publisher: 'services/publisher/src/main.ts',
  gateway: 'services/gateway/src/main.ts',
} as const;

export type ServiceName = keyof typeof ServiceEntries;

/** Runs a service with `node --import tsx` and waits for its `ready` log line. */
export function startService(
  service: ServiceName,
  env: Readonly<Record<string, string>>,
  name: string = service,
): Promise<RunningProcess> {
  return spawnProcess({
    name,
    command: process.execPath,
    args: ['--import', 'tsx', ServiceEntries[service]],
    env,
    isReady: isReadyLogLine,
  });
}
