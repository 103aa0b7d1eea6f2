import {
  errorFrame,
  isTenantEventSubject,
  MAX_AUTHORIZE_ITEMS,
  pongFrame,
  subscribeParams,
  subscriptionErrorFrame,
  subscriptionSuccessFrame,
  unsubscriptionSuccessFrame,
  type AuthorizeRequest,
  type ClientMessage,
  type Failure,
  type Grant,
  type GrantReply,
  type ParseResult,
  type Principal,
  type SubscribeItem,
  type SubscribeMessage,
  type UnsubscribeMessage,
} from '@switchboard/protocol';

import { authenticate } from './authentication.ts';
import {
  dropHeldSubscription,
  heldSubscription,
  holding,
  holdSubscription,
  NO_SUBSCRIPTIONS,
  topicsOf,
  type Connection,
} from './connection.ts';
import {
  cachedGrant,
  forgetGrants,
  grantFor,
  rememberGrant,
  settleTicket,
  type Ticket,
} from './grants.ts';
import {
  reply,
  replyUnavailable,
  withTimeout,
  type SessionContext,
  type Socket,
} from './context.ts';
import { Interned } from './interned.ts';
import type { Topic } from './topics.ts';

/** Channel names are a configured few: held subscriptions share one string per name. */
const channelNames = new Interned<string>(10_000);

/** Held by every subscription made without parameters. */
const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * The parameters as a subscription keeps them. `JSON.parse` makes an object with room for
 * exactly its properties, where the rest object they come from has room for four.
 */
function heldParams(params: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  const json = JSON.stringify(params);
  return json === '{}' ? NO_PARAMS : (JSON.parse(json) as Record<string, string>);
}

/**
 * Pauses before a re-evaluation asks the authorizer again: right after a NATS reconnect the
 * authorizer may need a few seconds to be back (NATS clients retry every 2 s).
 */
const RETRY_PAUSES_MS = [1_000, 2_000];

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function authorizeWithRetries(
  ctx: SessionContext,
  request: AuthorizeRequest,
): Promise<GrantReply[]> {
  for (const pause of RETRY_PAUSES_MS) {
    try {
      return await ctx.authorizer.authorize(request);
    } catch {
      await sleep(pause);
    }
  }
  return ctx.authorizer.authorize(request);
}

/** Handles one parsed frame of a connection. Never throws. */
export async function handleParsed(
  ctx: SessionContext,
  ws: Socket,
  parsed: ParseResult,
  ticket?: Ticket,
): Promise<void> {
  if (!parsed.ok) {
    const { reason, field, requestId } = parsed;
    return reply(
      ws,
      errorFrame({ code: 'invalid_message_format', requestId, details: { reason, field } }),
    );
  }
  await handleMessage(ctx, ws, parsed.message, ticket);
}

export async function handleMessage(
  ctx: SessionContext,
  ws: Socket,
  message: ClientMessage,
  ticket?: Ticket,
): Promise<void> {
  const conn = ws.getUserData().conn;
  if (ticket) settleTicket(conn, ticket);
  switch (message.type) {
    case 'ping':
      return reply(ws, pongFrame(message.request_id));
    case 'pong':
      return;
    case 'auth': {
      const before = conn.principal;
      await authenticate(ctx, ws, message);
      // A refreshed credential may carry other scopes or claims: check what the connection holds.
      if (before && conn.principal !== before && !conn.closed) {
        forgetGrants(conn);
        const ids = conn.subscriptions.map((held) => held.id);
        await reevaluate(ctx, ws, ids, false);
      }
      return;
    }
  }

  if (!conn.principal) {
    return reply(
      ws,
      errorFrame({ code: 'authentication_required', requestId: message.request_id }),
    );
  }
  if (message.type === 'subscribe') {
    const item =
      ticket?.kind === 'subscribe'
        ? ticket
        : ({ kind: 'subscribe', item: subscribeItem(message) } as const);
    return subscribe(ctx, ws, conn.principal, message, item);
  }
  return unsubscribe(ctx, ws, message);
}

function reasonOf(failure: Failure): string {
  const reason = failure.details?.reason;
  return typeof reason === 'string' ? reason : failure.message;
}

