import {
  errorFrame,
  isTenantEventSubject,
  pongFrame,
  subscribeParams,
  subscriptionSuccessFrame,
  unsubscriptionSuccessFrame,
  type ClientMessage,
  type ParseResult,
  type Principal,
  type SubscribeMessage,
  type UnsubscribeMessage,
} from '@switchboard/protocol';

import { authenticate } from './authentication.ts';
import type { Connection } from './connection.ts';
import {
  reply,
  replyUnavailable,
  withTimeout,
  type SessionContext,
  type Socket,
} from './context.ts';

/** Handles one parsed frame of a connection. Never throws. */
export async function handleParsed(
  ctx: SessionContext,
  ws: Socket,
  parsed: ParseResult,
): Promise<void> {
  if (!parsed.ok) {
    const { reason, field, requestId } = parsed;
    return reply(
      ws,
      errorFrame({ code: 'invalid_message_format', requestId, details: { reason, field } }),
    );
  }
  await handleMessage(ctx, ws, parsed.message);
}

export async function handleMessage(
  ctx: SessionContext,
  ws: Socket,
  message: ClientMessage,
): Promise<void> {
  const conn = ws.getUserData().conn;
  switch (message.type) {
    case 'ping':
      return reply(ws, pongFrame(message.request_id));
    case 'pong':
      return;
    case 'auth':
      return authenticate(ctx, ws, message);
  }

  if (!conn.principal) {
    return reply(
      ws,
      errorFrame({ code: 'authentication_required', requestId: message.request_id }),
    );
  }
  if (message.type === 'subscribe') return subscribe(ctx, ws, conn.principal, message);
  return unsubscribe(ctx, ws, message);
}

async function subscribe(
  ctx: SessionContext,
  ws: Socket,
  principal: Principal,
  message: SubscribeMessage,
): Promise<void> {
  const conn = ws.getUserData().conn;
  const { channel, request_id: requestId } = message;
  const params = subscribeParams(message);

  let result;
  try {
    result = await ctx.authorizer.authorize({ principal, channel, params });
  } catch (err) {
    ctx.logger.error({ err, connId: conn.id, channel }, 'channel-authorizer unavailable');
    return replyUnavailable(ws, requestId, 'Authorization is temporarily unavailable', channel);
  }
  if (conn.closed) return;
  if (!result.ok) {
    const code =
      result.code === 'permission_denied' || result.code === 'resource_not_found'
        ? result.code
        : 'invalid_subscription';
    return reply(
      ws,
      errorFrame({ code, message: result.message, requestId, details: result.details }),
    );
  }

  const { grant } = result;
  // Defence in depth: whatever the authorizer says, a socket only ever listens within its tenant.
  if (!grant.subjects.every((subject) => isTenantEventSubject(principal.tenant, subject))) {
    ctx.logger.error(
      { connId: conn.id, channel, subjects: grant.subjects },
      'grant outside the tenant refused',
    );
    return replyUnavailable(ws, requestId, 'Authorization returned an invalid grant', channel);
  }
  const isNew = !conn.subscriptions.has(grant.subscriptionId);
  if (isNew) {
    const limit = principal.limits.maxSubscriptionsPerConnection;
    if (limit !== null && conn.subscriptions.size >= limit) {
      const reason = `The ${principal.plan} plan allows ${limit} subscriptions per connection`;
      return reply(
        ws,
        errorFrame({
          code: 'subscription_limit_exceeded',
          requestId,
          details: { reason, channel, limit },
        }),
      );
    }
    const topics = grant.subjects.map((subject) =>
      ctx.topics.acquire(subject, grant.subscriptionId),
    );
    for (const topic of topics) ws.subscribe(topic);
    conn.subscriptions.set(grant.subscriptionId, { channel, topics });
    ctx.logger.debug(
      { connId: conn.id, tenant: principal.tenant, channel, subjects: grant.subjects },
      'subscribed',
    );
  }

  try {
    await withTimeout(ctx.topics.registered(grant.subjects), ctx.upstreamTimeoutMs);
  } catch (err) {
    ctx.logger.error({ err, connId: conn.id, channel }, 'bus did not register the subscription');
    if (isNew && !conn.closed) dropSubscription(ctx, ws, grant.subscriptionId);
    return replyUnavailable(ws, requestId, 'Subscribing is temporarily unavailable', channel);
  }
  reply(ws, subscriptionSuccessFrame(channel, params, grant.subscriptionId, requestId));
}

function unsubscribe(ctx: SessionContext, ws: Socket, message: UnsubscribeMessage): void {
  const conn = ws.getUserData().conn;
  const { subscription_id: id, request_id: requestId } = message;
  if (!conn.subscriptions.has(id)) {
    const details = { reason: `Unknown subscription_id: ${id}`, subscription_id: id };
    return reply(ws, errorFrame({ code: 'invalid_subscription', requestId, details }));
  }

  dropSubscription(ctx, ws, id);
  reply(ws, unsubscriptionSuccessFrame(id, requestId));
}

function dropSubscription(ctx: SessionContext, ws: Socket, id: string): void {
  const conn = ws.getUserData().conn;
  const held = conn.subscriptions.get(id);
  if (!held) return;
  conn.subscriptions.delete(id);
  for (const topic of held.topics) {
    ws.unsubscribe(topic);
    ctx.topics.release(topic);
  }
}

/** Releases everything a closed connection held. uWebSockets.js already dropped its topics. */
export function releaseConnection(ctx: SessionContext, conn: Connection): void {
  clearTimeout(conn.authTimer);
  clearTimeout(conn.expiryTimer);
  if (conn.lease) ctx.leases.release(conn.lease);
  conn.lease = undefined;
  for (const held of conn.subscriptions.values())
    for (const topic of held.topics) ctx.topics.release(topic);
  conn.subscriptions.clear();
}
