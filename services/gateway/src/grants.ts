import {
  MAX_AUTHORIZE_ITEMS,
  subscribeParams,
  type ClientMessage,
  type Grant,
  type GrantReply,
  type Principal,
  type SubscribeItem,
} from '@switchboard/protocol';

import { Inbox, sameParams, topicsOf, type Connection } from './connection.ts';
import type { SessionContext } from './context.ts';

/**
 * A message accepted into a connection's queue that matters for batching: a subscribe
 * waiting for its grant, or an `auth` that may change the principal (a batch never
 * reaches past one, since the grants of later subscribes depend on its outcome).
 */
export type Ticket =
  | {
      readonly kind: 'subscribe';
      readonly item: SubscribeItem;
      answer?: Promise<GrantReply>;
      /** `SessionContext.permissionChanges` when the answer was asked for. */
      askedAt?: number;
    }
  | { readonly kind: 'auth' };

/** Grants of unsubscribed channels a connection keeps, so subscribing again costs no round trip. */
const MAX_RECENT_GRANTS = 32;

/** Records a subscribe or auth message as it enters the queue; other messages need no ticket. */
export function issueTicket(conn: Connection, message: ClientMessage): Ticket | undefined {
  let ticket: Ticket;
  if (message.type === 'subscribe')
    ticket = {
      kind: 'subscribe',
      item: { channel: message.channel, params: subscribeParams(message) },
    };
  else if (message.type === 'auth') ticket = { kind: 'auth' };
  else return undefined;
  // Its message is queued right after, in the inbox this makes if there is none.
  ((conn.inbox ??= new Inbox()).upcoming ??= []).push(ticket);
  return ticket;
}

/** Takes a ticket (and any before it) off the connection's list as its message is handled. */
export function settleTicket(conn: Connection, ticket: Ticket): void {
  const inbox = conn.inbox;
  const upcoming = inbox?.upcoming;
  if (!inbox || !upcoming) return;
  const index = upcoming.indexOf(ticket);
  if (index >= 0) upcoming.splice(0, index + 1);
  if (upcoming.length === 0) inbox.upcoming = undefined;
}

export function grantKey(item: SubscribeItem): string {
  return `${item.channel}\u0000${JSON.stringify(item.params)}`;
}

/**
 * The connection's own cache of authorization answers: a subscription it holds, or one it
 * held recently. Emptied by permission changes and credential refreshes.
 */
export function cachedGrant(
  ctx: Pick<SessionContext, 'topics'>,
  conn: Connection,
  item: SubscribeItem,
): Grant | undefined {
  for (const held of conn.subscriptions) {
    if (held.channel === item.channel && sameParams(held.params, item.params))
      return {
        channel: held.channel,
        subscriptionId: held.id,
        subjects: topicsOf(held).map((topic) => ctx.topics.subjectOf(topic)),
        dependsOn: held.dependsOn && [...held.dependsOn],
      };
  }
  return conn.recentGrants?.get(grantKey(item));
}

/** Remembers the grant of a subscription the client just ended. */
export function rememberGrant(conn: Connection, item: SubscribeItem, grant: Grant): void {
  const recent = (conn.recentGrants ??= new Map());
  recent.delete(grantKey(item));
  recent.set(grantKey(item), grant);
  if (recent.size > MAX_RECENT_GRANTS) recent.delete(recent.keys().next().value);
}

export function forgetGrants(conn: Connection): void {
  conn.recentGrants = undefined;
}

/**
 * The grant for a subscribe ticket. The first ticket of a run of subscribes asks for all
 * of them in one authorizer request (a reconnecting client sends them back to back); the
 * later ones find their answer waiting. Rejects when the authorizer is unavailable.
 */
export function grantFor(
  ctx: SessionContext,
  conn: Connection,
  principal: Principal,
  ticket: Extract<Ticket, { kind: 'subscribe' }>,
): Promise<GrantReply> {
  if (ticket.answer) return ticket.answer;
  const batch = [ticket];
  for (const next of conn.inbox?.upcoming ?? []) {
    if (next.kind !== 'subscribe' || batch.length >= MAX_AUTHORIZE_ITEMS) break;
    if (next.answer || cachedGrant(ctx, conn, next.item)) continue;
    batch.push(next);
  }
  const replies = ctx.authorizer.authorize({ principal, items: batch.map((t) => t.item) });
  batch.forEach((t, i) => {
    t.askedAt = ctx.permissionChanges.count;
    t.answer = replies.then((all) => all[i]!);
    // Awaited when the ticket's message is handled; this keeps a failure from going unhandled.
    t.answer.catch(() => undefined);
  });
  return ticket.answer!;
}
