import Type from 'typebox';

import { Setting } from '@switchboard/config';

/** Environment of the channel-authorizer service (subscription grants and connection limits). */
export const AuthorizerSettings = Type.Object({
  NATS_URL: Setting.natsUrl(),
  NATS_CREDS: Setting.natsCreds(),
  CHANNELS_FILE: Setting.channelsFile(),
  LOG_LEVEL: Setting.logLevel(),
  SHUTDOWN_TIMEOUT_MS: Setting.millis(10_000, 'Longest graceful shutdown before exit(1)'),
  GATEWAY_LEASE_MS: Setting.millis(
    15_000,
    'A gateway silent this long loses its connections from the counts (gateways beat every HEARTBEAT_INTERVAL_MS)',
    1_000,
  ),
});
