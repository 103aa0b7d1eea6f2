import { execFileSync } from 'node:child_process';
import { cpus, freemem, release, totalmem } from 'node:os';

import { openFileLimits } from './procfs.ts';

/** What the results were measured on, recorded with every run. */
export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly freeMemoryGiB: number;
  readonly kernel: string;
  readonly node: string;
  readonly natsServer: string;
  readonly loadAverage: string;
  readonly openFileLimit: { readonly soft: number; readonly hard: number };
  readonly ephemeralPorts: string;
  readonly pinning: string;
}

function readText(path: string): string {
  return execFileSync('cat', [path], { encoding: 'utf8' }).trim();
}

/** Collects the machine description for the results file. */
export function describeMachine(natsServer: string, pinning: string): MachineInfo {
  const gib = (bytes: number): number => Math.round((bytes / 2 ** 30) * 10) / 10;
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: gib(totalmem()),
    freeMemoryGiB: gib(freemem()),
    kernel: release(),
    node: process.version,
    natsServer,
    loadAverage: readText('/proc/loadavg'),
    openFileLimit: openFileLimits(),
    ephemeralPorts: readText('/proc/sys/net/ipv4/ip_local_port_range').replace(/\s+/, '-'),
    pinning,
  };
}
