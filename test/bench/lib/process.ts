import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

import { openFileLimits } from './procfs.ts';

/** Raised when a process under test does not come up. */
export class StartError extends Error {
  override readonly name = 'StartError';
}

/** How to start one long-running process of the benchmark. */
export interface ProcessSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Core list for `taskset -c`; omitted: not pinned. */
  readonly cpus?: string;
  /** A stdout line containing this marks the process as ready; omitted: ready when spawned. */
  readonly readyText?: string;
  /** Polled until it answers 200; for services that log their ready line below the bench's log level. */
  readonly readyUrl?: string;
  readonly readyTimeoutMs?: number;
  /** Open-file limit to ask for; the hard limit caps it. */
  readonly nofile?: number;
}

/** A started process: its pid, a tail of its output, and a way to stop it. */
export class RunningProcess {
  readonly #child: ChildProcess;
  readonly #tail: string[] = [];
  readonly name: string;
  #exited = false;
  inspectorUrl: string | undefined;

  constructor(name: string, child: ChildProcess) {
    this.name = name;
    this.#child = child;
    child.once('exit', () => {
      this.#exited = true;
    });
  }

  get pid(): number {
    return this.#child.pid ?? 0;
  }

  get exited(): boolean {
    return this.#exited;
  }

  /** The last lines the process wrote, for error messages. */
  tail(): string {
    return this.#tail.slice(-8).join('\n');
  }

  remember(line: string): void {
    this.#tail.push(line);
    if (this.#tail.length > 50) this.#tail.shift();
    const inspector = /Debugger listening on (ws:\/\/\S+)/.exec(line);
    if (inspector?.[1]) this.inspectorUrl = inspector[1];
  }

  /** SIGTERM, then SIGKILL if it has not gone after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.#exited) return;
    const exited = once(this.#child, 'exit');
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

function wrapCommand(spec: ProcessSpec): { command: string; args: string[] } {
  let command = spec.command;
  let args = [...spec.args];
  if (spec.cpus !== undefined) {
    args = ['-c', spec.cpus, command, ...args];
    command = 'taskset';
  }
  if (spec.nofile !== undefined) {
    // Without CAP_SYS_RESOURCE nothing goes past the hard limit; the run reports that limit.
    const nofile = Math.min(spec.nofile, openFileLimits().hard);
    args = [`--nofile=${nofile}`, command, ...args];
    command = 'prlimit';
  }
  return { command, args };
}

/** Resolves once `url` answers 200 (never, if the child exits first). */
async function pollUntilOk(url: string, child: ChildProcess): Promise<void> {
  while (child.exitCode === null && child.signalCode === null) {
    const ok = await fetch(url).then(
      (res) => res.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise(() => undefined);
}

/** Starts a process (pinned if asked) and waits for its ready line or URL. */
export async function startProcess(spec: ProcessSpec): Promise<RunningProcess> {
  const { command, args } = wrapCommand(spec);
  const child = spawn(command, args, {
    env: { ...process.env, ...spec.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const running = new RunningProcess(spec.name, child);
  const lines = (stream: NodeJS.ReadableStream, onLine: (l: string) => void): void => {
    createInterface({ input: stream }).on('line', onLine);
  };

  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  const readyText = spec.readyText;
  lines(child.stdout, (l) => {
    running.remember(l);
    if (readyText !== undefined && l.includes(readyText)) markReady();
  });
  lines(child.stderr, (l) => {
    running.remember(l);
    if (readyText !== undefined && l.includes(readyText)) markReady();
  });
  if (spec.readyUrl !== undefined) void pollUntilOk(spec.readyUrl, child).then(markReady);
  else if (readyText === undefined) markReady();

  const failed = new Promise<never>((_, reject) => {
    child.on('error', (err) => {
      running.remember(`spawn error: ${err.message}`);
      reject(new StartError(`${spec.name}: ${err.message}`, { cause: err }));
    });
    child.once('exit', (code, signal) =>
      reject(
        new StartError(`${spec.name} exited (${signal ?? code}) before ready:\n${running.tail()}`),
      ),
    );
  });
  const timeoutMs = spec.readyTimeoutMs ?? 20_000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new StartError(`${spec.name} not ready after ${timeoutMs} ms:\n${running.tail()}`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([ready, failed, timedOut]);
  } catch (err) {
    await running.stop(500);
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return running;
}
