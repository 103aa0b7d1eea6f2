import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * Readings from /proc: a process's CPU time and RSS, per-core busy time and the
 * kernel's socket memory. Values are raw; `cpuDelta` and friends turn two readings
 * into a rate.
 */
const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
const PAGE_BYTES = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }));

/** CPU seconds (user + system, all threads) a process has used so far; 0 once it is gone. */
export function processCpuSeconds(pid: number): number {
  const stat = readOrEmpty(`/proc/${pid}/stat`);
  if (!stat) return 0;
  // The command name may contain spaces, so fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / TICKS_PER_SECOND;
}

/** Seconds since a process started; 0 once it is gone. */
export function processAgeSeconds(pid: number): number {
  const stat = readOrEmpty(`/proc/${pid}/stat`);
  if (!stat) return 0;
  // Field 22, `starttime`, in clock ticks after boot; the fields after the name start at field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const startedAfterBoot = Number(fields[19]) / TICKS_PER_SECOND;
  const uptime = Number(readOrEmpty('/proc/uptime').split(' ')[0]);
  return Math.max(0, uptime - startedAfterBoot);
}

/** Resident set size in bytes; 0 once the process is gone. */
export function processRssBytes(pid: number): number {
  const status = readOrEmpty(`/proc/${pid}/status`);
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match?.[1] ? Number(match[1]) * 1024 : 0;
}

/** A process's resident memory by where it lives, in bytes (from `/proc/<pid>/smaps`). */
export interface RssByKind {
  /** glibc's main arena, grown with brk: most `malloc` memory, including uWebSockets.js's sockets. */
  readonly mallocHeap: number;
  /** Anonymous mappings: V8's heap pages, other malloc arenas, large `malloc` blocks. */
  readonly anonymous: number;
  /** Mapped files: the node binary, shared libraries, native addons. */
  readonly files: number;
}

export function processRssByKind(pid: number): RssByKind {
  let mallocHeap = 0;
  let anonymous = 0;
  let files = 0;
  let kind: keyof RssByKind = 'anonymous';
  for (const line of readOrEmpty(`/proc/${pid}/smaps`).split('\n')) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (mapping) {
      const name = mapping[1] ?? '';
      kind =
        name === '[heap]'
          ? 'mallocHeap'
          : name === '' || name.startsWith('[')
            ? 'anonymous'
            : 'files';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (!rss) continue;
    const bytes = Number(rss[1]) * 1024;
    if (kind === 'mallocHeap') mallocHeap += bytes;
    else if (kind === 'anonymous') anonymous += bytes;
    else files += bytes;
  }
  return { mallocHeap, anonymous, files };
}

/** This process's open-file limits (soft, hard). */
export function openFileLimits(): { soft: number; hard: number } {
  const match = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(
    readOrEmpty('/proc/self/limits'),
  );
  const value = (v: string | undefined): number =>
    v === undefined || v === 'unlimited' ? 1 << 30 : Number(v);
  return { soft: value(match?.[1]), hard: value(match?.[2]) };
}

/** Busy and total jiffies per core, from /proc/stat. */
export function coreTimes(): Map<number, { busy: number; total: number }> {
  const cores = new Map<number, { busy: number; total: number }>();
  for (const line of readOrEmpty('/proc/stat').split('\n')) {
    const match = /^cpu(\d+) (.*)$/.exec(line);
    if (!match?.[1] || !match[2]) continue;
    const v = match[2].trim().split(/\s+/).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    cores.set(Number(match[1]), { busy: total - idle, total });
  }
  return cores;
}

/** Kernel TCP socket memory (bytes) and sockets in use, from /proc/net/sockstat. */
export function tcpSocketMemory(): { bytes: number; inuse: number } {
  const match = /TCP: inuse (\d+) .* mem (\d+)/.exec(readOrEmpty('/proc/net/sockstat'));
  return { inuse: Number(match?.[1] ?? 0), bytes: Number(match?.[2] ?? 0) * PAGE_BYTES };
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (
      (err as NodeJS.ErrnoException).code === 'ENOENT' ||
      (err as NodeJS.ErrnoException).code === 'ESRCH'
    )
      return '';
    throw err;
  }
}

/** CPU use of a set of processes and of each core between two points in time. */
export interface CpuWindow {
  /** Seconds of CPU per process name over the window. */
  readonly seconds: Record<string, number>;
  /** Busy fraction (0..1) per core over the window. */
  readonly coreBusy: Record<string, number>;
  readonly wallSeconds: number;
}

/** Starts a CPU measurement over the given processes; call the result to end it. */
/** The busy share (0–1) a window measured for a core list, when the list names one core. */
export function busyOfCore(
  cores: string | undefined,
  coreBusy: Readonly<Record<string, number>>,
): number | undefined {
  if (cores === undefined || !/^\d+$/.test(cores)) return undefined;
  return coreBusy[`cpu${cores}`];
}

export function startCpuWindow(pids: Record<string, number>): () => CpuWindow {
  const t0 = performance.now();
  const before = Object.fromEntries(
    Object.entries(pids).map(([k, pid]) => [k, processCpuSeconds(pid)]),
  );
  const coresBefore = coreTimes();
  return () => {
    const wallSeconds = (performance.now() - t0) / 1000;
    const seconds: Record<string, number> = {};
    for (const [k, pid] of Object.entries(pids))
      seconds[k] = processCpuSeconds(pid) - (before[k] ?? 0);
    const coreBusy: Record<string, number> = {};
    for (const [core, after] of coreTimes()) {
      const b = coresBefore.get(core);
      if (!b || after.total === b.total) continue;
      coreBusy[`cpu${core}`] = (after.busy - b.busy) / (after.total - b.total);
    }
    return { seconds, coreBusy, wallSeconds };
  };
}
