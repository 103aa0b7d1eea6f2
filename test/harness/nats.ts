import { accessSync, constants, existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

import { assertAcceptsTcp, freePort } from './ports.ts';
import { spawnProcess } from './processes.ts';

/** A NATS server the distributed stack can use. */
export interface NatsServer {
  readonly url: string;
  /** Where it came from: the NATS_URL variable, a local binary, or a container. */
  readonly source: 'env' | 'binary' | 'container';
  /** Stops the server and starts it again on the same port and store (local binary only). */
  restart?(): Promise<void>;
  stop(): Promise<void>;
}

const HOW_TO_GET_NATS = [
  'No NATS server for the distributed tests. Either',
  '  - install nats-server on PATH (Debian/Ubuntu: apt-get install nats-server;',
  '    elsewhere: https://github.com/nats-io/nats-server/releases), or',
  '  - start one with JetStream yourself and set NATS_URL=nats://host:4222, or',
  '  - make a Docker engine reachable (/var/run/docker.sock or DOCKER_HOST).',
].join('\n');

/** Finds an executable on PATH, or undefined. */
function onPath(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      continue;
    }
  }
  return undefined;
}

function dockerReachable(): boolean {
  return Boolean(process.env.DOCKER_HOST) || existsSync('/var/run/docker.sock');
}

async function startBinary(binary: string): Promise<NatsServer> {
  const port = await freePort();
  const storeDir = await mkdtemp(join(tmpdir(), 'switchboard-nats-'));
  const spawn = async () => {
    const spawned = await spawnProcess({
      name: 'nats-server',
      command: binary,
      args: ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir],
      env: {},
      isReady: (line) => line.includes('Server is ready'),
    });
    await assertAcceptsTcp('127.0.0.1', port);
    return spawned;
  };
  let server = await spawn();

  return {
    url: `nats://127.0.0.1:${port}`,
    source: 'binary',
    restart: async () => {
      await server.stop();
      server = await spawn();
    },
    stop: async () => {
      await server.stop();
      await rm(storeDir, { recursive: true, force: true });
    },
  };
}

async function startContainer(): Promise<NatsServer> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const container = await new GenericContainer('nats:2.10')
    .withCommand(['-js'])
    .withExposedPorts(4222)
    .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
    .start();
  return {
    url: `nats://${container.getHost()}:${container.getMappedPort(4222)}`,
    source: 'container',
    stop: async () => {
      await container.stop();
    },
  };
}

/**
 * A NATS server for one suite: NATS_URL when set (left running at the end), else a
 * `nats-server` on PATH on a free port, else a container. Throws, never skips, when
 * there is none.
 */
export async function startNats(): Promise<NatsServer> {
  const fromEnv = process.env.NATS_URL;
  if (fromEnv) return { url: fromEnv, source: 'env', stop: async () => {} };

  const binary = onPath('nats-server');
  if (binary) return startBinary(binary);

  if (dockerReachable()) return startContainer();
  throw new Error(HOW_TO_GET_NATS);
}
