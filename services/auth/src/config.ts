import Type from 'typebox';

import { Setting } from '@switchboard/config';

/** Environment of the auth service. */
export const AuthSettings = Type.Object({
  NATS_URL: Setting.natsUrl(),
  NATS_CREDS: Setting.natsCreds(),
  SWITCHBOARD_CONFIG: Type.String({
    minLength: 1,
    description: 'Path of the credentials file (API key hashes, JWT issuers)',
  }),
  LOG_LEVEL: Setting.logLevel(),
  SHUTDOWN_TIMEOUT_MS: Setting.millis(10_000, 'Longest graceful shutdown before exit(1)'),
});
