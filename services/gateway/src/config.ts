import Type, { type Static } from 'typebox';

import { Setting } from '@switchboard/config';

/** Settings of the WebSocket side; shared by the gateway service and standalone mode. */
export const SocketSettings = Type.Object({
  HOST: Type.String({ default: '0.0.0.0', description: 'Address the WebSocket server listens on' }),
  PORT: Setting.port(8080, 'Port of the WebSocket API (`/v1/`)'),
  ALLOWED_ORIGINS: Type.String({
    default: '',
    description:
      'Browser origins that may connect: exact origins, `localhost` (any loopback port) or `*`, comma-separated; others get 403',
  }),
  AUTH_TIMEOUT_MS: Setting.millis(30_000, 'Time a new connection has to authenticate (close 4001)'),
  MAX_AUTH_FAILURES: Type.Integer({
    minimum: 1,
    default: 3,
    description: 'Failed auth attempts before the connection is closed (close 4500)',
  }),
  PING_INTERVAL_MS: Setting.millis(
    25_000,
    'Interval of the server\'s `{"type":"ping"}` and of the liveness check',
    50,
  ),
  PING_TIMEOUT_MS: Setting.millis(
    60_000,
    'Silence after which a connection is closed (close 4000)',
    100,
  ),
  MAX_MESSAGE_BYTES: Setting.bytes(
    65_536,
    'Largest client frame; larger ones close the connection with 1009',
  ),
  CONNECT_RATE_PER_ADDRESS: Type.Integer({
    minimum: 0,
    default: 50,
    description:
      'New connections per second from one address (burst: twice that); more get HTTP 429. 0: no limit',
  }),
  MAX_BACKPRESSURE_BYTES: Setting.bytes(
    4 * 1024 * 1024,
    'Outbound bytes buffered per socket before it is closed as a slow consumer',
  ),
  UPSTREAM_TIMEOUT_MS: Setting.millis(
    2_000,
    'Timeout of requests to the auth and channel-authorizer services',
  ),
  AUTH_CACHE_MS: Setting.millis(
    5_000,
    'How long an accepted API key is trusted before auth is asked again (revocations apply at once); 0 asks for every connection',
    0,
  ),
  EXPIRY_NOTICE_MS: Setting.millis(
    60_000,
    'How long before a credential expires the client gets `auth_expiring` (then close 4501)',
  ),
  HEARTBEAT_INTERVAL_MS: Setting.millis(
    5_000,
    "Interval of the heartbeat that keeps this gateway's connections counted (see GATEWAY_LEASE_MS)",
    100,
  ),
  MEMORY_TRIM_CONNECTIONS: Type.Integer({
    minimum: 0,
    default: 1_000,
    description:
      'Connections opened or closed after which, once they quieten, free C heap memory is returned to the system (glibc only). 0: never',
  }),
  SHUTDOWN_TIMEOUT_MS: Setting.millis(10_000, 'Longest graceful shutdown before exit(1)'),
  LOG_LEVEL: Setting.logLevel(),
});
export type SocketSettings = Static<typeof SocketSettings>;

/** Environment of the gateway service. */
export const GatewaySettings = Type.Object({
  ...SocketSettings.properties,
  NATS_URL: Setting.natsUrl(),
  NATS_CREDS: Setting.natsCreds(),
  GATEWAY_ID: Type.Optional(
    Type.String({
      pattern: '^[A-Za-z0-9_-]{1,64}$',
      description: 'Name of this gateway in logs and NATS (default: host name)',
    }),
  ),
});
