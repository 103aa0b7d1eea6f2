import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { MemoryBus } from '@switchboard/bus';
import {
  ChannelRegistry,
  delegateSubject,
  encodeJson,
  type DelegateReply,
  type DelegateRequest,
  type GrantReply,
  type Principal,
} from '@switchboard/protocol';
import { createLogger } from '@switchboard/telemetry';

import { ChannelAuthorizer, MAX_GRANT_SUBJECTS } from './authorizer.ts';
import { DelegateClient } from './delegates.ts';

const alice: Principal = {
  tenant: 'acme',
  userId: 'alice',
  plan: 'free',
  scopes: ['subscribe'],
  method: 'api_key',
  credentialId: 'key_1',
  limits: { maxConnections: 5, maxSubscriptionsPerConnection: 10, messagesPerMinute: 60 },
};
const logger = createLogger('test', 'silent');

const registry = ChannelRegistry.fromSpec({
  channels: [
    {
      name: 'projects.updates',
      params: { project_id: {} },
      publishRequires: ['project_id'],
      policy: { type: 'claim', claim: 'projects', param: 'project_id' },
    },
    {
      name: 'boards.updates',
      params: { board_id: {} },
      policy: { type: 'delegate', resource: 'boards', param: 'board_id', timeoutMs: 100 },
    },
    { name: 'reports.daily', policy: { type: 'scope', scope: 'reports:read' } },
  ],
});

let bus: MemoryBus;
let authorizer: ChannelAuthorizer;
let delegates: DelegateClient;
let asked: DelegateRequest[];
let answer: (request: DelegateRequest) => DelegateReply | undefined;

beforeEach(async () => {
  bus = new MemoryBus();
  asked = [];
  answer = () => ({ decision: 'allow' });
  await bus.serve(
    { service: 'boards', name: 'authz', subject: delegateSubject('boards') },
    async (message) => {
      const request = JSON.parse(Buffer.from(message.data).toString()) as DelegateRequest;
      asked.push(request);
      const reply = answer(request);
      if (!reply) await new Promise((resolve) => setTimeout(resolve, 300));
      return encodeJson(reply ?? { decision: 'allow' });
    },
  );
  delegates = new DelegateClient(bus, logger);
  authorizer = new ChannelAuthorizer(registry, delegates);
});
afterEach(() => bus.drain());

async function one(
  principal: Principal,
  channel: string,
  params: Record<string, string> = {},
  fresh = false,
): Promise<GrantReply> {
  const reply = await authorizer.authorize({ principal, items: [{ channel, params }], fresh });
  if (!reply.ok) throw new Error(reply.message);
  return reply.results[0]!;
}

describe('ChannelAuthorizer: built-in policies', () => {
  it('grants a tenant channel with the tenant in the subject', async () => {
    expect(await one(alice, 'chat.messages', { room_id: 'r1' })).toMatchObject({
      ok: true,
      grant: { subjects: ['sb.ev.acme.chat.messages.r1'] },
    });
  });

  it('answers an invalid subscription in the seed error shape', async () => {
    expect(await one(alice, 'tasks.updates')).toEqual({
      ok: false,
      code: 'invalid_subscription',
      message: 'Unable to subscribe to the specified channel',
      details: { reason: 'Missing required parameter: project_id', channel: 'tasks.updates' },
    });
  });

  it("grants only the principal's own notifications", async () => {
    expect(await one(alice, 'notifications')).toMatchObject({
      grant: { subjects: ['sb.ev.acme.notifications.alice'] },
    });
    expect(await one(alice, 'notifications', { user_id: 'bob' })).toMatchObject({
      code: 'permission_denied',
      details: { reason: 'user_id must be your own' },
    });
    const app: Principal = { ...alice, userId: undefined, appId: 'billing' };
    expect(await one(app, 'notifications')).toMatchObject({ code: 'permission_denied' });
  });

  it('refuses a credential without the subscribe scope', async () => {
    expect(
      await one({ ...alice, scopes: ['publish'] }, 'chat.messages', { room_id: 'r' }),
    ).toMatchObject({ ok: false, code: 'permission_denied' });
  });

  it('requires the scope a scope policy names', async () => {
    expect(await one(alice, 'reports.daily')).toMatchObject({
      code: 'permission_denied',
      details: { reason: 'The credential lacks the reports:read scope' },
    });
    expect(
      await one({ ...alice, scopes: ['subscribe', 'reports:read'] }, 'reports.daily'),
    ).toMatchObject({ ok: true });
  });

  it('answers several subscriptions in one request, in order', async () => {
    const reply = await authorizer.authorize({
      principal: alice,
      items: [
        { channel: 'chat.messages', params: { room_id: 'a' } },
        { channel: 'nope', params: {} },
        { channel: 'chat.messages', params: { room_id: 'b' } },
      ],
    });
    expect(reply.ok && reply.results.map((r) => r.ok)).toEqual([true, false, true]);
  });
});

