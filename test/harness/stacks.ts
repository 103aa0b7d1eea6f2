import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import type { JwtIssuer } from '@switchboard/auth';

import { createCredentials, type TestCredentials } from './credentials.ts';
import { startNats, type NatsServer } from './nats.ts';
import { freePort } from './ports.ts';
import { startService, type ExitInfo, type RunningProcess } from './processes.ts';

export type StackMode = 'standalone' | 'distributed';

/** Settings a test may override on the processes that hold client connections. */
export interface GatewaySettings {
  readonly AUTH_TIMEOUT_MS?: number;
  readonly PING_INTERVAL_MS?: number;
  readonly PING_TIMEOUT_MS?: number;
  readonly MAX_MESSAGE_BYTES?: number;
  readonly MAX_AUTH_FAILURES?: number;
  readonly UPSTREAM_TIMEOUT_MS?: number;
  readonly CONNECT_RATE_PER_ADDRESS?: number;
  readonly MAX_BACKPRESSURE_BYTES?: number;
  readonly HEARTBEAT_INTERVAL_MS?: number;
  readonly EXPIRY_NOTICE_MS?: number;
  readonly ALLOWED_ORIGINS?: string;
  readonly LOG_LEVEL?: string;
}

/** Settings of the channel-authorizer process (distributed mode only). */
export interface AuthorizerSettings {
  readonly GATEWAY_LEASE_MS?: number;
}

/** What a stack is deployed with besides environment settings. */
export interface StackOptions {
  /** Contents of a channels file (CHANNELS_FILE) for the authorizer and the publisher. */
  readonly channels?: unknown;
  /**
   * A NATS server where domain services answer delegate policies and announce permission
   * changes: the stack's own in distributed mode, one started for the purpose in standalone.
   */
  readonly domainNats?: boolean;
  /** JWT issuers the auth service trusts besides the stack's own HS256 one. */
  readonly jwtIssuers?: readonly JwtIssuer[];
}

/**
 * Every test client connects from 127.0.0.1, so the per-address connection rate limit is
 * off unless a test sets it.
 */
const TEST_DEFAULTS: GatewaySettings = { CONNECT_RATE_PER_ADDRESS: 0 };