function subscribeItem(message: SubscribeMessage): SubscribeItem {
  return { channel: message.channel, params: subscribeParams(message) };
}

async function subscribe(
  ctx: SessionContext,
  ws: Socket,
  principal: Principal,
  message: SubscribeMessage,
  ticket: Extract<Ticket, { kind: 'subscribe' }>,
): Promise<void> {
  const conn = ws.getUserData().conn;
  const { channel, request_id: requestId } = message;
  const { params } = ticket.item;

  let result: GrantReply;
  const cached = cachedGrant(ctx, conn, ticket.item);
  if (cached) {
    result = { ok: true, grant: cached };
  } else {
    try {
      result = await grantFor(ctx, conn, principal, ticket);
      // A permission change arrived while the answer was on its way: it may predate the change.
      if (result.ok && result.grant.dependsOn && ticket.askedAt !== ctx.permissionChanges.count) {
        const items = [ticket.item];
        [result] = (await ctx.authorizer.authorize({ principal, items, fresh: true })) as [
          GrantReply,
        ];
      }
    } catch (err) {
      ctx.logger.error({ err, connId: conn.id, channel }, 'channel-authorizer unavailable');
      return replyUnavailable(ws, requestId, 'Authorization is temporarily unavailable', channel);
    }
  }
  if (conn.closed) return;
  if (!result.ok) {
    if (result.temporary) {
      const reason = reasonOf(result);
      return replyUnavailable(ws, requestId, reason, channel);
    }
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
  if (!grantWithinTenant(ctx, conn, principal, grant))
    return replyUnavailable(ws, requestId, 'Authorization returned an invalid grant', channel);
  const isNew = !heldSubscription(conn, grant.subscriptionId);
  if (isNew) {
    const limit = principal.limits.maxSubscriptionsPerConnection;
    if (limit !== null && conn.subscriptions.length >= limit) {
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
    // A new topic keeps these; a topic already there has its own, shared when the same.
    const item = { channel: channelNames.get(channel, channel), params: heldParams(params) };
    const id = grant.subscriptionId;
    const topics = grant.subjects.map((subject) => join(ctx, ws, subject, id, item));
    holdSubscription(conn, holding(id, item.channel, item.params, topics, grant.dependsOn));
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

/** Defence in depth: whatever the authorizer says, a socket only ever listens within its tenant. */
function grantWithinTenant(
  ctx: SessionContext,
  conn: Connection,
  principal: Principal,
  grant: Grant,
): boolean {
  if (grant.subjects.every((subject) => isTenantEventSubject(principal.tenant, subject)))
    return true;
  ctx.logger.error(
    { connId: conn.id, channel: grant.channel, subjects: grant.subjects },
    'grant outside the tenant refused',
  );
  return false;
}

function join(
  ctx: SessionContext,
  ws: Socket,
  subject: string,
  subscriptionId: string,
  item: SubscribeItem,
): Topic {
  return ctx.topics.join(ws, subject, subscriptionId, item);
}

function leave(ctx: SessionContext, ws: Socket, topic: Topic): void {
  ctx.topics.leave(ws, topic);
}

function unsubscribe(ctx: SessionContext, ws: Socket, message: UnsubscribeMessage): void {
  const conn = ws.getUserData().conn;
  const { subscription_id: id, request_id: requestId } = message;
  const held = heldSubscription(conn, id);
  if (!held) {
    const details = { reason: `Unknown subscription_id: ${id}`, subscription_id: id };
    return reply(ws, errorFrame({ code: 'invalid_subscription', requestId, details }));
  }

  const item = { channel: held.channel, params: held.params };
  const grant = cachedGrant(ctx, conn, item);
  if (grant) rememberGrant(conn, item, grant);
  dropSubscription(ctx, ws, id);
  reply(ws, unsubscriptionSuccessFrame(id, requestId));
}

function dropSubscription(ctx: SessionContext, ws: Socket, id: string): void {
  const conn = ws.getUserData().conn;
  const held = heldSubscription(conn, id);
  if (!held) return;
  dropHeldSubscription(conn, id);
  for (const topic of topicsOf(held)) leave(ctx, ws, topic);
}

/**
 * Asks the authorizer again about subscriptions a connection holds (after a permission
 * change, or a refreshed credential) in one request. A subscription still allowed keeps
 * its id and follows the new grant's subjects (a new membership adds one, a lost one goes);
 * one no longer allowed ends with `subscription_error`. If the authorizer cannot answer,
 * the subscriptions end too, marked temporary: access is never kept on an unchecked grant.
 */
export async function reevaluate(
  ctx: SessionContext,
  ws: Socket,
  subscriptionIds: readonly string[],
  fresh: boolean,
): Promise<void> {
  const conn = ws.getUserData().conn;
  const principal = conn.principal;
  const ids = subscriptionIds.filter((id) => heldSubscription(conn, id));
  if (!principal || ids.length === 0) return;

  let replies: GrantReply[];
  try {
    const items = ids.map((id) => {
      const held = heldSubscription(conn, id)!;
      return { channel: held.channel, params: held.params };
    });
    replies = [];
    for (let i = 0; i < items.length; i += MAX_AUTHORIZE_ITEMS) {
      const request = { principal, items: items.slice(i, i + MAX_AUTHORIZE_ITEMS), fresh };
      replies.push(...(await authorizeWithRetries(ctx, request)));
    }
  } catch (err) {
    ctx.logger.error({ err, connId: conn.id }, 'channel-authorizer unavailable for re-evaluation');
    const reason = 'Authorization could not be checked again; subscribe again later';
    replies = ids.map(() => ({
      ok: false,
      code: 'server_error',
      message: reason,
      temporary: true,
    }));
  }
  if (conn.closed) return;

  const added: string[] = [];
  ids.forEach((id, i) => {
    const held = heldSubscription(conn, id);
    const result = replies[i];
    if (!held || !result) return;
    if (
      result.ok &&
      result.grant.subscriptionId === id &&
      grantWithinTenant(ctx, conn, principal, result.grant)
    ) {
      const wanted = new Set(result.grant.subjects);
      const subjectOf = (topic: Topic): string => ctx.topics.subjectOf(topic);
      const topics = topicsOf(held);
      const kept = topics.filter((topic) => wanted.has(subjectOf(topic)));
      for (const topic of topics) if (!wanted.has(subjectOf(topic))) leave(ctx, ws, topic);
      const have = new Set(kept.map(subjectOf));
      const joining = result.grant.subjects.filter((subject) => !have.has(subject));
      added.push(...joining);
      const item = { channel: held.channel, params: held.params };
      const joined = joining.map((subject) => join(ctx, ws, subject, id, item));
      const { dependsOn } = result.grant;
      holdSubscription(
        conn,
        holding(id, held.channel, held.params, kept.concat(joined), dependsOn),
      );
      return;
    }
    dropSubscription(ctx, ws, id);
    const failure: Failure = result.ok
      ? {
          ok: false,
          code: 'server_error',
          message: 'Authorization returned an invalid grant',
          temporary: true,
        }
      : result;
    const code =
      failure.code === 'permission_denied' ||
      failure.code === 'resource_not_found' ||
      failure.code === 'invalid_subscription'
        ? failure.code
        : 'server_error';
    ctx.logger.info({ connId: conn.id, channel: held.channel, code }, 'subscription ended');
    reply(
      ws,
      subscriptionErrorFrame({
        subscriptionId: id,
        channel: held.channel,
        params: held.params,
        code,
        reason: reasonOf(failure),
        temporary: failure.temporary,
      }),
    );
  });
  if (added.length > 0) {
    try {
      await withTimeout(ctx.topics.registered(added), ctx.upstreamTimeoutMs);
    } catch (err) {
      ctx.logger.warn({ err, connId: conn.id }, 'bus did not confirm re-evaluated subscriptions');
    }
  }
}

/** Releases everything a closed connection held. uWebSockets.js already dropped its topics. */
export function releaseConnection(ctx: SessionContext, conn: Connection): void {
  if (conn.lease) ctx.leases.release(conn.lease);
  conn.lease = undefined;
  for (const held of conn.subscriptions)
    for (const topic of topicsOf(held)) ctx.topics.release(topic);
  conn.subscriptions = NO_SUBSCRIPTIONS;
}
