import { NatsBus } from '@switchboard/bus';
import { ServiceSubjects } from '@switchboard/protocol';
import { loadEnv } from '@switchboard/config';
import { logBusStatus, runMain, stopOnSignals, inOrder, VERSION } from '@switchboard/runtime';
import { createLogger, redactUserinfo, startTracing } from '@switchboard/telemetry';

import { AuthSettings } from './config.ts';
import { readCredentialsFile } from './credentials-file.ts';
import { startAuthService } from './index.ts';
import { KvKeyStore } from './key-store.ts';
import { KvRevocations } from './revocations.ts';

const logger = createLogger('auth');

runMain(logger, async () => {
  const settings = loadEnv(AuthSettings);
  logger.level = settings.LOG_LEVEL;
  const stopTracing = await startTracing('auth');
  const credentials = readCredentialsFile(settings.SWITCHBOARD_CONFIG);

  const bus = await NatsBus.connect({
    servers: settings.NATS_URL,
    credsFile: settings.NATS_CREDS,
    name: 'switchboard-auth',
  });
  logBusStatus(bus, logger);
  const unreadable = (err: unknown, key: string): void =>
    logger.error({ err, key }, 'unreadable bucket entry skipped');
  await startAuthService(bus, credentials, logger, {
    revocations: await KvRevocations.open(bus.connection, unreadable),
    createdKeys: await KvKeyStore.open(bus.connection, unreadable),
  });
  logger.info(
    {
      version: VERSION,
      mode: 'nats',
      natsUrl: redactUserinfo(settings.NATS_URL),
      config: settings.SWITCHBOARD_CONFIG,
    },
    'ready',
  );

  stopOnSignals(
    logger,
    inOrder(
      () => bus.publish(ServiceSubjects.authStopping, new Uint8Array(0)),
      () => bus.drain(),
      stopTracing,
    ),
    settings.SHUTDOWN_TIMEOUT_MS,
  );
});