describe('ChannelAuthorizer: claim lists', () => {
  const member: Principal = {
    ...alice,
    method: 'jwt',
    claims: { projects: ['p1', 'p2', 'bad.id'] },
  };

  it('allows a listed id and refuses another', async () => {
    expect(await one(member, 'projects.updates', { project_id: 'p1' })).toMatchObject({
      grant: { subjects: ['sb.ev.acme.projects.updates.p1'] },
    });
    expect(await one(member, 'projects.updates', { project_id: 'p3' })).toMatchObject({
      code: 'permission_denied',
      details: { reason: 'project_id p3 is not listed in your projects claim' },
    });
  });

  it('limits a subscription without the id to the listed ones (skipping unusable ids)', async () => {
    expect(await one(member, 'projects.updates')).toMatchObject({
      grant: {
        subjects: ['sb.ev.acme.projects.updates.p1', 'sb.ev.acme.projects.updates.p2'],
      },
    });
  });

  it('refuses a principal without the claim', async () => {
    expect(await one(alice, 'projects.updates')).toMatchObject({
      code: 'permission_denied',
      details: { reason: 'The credential has no projects claim' },
    });
  });

  it('refuses to expand past the subject bound', async () => {
    const ids = Array.from({ length: MAX_GRANT_SUBJECTS + 1 }, (_, i) => `p${i}`);
    expect(await one({ ...member, claims: { projects: ids } }, 'projects.updates')).toMatchObject({
      code: 'invalid_subscription',
    });
  });
});

describe('ChannelAuthorizer: delegates', () => {
  it('asks the domain service with the principal and the resource id', async () => {
    expect(await one(alice, 'boards.updates', { board_id: 'b1' })).toMatchObject({
      grant: { subjects: ['sb.ev.acme.boards.updates.b1'], dependsOn: ['boards'] },
    });
    expect(asked).toEqual([
      {
        tenant: 'acme',
        user_id: 'alice',
        scopes: ['subscribe'],
        resource: 'boards',
        id: 'b1',
        channel: 'boards.updates',
        action: 'subscribe',
      },
    ]);
  });

  it('maps deny and not_found to permission_denied and resource_not_found', async () => {
    answer = (r) =>
      r.id === 'gone' ? { decision: 'not_found' } : { decision: 'deny', reason: 'Not a member' };
    expect(await one(alice, 'boards.updates', { board_id: 'b1' })).toMatchObject({
      code: 'permission_denied',
      details: { reason: 'Not a member' },
    });
    expect(await one(alice, 'boards.updates', { board_id: 'gone' })).toMatchObject({
      code: 'resource_not_found',
    });
  });

  it('limits a subscription without the id to the ids the service lists', async () => {
    answer = () => ({ decision: 'allow', ids: ['b1', 'b7'] });
    expect(await one(alice, 'boards.updates')).toMatchObject({
      grant: { subjects: ['sb.ev.acme.boards.updates.b1', 'sb.ev.acme.boards.updates.b7'] },
    });
    expect(asked[0]).not.toHaveProperty('id');
  });

  it('caches answers, shares one question between concurrent asks, and skips the cache when fresh', async () => {
    await Promise.all([1, 2, 3].map(() => one(alice, 'boards.updates', { board_id: 'b1' })));
    await one(alice, 'boards.updates', { board_id: 'b1' });
    expect(asked).toHaveLength(1);
    await one(alice, 'boards.updates', { board_id: 'b1' }, true);
    expect(asked).toHaveLength(2);
  });

  it('forgets answers a permission change concerns', async () => {
    await one(alice, 'boards.updates', { board_id: 'b1' });
    await one(alice, 'boards.updates', { board_id: 'b2' });
    await one({ ...alice, userId: 'bob' }, 'boards.updates', { board_id: 'b1' });
    expect(delegates.invalidate('acme', { user_id: 'alice', resource: 'boards', id: 'b1' })).toBe(
      1,
    );
    expect(delegates.invalidate('globex', {})).toBe(0);
    expect(delegates.invalidate('acme', { resource: 'other' })).toBe(0);
    expect(delegates.invalidate('acme', {})).toBe(2);
  });

  it('denies with a temporary server_error when the service is slow or absent, and caches nothing', async () => {
    answer = () => undefined;
    expect(await one(alice, 'boards.updates', { board_id: 'b1' })).toMatchObject({
      ok: false,
      code: 'server_error',
      temporary: true,
      details: { reason: 'The boards service did not answer within 100 ms' },
    });
    expect(delegates.cachedAnswers).toBe(0);

    const lonely = new ChannelAuthorizer(registry, new DelegateClient(new MemoryBus(), logger));
    const reply = await lonely.authorize({
      principal: alice,
      items: [{ channel: 'boards.updates', params: { board_id: 'b1' } }],
    });
    expect(reply.ok && reply.results[0]).toMatchObject({ code: 'server_error', temporary: true });
  });

  it('treats a malformed answer as unavailable, never as allow', async () => {
    answer = () => ({ decision: 'maybe' }) as unknown as DelegateReply;
    expect(await one(alice, 'boards.updates', { board_id: 'b1' })).toMatchObject({
      code: 'server_error',
      details: { reason: 'The boards service gave an unusable answer' },
    });
  });
});
