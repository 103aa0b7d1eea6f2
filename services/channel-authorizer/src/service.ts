import type { Bus, BusSubscription } from '@switchboard/bus';
import {
  AuthorizeRequest,
  ChannelRegistry,
  decoder,
  encodeJson,
  PERMISSION_CHANGES,
  readPermissionChange,
  ServiceSubjects,
  type PermissionChange,
} from '@switchboard/protocol';
import { contextFromHeaders, inSpan, SpanKind, type Logger } from '@switchboard/telemetry';

import { ChannelAuthorizer } from './authorizer.ts';
import { DelegateClient } from './delegates.ts';

const decodeRequest = decoder(AuthorizeRequest);

export interface ChannelAuthorizerOptions {
  /** The channels and their policies (default: the built-in catalog). */
  readonly registry?: ChannelRegistry;
  /**
   * Where delegates answer (default: `bus`). Standalone mode passes a NATS connection here
   * so domain services can answer an in-process authorizer; it forwards their permission
   * changes onto `bus`, where the authorizer and the gateway follow them.
   */
  readonly delegateBus?: Bus;
}

/**
 * Calls `onChange` for every well-formed message on `sb.authz.changed.<tenant>`; logs and
 * skips the others.
 */
export function followPermissionChanges(
  bus: Bus,
  logger: Logger,
  onChange: (tenant: string, change: PermissionChange) => void,
): BusSubscription {
  return bus.subscribe(PERMISSION_CHANGES, (message) => {
    let read;
    try {
      read = readPermissionChange(message.subject, message.data);
    } catch (err) {
      logger.warn({ err, subject: message.subject }, 'malformed permission change ignored');
      return;
    }
    onChange(read.tenant, read.change);
  });
}

/**
 * Serves `sb.svc.authz.subscribe` and follows `sb.authz.changed.<tenant>` to drop the
 * delegate answers a permission change invalidates.
 */
export async function startChannelAuthorizer(
  bus: Bus,
  logger: Logger,
  options: ChannelAuthorizerOptions = {},
): Promise<ChannelAuthorizer> {
  const registry = options.registry ?? ChannelRegistry.defaults();
  const delegateBus = options.delegateBus ?? bus;
  const delegates = new DelegateClient(delegateBus, logger);
  const authorizer = new ChannelAuthorizer(registry, delegates);

  // Changes published while the authorizer was cut off never arrive: forget every answer.
  for (const follower of new Set([bus, delegateBus])) {
    follower.onStatus((status) => {
      if (status.type === 'reconnected') delegates.clear();
    });
  }
  followPermissionChanges(bus, logger, (tenant, change) => {
    const removed = delegates.invalidate(tenant, change);
    logger.debug({ tenant, ...change, removed }, 'permission change');
  });

  await bus.serve(
    {
      service: 'channel-authorizer',
      name: 'subscribe',
      subject: ServiceSubjects.authorizeSubscribe,
      description: 'authorize subscriptions',
    },
    (message) => {
      const parent = message.headers && contextFromHeaders(message.headers);
      return inSpan('authz.serve', { kind: SpanKind.SERVER, parent }, () => answer(message.data));
    },
  );
  return authorizer;

  async function answer(data: Uint8Array): Promise<Uint8Array> {
    let request: AuthorizeRequest;
    try {
      request = decodeRequest(data);
    } catch (err) {
      logger.warn({ err }, 'malformed authorize request');
      return encodeJson({
        ok: false,
        code: 'server_error',
        message: 'malformed authorize request',
      });
    }

    const reply = await authorizer.authorize(request);
    if (reply.ok) {
      const { tenant, userId, appId } = request.principal;
      reply.results.forEach((result, i) => {
        if (!result.ok)
          logger.info(
            { tenant, userId, appId, channel: request.items[i]?.channel, code: result.code },
            'subscribe refused',
          );
      });
    }
    return encodeJson(reply);
  }
}
