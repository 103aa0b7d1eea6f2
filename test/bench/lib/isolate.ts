import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** What `isolateServerCore` did, for the results file, and how to undo it. */
export interface Isolation {
  /** Kernel threads moved to the load cores, as `name (pid)`. */
  readonly moved: readonly string[];
  /**
   * Kernel threads that may run on the server core and could not be moved: without
   * CAP_SYS_NICE all of them, otherwise the workqueue threads the kernel places itself.
   */
  readonly refused: number;
  /** Gives every moved thread its former CPU list back. */
  restore(): void;
}

/** Expands a core list such as `0-2,5` into core numbers. */
export function parseCoreList(list: string): number[] {
  const cores: number[] = [];
  for (const part of list.split(',')) {
    const [from, to] = part.split('-').map(Number) as [number, number | undefined];
    for (let c = from; c <= (to ?? from); c++) cores.push(c);
  }
  return cores;
}

interface KernelThread {
  readonly pid: number;
  readonly name: string;
  readonly cpus: string;
}

/** Kernel threads (children of kthreadd, pid 2) and the cores each may run on. */
function kernelThreads(): KernelThread[] {
  const threads: KernelThread[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      if (/^PPid:\s+(\d+)$/m.exec(status)?.[1] !== '2') continue;
      const name = /^Name:\s+(.*)$/m.exec(status)?.[1] ?? '?';
      const cpus = /^Cpus_allowed_list:\s+(.*)$/m.exec(status)?.[1] ?? '';
      threads.push({ pid: Number(entry), name, cpus });
    } catch {
      // gone meanwhile
    }
  }
  return threads;
}

function setCpus(pid: number, cpus: string): boolean {
  try {
    execFileSync('taskset', ['-pc', cpus, String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Moves the kernel threads that are not bound to one core off the server core, onto the
 * load cores, for the length of the run. On the machine the suite was written on, DAMON's
 * `kdamond.0` took 2.5–5.5 ms of whichever core it ran on every 512 ms, which alone put the
 * ingress p99 over 2 ms. Threads bound to one core (per-CPU workers, ksoftirqd) stay; a
 * thread the kernel does not let move counts as refused. Needs CAP_SYS_NICE.
 */
export function isolateServerCore(server: string, load: string): Isolation {
  const serverCores = new Set(parseCoreList(server));
  const moved: Array<KernelThread> = [];
  let refused = 0;
  for (const thread of kernelThreads()) {
    const cores = thread.cpus ? parseCoreList(thread.cpus) : [];
    if (cores.length < 2 || !cores.some((c) => serverCores.has(c))) continue;
    if (setCpus(thread.pid, load)) moved.push(thread);
    else refused++;
  }
  return {
    moved: moved.map((t) => `${t.name} (${t.pid})`),
    refused,
    restore: () => {
      for (const t of moved) setCpus(t.pid, t.cpus);
    },
  };
}
