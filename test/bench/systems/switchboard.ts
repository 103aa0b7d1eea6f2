import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { generateApiKey, hashApiKey } from '@switchboard/auth';

import type { BenchContext } from '../lib/context.ts';
import { startProcess, type RunningProcess } from '../lib/process.ts';
import { nodeFlags, type ServerHandle, type StartOptions, type SystemUnderTest } from './types.ts';

const REPO_ROOT = join(import.meta.dirname, '..', '..', '..');
const ENTRY = {
  auth: 'services/auth/src/main.ts',
  authorizer: 'services/channel-authorizer/src/main.ts',
  publisher: 'services/publisher/src/main.ts',
  gateway: 'services/gateway/src/main.ts',
} as const;

/** Keys the bench uses: one to subscribe, one to publish, both on the unlimited plan. */
export interface BenchKeys {
  readonly subscribe: string;
  readonly publish: string;
}

function writeCredentials(dir: string, keys: BenchKeys): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'credentials.json');
  const credentials = {
    apiKeys: [
      {
        hash: hashApiKey(keys.subscribe),
        tenant: 'bench',
        plan: 'enterprise',
        userId: 'u1',
        scopes: ['subscribe'],
      },
      {
        hash: hashApiKey(keys.publish),
        tenant: 'bench',
        plan: 'enterprise',
        appId: 'pub',
        scopes: ['publish'],
      },
    ],
    jwt: [],
  };
  writeFileSync(path, JSON.stringify(credentials, null, 2));
  return path;
}

/** With `--profile-services`: a folder per process, as tsx's loader thread writes a profile too. */
function cpuProfileFlags(ctx: BenchContext, name: string): string[] {
  if (!ctx.profileServices) return [];
  return ['--cpu-prof', `--cpu-prof-dir=${join(ctx.artefactDir, name)}`];
}

/**
 * Switchboard in distributed mode. Auth, the channel authorizer and the publisher
 * run on the load core for the whole run; the gateway, the server under test, is
 * started fresh per scenario on the server core.
 */
export class SwitchboardSystem implements SystemUnderTest {
  readonly name = 'switchboard';
  readonly keys: BenchKeys = { subscribe: generateApiKey(), publish: generateApiKey() };
  readonly #support: RunningProcess[] = [];
  #supportError: Error | undefined;
  #gateways = 0;

  constructor(readonly subjectPrefix: string) {}

  unavailable(): string | undefined {
    const missing = Object.values(ENTRY).filter((entry) => !existsSync(join(REPO_ROOT, entry)));
    return missing.length > 0 ? `${missing.join(', ')} not present yet` : undefined;
  }

  /** Starts auth, authorizer and publisher once; a failure is kept and rethrown for every later scenario. */
  async #startSupport(ctx: BenchContext): Promise<void> {
    if (this.#supportError) throw this.#supportError;
    if (this.#support.length > 0) return;
    try {
      await this.#spawnSupport(ctx);
    } catch (err) {
      this.#supportError = err instanceof Error ? err : new Error(String(err));
      await this.close();
      throw err;
    }
  }

  async #spawnSupport(ctx: BenchContext): Promise<void> {
    const config = writeCredentials(ctx.artefactDir, this.keys);
    // Auth and the authorizer log at info only when they refuse something, and say "ready" at info.
    const publisherUrl = `http://127.0.0.1:${ctx.publisherPort}`;
    const services: Array<[string, string, Record<string, string>, string | undefined]> = [
      ['auth', ENTRY.auth, { SWITCHBOARD_CONFIG: config, LOG_LEVEL: 'info' }, undefined],
      ['channel-authorizer', ENTRY.authorizer, { LOG_LEVEL: 'info' }, undefined],
      [
        'publisher',
        ENTRY.publisher,
        { PORT: String(ctx.publisherPort), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
        `${publisherUrl}/readyz`,
      ],
    ];
    for (const [name, entry, env, readyUrl] of services) {
      const running = await startProcess({
        name,
        command: process.execPath,
        args: [...cpuProfileFlags(ctx, name), '--import', 'tsx', join(REPO_ROOT, entry)],
        env: { NATS_URL: ctx.nats.url, ...env },
        cpus: ctx.cpus.load,
        readyText: readyUrl ? undefined : '"msg":"ready"',
        readyUrl,
      });
      this.#support.push(running);
    }
  }

  async start(ctx: BenchContext, options: StartOptions): Promise<ServerHandle> {
    await this.#startSupport(ctx);
    const gatewayId = `bench-${++this.#gateways}`;
    const server = await startProcess({
      name: 'gateway',
      command: process.execPath,
      args: [
        ...cpuProfileFlags(ctx, gatewayId),
        ...nodeFlags(options),
        join(REPO_ROOT, ENTRY.gateway),
      ],
      env: {
        NATS_URL: ctx.nats.url,
        PORT: String(ctx.serverPort),
        HOST: '127.0.0.1',
        GATEWAY_ID: gatewayId,
        MAX_BACKPRESSURE_BYTES: String(1024 * 1024),
        // Every bench client comes from 127.0.0.x; the baselines have no per-address limit either.
        CONNECT_RATE_PER_ADDRESS: '0',
        LOG_LEVEL: 'warn',
        // The glibc setting docs/configuration.md recommends for gateways.
        MALLOC_ARENA_MAX: '2',
        ...options.env,
      },
      cpus: ctx.cpus.server,
      readyUrl: `http://127.0.0.1:${ctx.serverPort}/readyz`,
      nofile: 1_048_576,
    });
    return {
      system: 'switchboard',
      server,
      port: ctx.serverPort,
      path: `/v1/?api_key=${this.keys.subscribe}`,
      proto: 'sb',
      subjectPrefix: this.subjectPrefix,
      stop: () => server.stop(),
    };
  }

  /**
   * A publisher service of its own on the server core, for the ingress scenario, where
   * the publisher is the server under test. It joins the running one's queue group for
   * NATS requests, which the ingress scenario does not send.
   */
  async startIngressPublisher(ctx: BenchContext): Promise<RunningProcess> {
    await this.#startSupport(ctx);
    const port = ctx.ingressPublisherPort;
    return startProcess({
      name: 'ingress-publisher',
      command: process.execPath,
      args: [
        ...cpuProfileFlags(ctx, 'ingress-publisher'),
        '--import',
        'tsx',
        join(REPO_ROOT, ENTRY.publisher),
      ],
      env: { NATS_URL: ctx.nats.url, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
      cpus: ctx.cpus.server,
      readyUrl: `http://127.0.0.1:${port}/readyz`,
    });
  }

  /** Auth, channel-authorizer and publisher, by name, once started. */
  supportPids(): Record<string, number> {
    return Object.fromEntries(this.#support.map((p) => [p.name, p.pid]));
  }

  /** The publisher service's HTTP endpoint. */
  publishUrl(ctx: BenchContext): string {
    return `http://127.0.0.1:${ctx.publisherPort}/v1/events`;
  }

  async close(): Promise<void> {
    for (const p of this.#support.splice(0).reverse()) await p.stop();
  }
}
