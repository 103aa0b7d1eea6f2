import { describe, expect, it } from 'vitest';

import type { Principal } from '@switchboard/protocol';

import { ChannelAuthorizer } from './authorizer.ts';
import { tenantWidePolicy } from './policy.ts';

const alice: Principal = {
  tenant: 'acme',
  userId: 'alice',
  plan: 'free',
  scopes: ['subscribe'],
  method: 'api_key',
  credentialId: 'key_1',
  limits: { maxConnections: 5, maxSubscriptionsPerConnection: 10, messagesPerMinute: 60 },
};
const authorizer = new ChannelAuthorizer(tenantWidePolicy);

describe('ChannelAuthorizer with the tenant-wide policy', () => {
  it('grants a tenant channel with the tenant in the subject', () => {
    const reply = authorizer.authorize({
      principal: alice,
      channel: 'projects.updates',
      params: { project_id: 'p1' },
    });
    expect(reply).toMatchObject({
      ok: true,
      grant: { subjects: ['sb.ev.acme.projects.updates.p1'] },
    });
  });

  it('answers an invalid subscription in the seed error shape', () => {
    expect(
      authorizer.authorize({ principal: alice, channel: 'tasks.updates', params: {} }),
    ).toEqual({
      ok: false,
      code: 'invalid_subscription',
      message: 'Unable to subscribe to the specified channel',
      details: { reason: 'Missing required parameter: project_id', channel: 'tasks.updates' },
    });
  });

  it("grants only the principal's own notifications", () => {
    expect(
      authorizer.authorize({ principal: alice, channel: 'notifications', params: {} }),
    ).toMatchObject({
      ok: true,
      grant: { subjects: ['sb.ev.acme.notifications.alice'] },
    });
    expect(
      authorizer.authorize({
        principal: alice,
        channel: 'notifications',
        params: { user_id: 'bob' },
      }),
    ).toMatchObject({ ok: false, code: 'permission_denied' });
    const app: Principal = { ...alice, userId: undefined, appId: 'billing' };
    expect(
      authorizer.authorize({ principal: app, channel: 'notifications', params: {} }),
    ).toMatchObject({
      ok: false,
      code: 'permission_denied',
    });
  });

  it('refuses a credential without the subscribe scope', () => {
    const publisher: Principal = { ...alice, scopes: ['publish'] };
    expect(
      authorizer.authorize({ principal: publisher, channel: 'projects.updates', params: {} }),
    ).toMatchObject({
      ok: false,
      code: 'permission_denied',
    });
  });

  it('gives every principal of a channel and parameters the same subscription id', () => {
    const bob: Principal = { ...alice, userId: 'bob' };
    const a = authorizer.authorize({
      principal: alice,
      channel: 'chat.messages',
      params: { room_id: 'r' },
    });
    const b = authorizer.authorize({
      principal: bob,
      channel: 'chat.messages',
      params: { room_id: 'r' },
    });
    expect(a.ok && b.ok && a.grant.subscriptionId === b.grant.subscriptionId).toBe(true);
  });
});
