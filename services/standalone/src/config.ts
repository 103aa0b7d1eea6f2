import Type from 'typebox';

import { Setting } from '@switchboard/config';
import { SocketSettings } from '@switchboard/gateway';

/** Environment of standalone mode: the gateway's settings plus the publish API's. */
export const StandaloneSettings = Type.Object({
  ...SocketSettings.properties,
  HOST: Type.String({
    default: '127.0.0.1',
    description: 'Address to listen on (standalone default: loopback only)',
  }),
  ALLOWED_ORIGINS: Type.String({
    default: 'localhost',
    description: 'Browser origins that may connect (standalone default: pages on localhost)',
  }),
  SWITCHBOARD_CONFIG: Type.Optional(
    Type.String({
      minLength: 1,
      description: 'Credentials file; without it a demo tenant with fresh keys is used',
    }),
  ),
  CHANNELS_FILE: Setting.channelsFile(),
  AUTHZ_NATS_URL: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        'NATS server(s) where delegate policies ask domain services and permission changes arrive; without it, only the admin API announces changes',
    }),
  ),
  NATS_CREDS: Setting.natsCreds(),
  MAX_BODY_BYTES: Setting.bytes(65_536, 'Largest publish request body; larger ones get 413'),
});
