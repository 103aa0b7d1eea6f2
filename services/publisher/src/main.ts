import uWS from 'uWebSockets.js';

import { AuthClient, CachingAuthClient, KvRevocations } from '@switchboard/auth';
import { NatsBus } from '@switchboard/bus';
import { loadEnv } from '@switchboard/config';
import {
  listen,
  logBusStatus,
  mountHealthAndFallback,
  runMain,
  stopListening,
  stopOnSignals,
  inOrder,
  VERSION,
} from '@switchboard/runtime';
import { ChannelRegistry } from '@switchboard/protocol';
import { createLogger, redactUserinfo, startTracing } from '@switchboard/telemetry';

import { PublisherSettings } from './config.ts';
import { AdminApi } from './admin.ts';
import { mountAdminApi, mountPublishApi } from './http.ts';
import { servePublishEndpoint } from './nats-endpoint.ts';
import { EventPublisher } from './publisher.ts';

const logger = createLogger('publisher');

/** Server keys for publishing, remembered for `ttlMs` unless the revocation bucket says otherwise. */
async function keyCache(
  bus: NatsBus,
  auth: AuthClient,
  ttlMs: number,
): Promise<CachingAuthClient | undefined> {
  if (ttlMs === 0) return undefined;
  const revocations = await KvRevocations.open(bus.connection, (err, key) =>
    logger.error({ err, key }, 'unreadable revocation skipped'),
  );
  const cache = new CachingAuthClient(auth, revocations, { ttlMs });
  cache.followAuthStops(bus);
  return cache;
}

runMain(logger, async () => {
  const settings = loadEnv(PublisherSettings);
  logger.level = settings.LOG_LEVEL;
  const stopTracing = await startTracing('publisher');

  const bus = await NatsBus.connect({
    servers: settings.NATS_URL,
    credsFile: settings.NATS_CREDS,
    name: 'switchboard-publisher',
  });
  logBusStatus(bus, logger);
  const auth = new AuthClient(bus, settings.UPSTREAM_TIMEOUT_MS);
  const channels = settings.CHANNELS_FILE
    ? ChannelRegistry.fromFile(settings.CHANNELS_FILE)
    : ChannelRegistry.defaults();
  const cache = await keyCache(bus, auth, settings.AUTH_CACHE_MS);
  const publisher = new EventPublisher(bus, cache ?? auth, logger, channels);
  await servePublishEndpoint(bus, publisher, { maxBodyBytes: settings.MAX_BODY_BYTES, logger });

  const app = uWS.App();
  let stopping = false;
  const http = { maxBodyBytes: settings.MAX_BODY_BYTES, logger };
  mountPublishApi(app, publisher, http);
  const admin = new AdminApi(bus, auth, settings.UPSTREAM_TIMEOUT_MS, logger, () =>
    cache?.forgetAll(),
  );
  mountAdminApi(app, admin, http);
  mountHealthAndFallback(app, () => !stopping);
  const { socket, port } = await listen(app, settings.HOST, settings.PORT);
  logger.info(
    {
      version: VERSION,
      mode: 'nats',
      natsUrl: redactUserinfo(settings.NATS_URL),
      host: settings.HOST,
      port,
      maxBodyBytes: settings.MAX_BODY_BYTES,
      channels: settings.CHANNELS_FILE ?? 'built-in',
      authCacheMs: settings.AUTH_CACHE_MS,
    },
    'ready',
  );

  stopOnSignals(
    logger,
    inOrder(
      () => (stopping = true),
      () => stopListening(socket),
      () => bus.drain(),
      stopTracing,
    ),
    settings.SHUTDOWN_TIMEOUT_MS,
  );
});
