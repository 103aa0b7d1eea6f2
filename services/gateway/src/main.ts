import { hostname } from 'node:os';

import { KvRevocations } from '@switchboard/auth';
import { NatsBus } from '@switchboard/bus';
import { loadEnv } from '@switchboard/config';
import {
  logBusStatus,
  mountHealthAndFallback,
  runMain,
  stopOnSignals,
  inOrder,
  VERSION,
} from '@switchboard/runtime';
import { createLogger, redactUserinfo, startTracing } from '@switchboard/telemetry';

import { GatewaySettings } from './config.ts';
import { Gateway } from './gateway.ts';

const logger = createLogger('gateway');

runMain(logger, async () => {
  const settings = loadEnv(GatewaySettings);
  logger.level = settings.LOG_LEVEL;
  const gatewayId = settings.GATEWAY_ID ?? hostname();
  const stopTracing = await startTracing('gateway');

  const bus = await NatsBus.connect({
    servers: settings.NATS_URL,
    credsFile: settings.NATS_CREDS,
    name: `switchboard-gateway-${gatewayId}`,
  });
  logBusStatus(bus, logger);
  const gateway = new Gateway(bus, settings, logger.child({ gatewayId }), {
    gatewayId,
    revocations: await KvRevocations.open(bus.connection, (err, key) =>
      logger.error({ err, key }, 'unreadable revocation skipped'),
    ),
  });
  mountHealthAndFallback(gateway.app, () => gateway.ready);
  const port = await gateway.listen();

  const { NATS_URL, HOST, LOG_LEVEL, ...limits } = settings;
  logger.info(
    {
      version: VERSION,
      mode: 'nats',
      gatewayId,
      natsUrl: redactUserinfo(NATS_URL),
      host: HOST,
      port,
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
      stopTracing,
    ),
    settings.SHUTDOWN_TIMEOUT_MS,
  );
});