/** A running Switchboard, whichever way it is deployed. */
export interface Stack {
  readonly mode: StackMode;
  /** `ws://127.0.0.1:PORT/v1/`: one in standalone mode, one per gateway otherwise. */
  readonly gatewayUrls: readonly string[];
  /** `http://127.0.0.1:PORT/v1/events`. */
  readonly publishUrl: string;
  /** Only in distributed mode. */
  readonly natsUrl?: string;
  /** Where domain services reach the authorizer (with `domainNats`). */
  readonly domainNatsUrl?: string;
  /** Restarts the NATS server behind `domainNatsUrl`, so every client of it reconnects. */
  restartDomainNats(): Promise<void>;
  readonly credentials: TestCredentials;
  /** Sends SIGTERM to the process behind `gatewayUrls[index]` and waits for it to exit. */
  terminateGateway(index: number): Promise<ExitInfo>;
  /** SIGKILLs the process behind `gatewayUrls[index]`: a crash, nothing released. */
  killGateway(index: number): Promise<ExitInfo>;
  /** Stops a back-end service (distributed mode only), to see how the rest copes. */
  stopService(name: 'auth' | 'channel-authorizer'): Promise<ExitInfo>;
  /** Output of every process so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

export interface StackLauncher {
  readonly mode: StackMode;
  start(
    settings?: GatewaySettings,
    authorizer?: AuthorizerSettings,
    options?: StackOptions,
  ): Promise<Stack>;
}

function settingsEnv(settings: GatewaySettings): Record<string, string> {
  return Object.fromEntries(
    Object.entries({ ...TEST_DEFAULTS, ...settings })
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => [key, String(value)]),
  );
}

function gatewayUrl(port: number): string {
  return `ws://127.0.0.1:${port}/v1/`;
}

/** Starts every process, or stops the ones that did start and rethrows. */
async function startAll(starts: ReadonlyArray<Promise<RunningProcess>>): Promise<RunningProcess[]> {
  const results = await Promise.allSettled(starts);
  const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (!failure) return started;
  await Promise.all(started.map((p) => p.stop()));
  throw failure.reason;
}

function outputOf(processes: readonly RunningProcess[]): string {
  return processes.flatMap((p) => p.lines).join('\n');
}

function restartOf(server: NatsServer | undefined): Promise<void> {
  if (!server?.restart) throw new Error('this stack has no domain NATS server it can restart');
  return server.restart();
}

/** Writes the channels file next to the credentials; the env that points at it. */
async function channelsEnv(
  credentials: TestCredentials,
  options: StackOptions,
): Promise<Record<string, string>> {
  if (options.channels === undefined) return {};
  const path = join(dirname(credentials.path), 'channels.json');
  await writeFile(path, JSON.stringify(options.channels, null, 2));
  return { CHANNELS_FILE: path };
}

/** One process: gateway, publisher, auth and authorizer over the in-memory bus. */
export const standalone: StackLauncher = {
  mode: 'standalone',
  async start(settings = {}, _authorizer = {}, options = {}) {
    const credentials = await createCredentials(options.jwtIssuers);
    const domain = options.domainNats ? await startNats() : undefined;
    const port = await freePort();
    const env = {
      PORT: String(port),
      HOST: '127.0.0.1',
      SWITCHBOARD_CONFIG: credentials.path,
      ...(await channelsEnv(credentials, options)),
      ...(domain ? { AUTHZ_NATS_URL: domain.url } : {}),
    };
    let server: RunningProcess;
    try {
      server = await startService('standalone', { ...env, ...settingsEnv(settings) });
    } catch (error) {
      await domain?.stop();
      await credentials.remove();
      throw error;
    }

    return {
      mode: 'standalone',
      gatewayUrls: [gatewayUrl(port)],
      publishUrl: `http://127.0.0.1:${port}/v1/events`,
      domainNatsUrl: domain?.url,
      restartDomainNats: () => restartOf(domain),
      credentials,
      terminateGateway: () => server.stop(),
      killGateway: () => server.kill(),
      stopService: () => {
        throw new Error('standalone mode has no separate services to stop');
      },
      output: () => outputOf([server]),
      stop: async () => {
        await server.stop();
        await domain?.stop();
        await credentials.remove();
      },
    };
  },
};

/** NATS plus auth, channel-authorizer, publisher and two gateways, each its own process. */
export const distributed: StackLauncher = {
  mode: 'distributed',
  async start(settings = {}, authorizer = {}, options = {}) {
    const credentials = await createCredentials(options.jwtIssuers);
    const channels = await channelsEnv(credentials, options);
    const nats = await startNats();
    const [publisherPort, port1, port2] = await Promise.all([freePort(), freePort(), freePort()]);
    const bus = { NATS_URL: nats.url };
    const gateway = (id: string, port: number): Record<string, string> => ({
      ...bus,
      PORT: String(port),
      HOST: '127.0.0.1',
      GATEWAY_ID: id,
      ...settingsEnv(settings),
    });

    let processes: RunningProcess[];
    try {
      processes = await startAll([
        startService('auth', { ...bus, SWITCHBOARD_CONFIG: credentials.path }),
        startService(
          'channelAuthorizer',
          {
            ...bus,
            ...channels,
            ...Object.fromEntries(Object.entries(authorizer).map(([k, v]) => [k, String(v)])),
          },
          'channel-authorizer',
        ),
        startService('publisher', {
          ...bus,
          ...channels,
          PORT: String(publisherPort),
          HOST: '127.0.0.1',
        }),
        startService('gateway', gateway('gw-1', port1), 'gw-1'),
        startService('gateway', gateway('gw-2', port2), 'gw-2'),
      ]);
    } catch (error) {
      await nats.stop();
      await credentials.remove();
      throw error;
    }
    const gateways = processes.slice(3);
    const gatewayAt = (index: number): RunningProcess => {
      const target = gateways[index];
      if (!target) throw new Error(`there is no gateway ${index}`);
      return target;
    };

    return {
      mode: 'distributed',
      gatewayUrls: [gatewayUrl(port1), gatewayUrl(port2)],
      publishUrl: `http://127.0.0.1:${publisherPort}/v1/events`,
      natsUrl: nats.url,
      domainNatsUrl: options.domainNats ? nats.url : undefined,
      restartDomainNats: () => restartOf(options.domainNats ? nats : undefined),
      credentials,
      terminateGateway: (index) => gatewayAt(index).stop(),
      killGateway: (index) => gatewayAt(index).kill(),
      stopService: (name) => (name === 'auth' ? processes[0]! : processes[1]!).stop(),
      output: () => outputOf(processes),
      stop: async () => {
        await Promise.all(gateways.map((g) => g.stop()));
        await Promise.all(processes.slice(0, 3).map((p) => p.stop()));
        await nats.stop();
        await credentials.remove();
      },
    };
  },
};

/** The deployments every conformance suite runs against. */
export const STACK_LAUNCHERS: readonly StackLauncher[] = [standalone, distributed];
