import {
  AuthClient,
  MemoryRevocations,
  readCredentialsFile,
  startAuthService,
} from '@switchboard/auth';
import { MemoryBus, NatsBus } from '@switchboard/bus';
import {
  MemoryLedger,
  serveConnectionLimits,
  startChannelAuthorizer,
} from '@switchboard/channel-authorizer';
import { loadEnv } from '@switchboard/config';
import { Gateway } from '@switchboard/gateway';
import {
  AdminApi,
  EventPublisher,
  mountAdminApi,
  mountPublishApi,
  servePublishEndpoint,
} from '@switchboard/publisher';
import {
  logBusStatus,
  mountHealthAndFallback,
  runMain,
  stopOnSignals,
  inOrder,
  VERSION,
} from '@switchboard/runtime';
import { ChannelRegistry, PERMISSION_CHANGES } from '@switchboard/protocol';
import { createLogger, redactUserinfo, startTracing } from '@switchboard/telemetry';

import { StandaloneSettings } from './config.ts';
import { createDemoCredentials, demoBanner } from './demo.ts';

const logger = createLogger('standalone');

/** Wildcard listen addresses are reached through loopback in the printed examples. */
const HOST_FOR_URLS: Record<string, string> = { '0.0.0.0': '127.0.0.1', '::': '[::1]' };

/** All four services in one process on the in-process bus. */
runMain(logger, async () => {
  const settings = loadEnv(StandaloneSettings);
  logger.level = settings.LOG_LEVEL;
  const level = settings.LOG_LEVEL;
  const stopTracing = await startTracing('standalone');

  const demo = settings.SWITCHBOARD_CONFIG ? undefined : await createDemoCredentials();
  const credentials = demo?.credentials ?? readCredentialsFile(settings.SWITCHBOARD_CONFIG!);

  const bus = new MemoryBus();
  logBusStatus(bus, logger);
  const revocations = new MemoryRevocations();
  await startAuthService(bus, credentials, createLogger('auth', level), { revocations });
  const authorizerLogger = createLogger('channel-authorizer', level);
  const channels = settings.CHANNELS_FILE
    ? ChannelRegistry.fromFile(settings.CHANNELS_FILE)
    : ChannelRegistry.defaults();
  // Domain services reach an in-process authorizer through NATS, when one is configured.
  const domainBus = settings.AUTHZ_NATS_URL
    ? await NatsBus.connect({
        servers: settings.AUTHZ_NATS_URL,
        credsFile: settings.NATS_CREDS,
        name: 'switchboard-standalone-authz',
      })
    : undefined;
  if (domainBus) {
    logBusStatus(domainBus, logger);
    // The gateway follows permission changes on the in-process bus.
    domainBus.subscribe(PERMISSION_CHANGES, (m) => bus.publish(m.subject, m.data, m.headers));
  }
  await startChannelAuthorizer(bus, authorizerLogger, {
    registry: channels,
    delegateBus: domainBus,
  });
  await serveConnectionLimits(bus, new MemoryLedger(), authorizerLogger);

  const publisherLogger = createLogger('publisher', level);
  const auth = new AuthClient(bus, settings.UPSTREAM_TIMEOUT_MS);
  const publisher = new EventPublisher(bus, auth, publisherLogger, channels);
  await servePublishEndpoint(bus, publisher, {
    maxBodyBytes: settings.MAX_BODY_BYTES,
    logger: publisherLogger,
  });

  const gateway = new Gateway(bus, settings, createLogger('gateway', level), { revocations });
  // Permission changes come in over AUTHZ_NATS_URL: re-check when that connection comes back.
  if (domainBus) gateway.recheckAfterReconnects(domainBus);
  const http = { maxBodyBytes: settings.MAX_BODY_BYTES, logger: publisherLogger };
  mountPublishApi(gateway.app, publisher, http);
  mountAdminApi(
    gateway.app,
    new AdminApi(bus, auth, settings.UPSTREAM_TIMEOUT_MS, publisherLogger),
    http,
  );
  mountHealthAndFallback(gateway.app, () => gateway.ready);
  const port = await gateway.listen();

  const base = `${HOST_FOR_URLS[settings.HOST] ?? settings.HOST}:${port}`;
  const endpoints = {
    title: 'Switchboard (standalone)',
    socketUrls: [`ws://${base}/v1/`],
    publishUrl: `http://${base}/v1/events`,
  };
  if (demo) process.stdout.write(`${demoBanner(demo, endpoints)}\n`);
  const {
    HOST,
    SWITCHBOARD_CONFIG,
    LOG_LEVEL,
    CHANNELS_FILE,
    AUTHZ_NATS_URL,
    NATS_CREDS,
    ...limits
  } = settings;
  logger.info(
    {
      version: VERSION,
      mode: 'standalone',
      host: HOST,
      port,
      config: SWITCHBOARD_CONFIG ?? 'demo',
      channels: CHANNELS_FILE ?? 'built-in',
      authzNatsUrl: AUTHZ_NATS_URL && redactUserinfo(AUTHZ_NATS_URL),
      natsCreds: NATS_CREDS !== undefined || undefined,
      logLevel: LOG_LEVEL,
      ...limits,
    },
    'ready',
  );

  stopOnSignals(
    logger,
    inOrder(
      () => gateway.stop(),
      () => bus.drain(),
      () => domainBus?.drain(),
      stopTracing,
    ),
    settings.SHUTDOWN_TIMEOUT_MS,
  );
});
