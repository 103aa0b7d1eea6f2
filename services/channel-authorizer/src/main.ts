import { NatsBus } from '@switchboard/bus';
import { loadEnv } from '@switchboard/config';
import { logBusStatus, runMain, stopOnSignals, inOrder, VERSION } from '@switchboard/runtime';
import { ChannelRegistry } from '@switchboard/protocol';
import { createLogger, redactUserinfo, startTracing } from '@switchboard/telemetry';

import { AuthorizerSettings } from './config.ts';
import { KvLedger } from './kv-ledger.ts';
import { serveConnectionLimits } from './limits-service.ts';
import { startChannelAuthorizer } from './service.ts';

const logger = createLogger('channel-authorizer');

runMain(logger, async () => {
  const settings = loadEnv(AuthorizerSettings);
  logger.level = settings.LOG_LEVEL;
  const stopTracing = await startTracing('channel-authorizer');

  const bus = await NatsBus.connect({
    servers: settings.NATS_URL,
    credsFile: settings.NATS_CREDS,
    name: 'switchboard-channel-authorizer',
  });
  logBusStatus(bus, logger);
  const registry = settings.CHANNELS_FILE
    ? ChannelRegistry.fromFile(settings.CHANNELS_FILE)
    : ChannelRegistry.defaults();
  await startChannelAuthorizer(bus, logger, { registry });
  const ledger = await KvLedger.open(bus.connection, settings.GATEWAY_LEASE_MS);
  await serveConnectionLimits(bus, ledger, logger);
  logger.info(
    {
      version: VERSION,
      mode: 'nats',
      natsUrl: redactUserinfo(settings.NATS_URL),
      gatewayLeaseMs: settings.GATEWAY_LEASE_MS,
      channels: settings.CHANNELS_FILE ?? 'built-in',
    },
    'ready',
  );

  stopOnSignals(
    logger,
    inOrder(() => bus.drain(), stopTracing),
    settings.SHUTDOWN_TIMEOUT_MS,
  );
});
