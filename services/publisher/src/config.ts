import Type from 'typebox';

import { Setting } from '@switchboard/config';

/** Environment of the publisher service. */
export const PublisherSettings = Type.Object({
  NATS_URL: Setting.natsUrl(),
  NATS_CREDS: Setting.natsCreds(),
  HOST: Type.String({ default: '0.0.0.0', description: 'Address the publish API listens on' }),
  PORT: Setting.port(8090, 'Port of the publish API (`POST /v1/events`)'),
  MAX_BODY_BYTES: Setting.bytes(65_536, 'Largest publish request body; larger ones get 413'),
  UPSTREAM_TIMEOUT_MS: Setting.millis(2_000, 'Timeout of requests to the auth service'),
  CHANNELS_FILE: Setting.channelsFile(),
  AUTH_CACHE_MS: Setting.millis(
    5_000,
    'How long an accepted server key is trusted before auth is asked again (revocations apply at once); 0 asks on every publish',
    0,
  ),
  LOG_LEVEL: Setting.logLevel(),
  SHUTDOWN_TIMEOUT_MS: Setting.millis(10_000, 'Longest graceful shutdown before exit(1)'),
});
