import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startProcess, StartError, type RunningProcess } from './process.ts';

/** The bench's own nats-server, with its monitoring port open. */
export interface BenchNats {
  readonly url: string;
  readonly monitorUrl: string;
  readonly process: RunningProcess;
}

/** Fails with a clear message when nats-server is not installed. */
export function requireNatsServer(): string {
  const probe = spawnSync('nats-server', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new StartError(
      'nats-server not found on PATH; install it (https://github.com/nats-io/nats-server/releases) and rerun',
    );
  }
  return probe.stdout.trim();
}

/** Starts nats-server on the given ports, pinned to the load core, with JetStream (the authorizer keeps a KV ledger). */
export async function startNats(
  port: number,
  monitorPort: number,
  cpus: string | undefined,
): Promise<BenchNats> {
  const process = await startProcess({
    name: 'nats-server',
    command: 'nats-server',
    args: [
      ...['-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort)],
      ...['-js', '-sd', mkdtempSync(join(tmpdir(), 'switchboard-bench-js-'))],
    ],
    cpus,
    readyText: 'Server is ready',
    nofile: 1_048_576,
  });
  return {
    url: `nats://127.0.0.1:${port}`,
    monitorUrl: `http://127.0.0.1:${monitorPort}`,
    process,
  };
}

interface ConnzConnection {
  readonly name?: string;
  readonly subscriptions_list?: readonly string[];
}

/**
 * Subscriptions to event subjects (`sb.ev.…`) per client connection name, from
 * /connz?subs=1; request inboxes and service endpoints are left out.
 */
export async function subscriptionsByClient(monitorUrl: string): Promise<Record<string, number>> {
  const response = await fetch(`${monitorUrl}/connz?subs=1&limit=1024`);
  const body = (await response.json()) as { connections?: readonly ConnzConnection[] };
  const counts: Record<string, number> = {};
  for (const c of body.connections ?? []) {
    const name = c.name ?? '(unnamed)';
    const events = (c.subscriptions_list ?? []).filter((subject) =>
      subject.startsWith('sb.ev.'),
    ).length;
    counts[name] = (counts[name] ?? 0) + events;
  }
  return counts;
}
