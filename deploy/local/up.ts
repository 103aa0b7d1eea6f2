/**
 * Brings up the distributed stack on this machine: a nats-server (unless NATS_URL is
 * set), auth, channel-authorizer, publisher and two gateways, each its own process.
 *
 *   npm run start:distributed
 *
 * Ports: gateways 8081 and 8082, publisher 8090, NATS 4223 (NATS_PORT to change).
 * Credentials: SWITCHBOARD_CONFIG, or fresh demo keys written to .switchboard/local/.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join, resolve } from 'node:path';

import { createDemoCredentials, demoBanner } from '@switchboard/standalone';

const root = resolve(import.meta.dirname, '../..');
const stateDir = join(root, '.switchboard/local');
const children: Array<{ name: string; child: ChildProcess }> = [];

function start(
  name: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<void> {
  // Own process group: Ctrl-C reaches only this script, which then stops services before NATS.
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.push({ name, child });
  return new Promise((ready, failed) => {
    const onLine = (line: string): void => {
      process.stdout.write(`${name.padEnd(18)} ${line}\n`);
      if (line.includes('"msg":"ready"') || line.includes('Server is ready')) ready();
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    child.once('exit', (code) =>
      failed(new Error(`${name} exited with ${code} before it was ready`)),
    );
    child.once('error', failed);
  });
}

function service(name: string, entry: string, env: NodeJS.ProcessEnv): Promise<void> {
  return start(name, process.execPath, ['--import', 'tsx', `services/${entry}/src/main.ts`], env);
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    child.once('exit', () => done());
    child.kill('SIGTERM');
  });
}

/** Services first (they drain into NATS), then NATS. */
async function stopAll(): Promise<void> {
  const nats = children.filter((c) => c.name === 'nats');
  await Promise.all(children.filter((c) => c.name !== 'nats').map((c) => stop(c.child)));
  await Promise.all(nats.map((c) => stop(c.child)));
}

async function main(): Promise<void> {
  let natsUrl = process.env.NATS_URL;
  if (!natsUrl) {
    const found = spawnSync('nats-server', ['--version'], { encoding: 'utf8' });
    if (found.error) {
      throw new Error(
        'nats-server is not on PATH: install it (Debian: apt-get install nats-server) or set NATS_URL',
      );
    }
    const port = process.env.NATS_PORT ?? '4223';
    mkdirSync(join(stateDir, 'jetstream'), { recursive: true });
    await start(
      'nats',
      'nats-server',
      ['-a', '127.0.0.1', '-p', port, '-js', '-sd', join(stateDir, 'jetstream')],
      {},
    );
    natsUrl = `nats://127.0.0.1:${port}`;
  }

  let configPath = process.env.SWITCHBOARD_CONFIG;
  const demo = configPath ? undefined : await createDemoCredentials();
  if (demo) {
    mkdirSync(stateDir, { recursive: true });
    configPath = join(stateDir, 'credentials.json');
    writeFileSync(configPath, JSON.stringify(demo.credentials, null, 2), { mode: 0o600 });
  }

  const common = { NATS_URL: natsUrl, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' };
  const origins = { ALLOWED_ORIGINS: process.env.ALLOWED_ORIGINS ?? 'localhost' };
  // glibc settings that keep the gateways' resident memory down (docs/configuration.md).
  const malloc = { MALLOC_ARENA_MAX: '2' };
  await Promise.all([
    service('auth', 'auth', { ...common, SWITCHBOARD_CONFIG: configPath }),
    service('channel-authorizer', 'channel-authorizer', common),
    service('publisher', 'publisher', { ...common, HOST: '127.0.0.1', PORT: '8090' }),
    service('gateway-1', 'gateway', {
      ...common,
      HOST: '127.0.0.1',
      PORT: '8081',
      GATEWAY_ID: 'gw-1',
      ...origins,
      ...malloc,
    }),
    service('gateway-2', 'gateway', {
      ...common,
      HOST: '127.0.0.1',
      PORT: '8082',
      GATEWAY_ID: 'gw-2',
      ...origins,
      ...malloc,
    }),
  ]);

  const endpoints = {
    title: `Switchboard (distributed, ${natsUrl})`,
    socketUrls: ['ws://127.0.0.1:8081/v1/', 'ws://127.0.0.1:8082/v1/'],
    publishUrl: 'http://127.0.0.1:8090/v1/events',
  };
  if (demo) process.stdout.write(`${demoBanner(demo, endpoints)}\nCtrl-C stops everything.\n`);
}

const onSignal = (): void => void stopAll();
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);
main().catch(async (error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
  await stopAll();
});
