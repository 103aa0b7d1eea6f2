import type { WebSocket } from 'uWebSockets.js';

import { isRevoked, type AuthClient, type RevocationStore } from '@switchboard/auth';
import type { AuthorizerClient } from '@switchboard/channel-authorizer';
import {
  authErrorFrame,
  authSuccessFrame,
  CloseCodes,
  errorFrame,
  isTenantEventSubject,
  pongFrame,
  subscribeParams,
  subscriptionSuccessFrame,
  unsubscriptionSuccessFrame,
  accountOf,
  type AuthMessage,
  type ClientMessage,
  type ParseResult,
  type Principal,
  type SubscribeMessage,
  type UnsubscribeMessage,
} from '@switchboard/protocol';
import type { Logger } from '@switchboard/telemetry';

import type { Connection } from './connection.ts';
import type { LeaseKeeper } from './leases.ts';
import { scheduleExpiry } from './expiry.ts';
import type { TopicRegistry } from './topics.ts';

/** What message handling needs from the gateway around it. */
export interface SessionContext {
  readonly auth: AuthClient;
  readonly authorizer: AuthorizerClient;
  readonly topics: TopicRegistry;
  /** This instance's connection slots in the cluster-wide ledger. */
  readonly leases: LeaseKeeper;
  readonly logger: Logger;
  readonly maxAuthFailures: number;
  /** Checked once a principal is known, so a revocation during the auth round trip still applies. */
  readonly revocations: RevocationStore;
  readonly expiryNoticeMs: number;
  /** How long to wait for the bus to confirm a new subscription. */
  readonly upstreamTimeoutMs: number;
}

type Socket = WebSocket<Connection>;

/** Sends unless the socket closed while we were waiting on a service. */
export function reply(ws: Socket, frame: string): void {
  if (!ws.getUserData().closed) ws.send(frame, false, false);
}

function sameIdentity(a: Principal, b: Principal): boolean {
  return a.tenant === b.tenant && a.userId === b.userId && a.appId === b.appId;
}

/** Settles like `promise`, or rejects once `ms` have passed. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A temporary `server_error`: a service we depend on did not answer; the client may retry. */
function replyUnavailable(
  ws: Socket,
  requestId: string | undefined,
  reason: string,
  channel: string,
): void {
  reply(
    ws,
    errorFrame({ code: 'server_error', requestId, details: { reason, channel }, temporary: true }),
  );
}

/** Principals shared by connections with the same credential; cleared when it grows large. */
const principals = new Map<string, Principal>();
const MAX_INTERNED_PRINCIPALS = 10_000;

/**
 * One read-only principal object per distinct credential, so a thousand connections
 * of one key hold one principal rather than a thousand copies.
 */
function internPrincipal(principal: Principal): Principal {
  const key = JSON.stringify(principal);
  const known = principals.get(key);
  if (known) return known;
  if (principals.size >= MAX_INTERNED_PRINCIPALS) principals.clear();
  principals.set(key, principal);
  return principal;
}

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
  const conn = ws.getUserData();
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

