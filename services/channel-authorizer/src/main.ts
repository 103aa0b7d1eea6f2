import Type from 'typebox';

import { NatsBus } from '@switchboard/bus';
import { loadEnv, Setting } from '@switchboard/config';
import { logBusStatus, runMain, stopOnSignals, VERSION } from '@switchboard/runtime';
import { createLogger, startTracing } from '@switchboard/telemetry';

import { KvLedger } from './kv-ledger.ts';
import { serveConnectionLimits } from './limits-service.ts';
import { startChannelAuthorizer } from './service.ts';

const Settings = Type.Object({
  NATS_URL: Setting.natsUrl(),
  LOG_LEVEL: Setting.logLevel(),
  SHUTDOWN_TIMEOUT_MS: Setting.millis(10_000, 'Longest graceful shutdown before exit(1)'),
  GATEWAY_LEASE_MS: Setting.millis(
    15_000,
    'A gateway silent this long loses its connections from the counts (gateways beat every HEARTBEAT_INTERVAL_MS)',
    1_000,
  ),
});

const logger = createLogger('channel-authorizer', process.env.LOG_LEVEL);

runMain(logger, async () => {
  const settings = loadEnv(Settings);
  logger.level = settings.LOG_LEVEL;
  const stopTracing = await startTracing('channel-authorizer');

  const bus = await NatsBus.connect({
    servers: settings.NATS_URL,
    name: 'switchboard-channel-authorizer',
  });
  logBusStatus(bus, logger);
  await startChannelAuthorizer(bus, logger);
  const ledger = await KvLedger.open(bus.connection, settings.GATEWAY_LEASE_MS);
  await serveConnectionLimits(bus, ledger, logger);
  logger.info(
    {
      version: VERSION,
      mode: 'nats',
      natsUrl: settings.NATS_URL,
      gatewayLeaseMs: settings.GATEWAY_LEASE_MS,
    },
    'ready',
  );

  stopOnSignals(
    logger,
    async () => {
      await bus.drain();
      await stopTracing();
    },
    settings.SHUTDOWN_TIMEOUT_MS,
  );
});
