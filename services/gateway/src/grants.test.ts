import { describe, expect, it } from 'vitest';

import type { AuthorizeRequest, GrantReply, Principal } from '@switchboard/protocol';

import { Connection, holdSubscription } from './connection.ts';
import type { SessionContext } from './context.ts';
import {
  cachedGrant,
  forgetGrants,
  grantFor,
  issueTicket,
  rememberGrant,
  settleTicket,
  type Ticket,
} from './grants.ts';
import type { Topic } from './topics.ts';

const principal = { tenant: 'acme', userId: 'u' } as Principal;
type SubscribeTicket = Extract<Ticket, { kind: 'subscribe' }>;

function sub(channel: string, params: Record<string, string> = {}) {
  return { type: 'subscribe' as const, channel, ...params };
}

/** A context whose authorizer grants everything and records each request. */
function context(requests: AuthorizeRequest[]): SessionContext {
  const authorizer = {
    authorize: (request: AuthorizeRequest): Promise<GrantReply[]> => {
      requests.push(request);
      return Promise.resolve(
        request.items.map((item) => ({
          ok: true as const,
          grant: { channel: item.channel, subscriptionId: `sub_${item.channel}`, subjects: [] },
        })),
      );
    },
  };
  return { authorizer, permissionChanges: { count: 0 } } as unknown as SessionContext;
}

describe('grant batching', () => {
  it('asks once for a run of queued subscribes, stopping at an auth', async () => {
    const conn = new Connection();
    const requests: AuthorizeRequest[] = [];
    const ctx = context(requests);
    const a = issueTicket(conn, sub('a')) as SubscribeTicket;
    const b = issueTicket(conn, sub('b', { id: 'x' })) as SubscribeTicket;
    const auth = issueTicket(conn, { type: 'auth', api_key: 'k' });
    const c = issueTicket(conn, sub('c')) as SubscribeTicket;
    expect(issueTicket(conn, { type: 'ping' })).toBeUndefined();

    settleTicket(conn, a);
    await expect(grantFor(ctx, conn, principal, a)).resolves.toMatchObject({ ok: true });
    expect(requests.map((r) => r.items.map((i) => i.channel))).toEqual([['a', 'b']]);

    settleTicket(conn, b);
    await expect(grantFor(ctx, conn, principal, b)).resolves.toMatchObject({
      grant: { channel: 'b' },
    });
    expect(requests).toHaveLength(1);

    settleTicket(conn, auth!);
    settleTicket(conn, c);
    await grantFor(ctx, conn, principal, c);
    expect(requests).toHaveLength(2);
    expect(conn.inbox?.upcoming).toBeUndefined();
  });

  it('finds grants of held and recently ended subscriptions until they are forgotten', () => {
    const conn = new Connection();
    const t1 = { name: 't1' } as Topic;
    const topics = {
      topics: { subjectOf: (t: Topic) => (t === t1 ? 'sb.ev.acme.chat.messages.r' : '') },
    } as unknown as Pick<SessionContext, 'topics'>;
    holdSubscription(conn, {
      id: 'sub_1',
      channel: 'chat.messages',
      params: { room_id: 'r' },
      topics: t1,
    });
    expect(
      cachedGrant(topics, conn, { channel: 'chat.messages', params: { room_id: 'r' } }),
    ).toEqual({
      channel: 'chat.messages',
      subscriptionId: 'sub_1',
      subjects: ['sb.ev.acme.chat.messages.r'],
      dependsOn: undefined,
    });
    expect(cachedGrant(topics, conn, { channel: 'chat.messages', params: { room_id: 's' } })).toBe(
      undefined,
    );

    const item = { channel: 'chat.messages', params: { room_id: 's' } };
    rememberGrant(conn, item, { channel: 'chat.messages', subscriptionId: 'sub_2', subjects: [] });
    expect(cachedGrant(topics, conn, item)).toMatchObject({ subscriptionId: 'sub_2' });
    forgetGrants(conn);
    expect(cachedGrant(topics, conn, item)).toBeUndefined();
  });
});