export async function authenticate(
  ctx: SessionContext,
  ws: Socket,
  message: AuthMessage,
): Promise<void> {
  const conn = ws.getUserData();
  const requestId = message.request_id;
  if ((message.api_key === undefined) === (message.token === undefined)) {
    const reason = 'auth needs exactly one of api_key or token';
    return reply(
      ws,
      errorFrame({
        code: 'invalid_message_format',
        requestId,
        details: { reason, field: 'api_key' },
      }),
    );
  }

  let result;
  try {
    result = await ctx.auth.verify({ api_key: message.api_key, token: message.token });
  } catch (err) {
    ctx.logger.error({ err, connId: conn.id }, 'auth unavailable');
    return reply(
      ws,
      authErrorFrame('server_error', 'Authentication is temporarily unavailable', requestId, true),
    );
  }
  if (conn.closed) return;

  if (!result.ok && result.temporary) {
    ctx.logger.warn({ connId: conn.id, reason: result.message }, 'auth temporarily unavailable');
    return reply(ws, authErrorFrame('server_error', result.message, requestId, true));
  }
  if (!result.ok) {
    conn.authFailures++;
    ctx.logger.info(
      { connId: conn.id, failures: conn.authFailures, reason: result.message },
      'auth failed',
    );
    reply(ws, authErrorFrame('invalid_credentials', result.message, requestId));
    if (conn.authFailures >= ctx.maxAuthFailures && !conn.principal) {
      const { code, reason } = CloseCodes.tooManyAuthFailures;
      ws.end(code, reason);
    }
    return;
  }

  const principal = result.principal;
  if (conn.principal && !sameIdentity(conn.principal, principal)) {
    return reply(
      ws,
      authErrorFrame(
        'permission_denied',
        'Connection is authenticated as another identity',
        requestId,
      ),
    );
  }
  // Auth allows some clock skew; a connection is never opened on a token already past its exp.
  if (principal.expiresAt !== undefined && principal.expiresAt <= Date.now()) {
    return reply(ws, authErrorFrame('invalid_credentials', 'Token has expired', requestId));
  }
  if (!conn.principal && !(await holdConnectionSlot(ctx, ws, principal, requestId))) return;
  if (conn.closed) return;
  if (isRevoked(ctx.revocations, principal)) {
    if (conn.lease && !conn.principal) ctx.leases.release(conn.lease);
    if (!conn.principal) conn.lease = undefined;
    return reply(
      ws,
      authErrorFrame('invalid_credentials', 'Credential has been revoked', requestId),
    );
  }
  conn.principal = internPrincipal(principal);
  clearTimeout(conn.authTimer);
  conn.authTimer = undefined;
  ctx.logger.debug(
    {
      connId: conn.id,
      tenant: principal.tenant,
      userId: principal.userId,
      method: principal.method,
    },
    'authenticated',
  );
  reply(
    ws,
    authSuccessFrame({
      connectionId: conn.id,
      tenant: principal.tenant,
      userId: principal.userId,
      appId: principal.appId,
      plan: principal.plan,
      expiresAt: principal.expiresAt,
      requestId,
    }),
  );
  scheduleExpiry(ws, ctx.expiryNoticeMs);
}

/**
 * Counts the connection against its account's limit, across gateways. False when it
 * may not proceed: over the limit (the socket is closed) or the count is unavailable.
 */
async function holdConnectionSlot(
  ctx: SessionContext,
  ws: Socket,
  principal: Principal,
  requestId: string | undefined,
): Promise<boolean> {
  const limit = principal.limits.maxConnections;
  if (limit === null) return true;

  const conn = ws.getUserData();
  const lease = {
    account: accountOf(principal),
    connectionId: conn.id,
    gateway: ctx.leases.instance,
  };
  let answer;
  try {
    answer = await ctx.leases.acquire(lease, limit);
  } catch (err) {
    ctx.logger.error(
      { err, connId: conn.id, tenant: principal.tenant },
      'limits endpoint unavailable',
    );
    answer = undefined;
  }
  if (conn.closed) {
    if (answer?.ok) ctx.leases.release(lease);
    return false;
  }
  if (!answer) {
    reply(
      ws,
      authErrorFrame(
        'server_error',
        'Connection limits are temporarily unavailable',
        requestId,
        true,
      ),
    );
    return false;
  }
  if (!answer.ok) {
    reply(ws, authErrorFrame('connection_limit_exceeded', answer.message, requestId));
    const { code, reason } = CloseCodes.connectionLimitExceeded;
    ws.end(code, reason);
    return false;
  }
  conn.lease = lease;
  return true;
}

async function subscribe(
  ctx: SessionContext,
  ws: Socket,
  principal: Principal,
  message: SubscribeMessage,
): Promise<void> {
  const conn = ws.getUserData();
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
  const conn = ws.getUserData();
  const { subscription_id: id, request_id: requestId } = message;
  if (!conn.subscriptions.has(id)) {
    const details = { reason: `Unknown subscription_id: ${id}`, subscription_id: id };
    return reply(ws, errorFrame({ code: 'invalid_subscription', requestId, details }));
  }

  dropSubscription(ctx, ws, id);
  reply(ws, unsubscriptionSuccessFrame(id, requestId));
}

function dropSubscription(ctx: SessionContext, ws: Socket, id: string): void {
  const conn = ws.getUserData();
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
