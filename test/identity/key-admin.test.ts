import { expect, it } from 'vitest';

import { describeEachStack } from '../conformance/matrix.ts';
import { gatewayUrl, request } from '../conformance/steps.ts';
import type { Stack } from '../harness/stacks.ts';
import { connect } from '../harness/ws-client.ts';

async function admin(
  stack: Stack,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  key?: string,
) {
  const response = await fetch(stack.publishUrl.replace('/v1/events', path), {
    method,
    headers: {
      authorization: `Bearer ${key ?? stack.credentials.keys.acmeAdmin}`,
      'content-type': 'application/json',
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

describeEachStack('the key admin API', {}, (sut) => {
  it('creates a key that works at once, lists it without secrets, and revokes it', async () => {
    const { stack } = sut;
    const created = await admin(stack, 'POST', '/v1/admin/keys', {
      plan: 'professional',
      user_id: 'kim',
      scopes: ['subscribe'],
      label: 'kim laptop',
    });
    expect(created).toMatchObject({
      status: 201,
      json: {
        tenant: 'acme',
        plan: 'professional',
        userId: 'kim',
        source: 'admin',
        revoked: false,
      },
    });
    const { key, id } = created.json as { key: string; id: string };

    const client = await connect(gatewayUrl(stack, { api_key: key }, stack.gatewayUrls.length - 1));
    expect(await client.next()).toMatchObject({
      type: 'auth_success',
      user_id: 'kim',
      plan: 'professional',
    });

    const listed = await admin(stack, 'GET', '/v1/admin/keys');
    const keys = (listed.json as { keys: Array<Record<string, unknown>> }).keys;
    expect(keys.find((k) => k.id === id)).toMatchObject({ label: 'kim laptop', source: 'admin' });
    expect(JSON.stringify(listed.json)).not.toContain(key);
    expect(JSON.stringify(listed.json)).not.toContain('sha256:');
    expect(keys.every((k) => k.tenant === 'acme')).toBe(true);

    await admin(stack, 'POST', '/v1/admin/revocations', { kind: 'key', id });
    expect((await client.closed).code).toBe(4502);
    const relisted = await admin(stack, 'GET', '/v1/admin/keys');
    const entry = (relisted.json as { keys: Array<Record<string, unknown>> }).keys.find(
      (k) => k.id === id,
    );
    expect(entry).toMatchObject({ revoked: true });
  });

  it('refuses keys without the admin scope and requests it cannot honour', async () => {
    const { stack } = sut;
    const asPublisher = await admin(
      stack,
      'GET',
      '/v1/admin/keys',
      undefined,
      stack.credentials.keys.acmeServer,
    );
    expect(asPublisher).toMatchObject({
      status: 403,
      json: { error: { code: 'permission_denied' } },
    });

    const bothIds = await admin(stack, 'POST', '/v1/admin/keys', {
      plan: 'free',
      user_id: 'a',
      app_id: 'b',
      scopes: ['subscribe'],
    });
    expect(bothIds).toMatchObject({
      status: 400,
      json: { error: { code: 'invalid_message_format' } },
    });

    const adminScope = await admin(stack, 'POST', '/v1/admin/keys', {
      plan: 'free',
      app_id: 'x',
      scopes: ['admin'],
    });
    expect(adminScope.status).toBe(400);

    const unknownPlan = await admin(stack, 'POST', '/v1/admin/keys', {
      plan: 'platinum',
      app_id: 'x',
      scopes: ['publish'],
    });
    expect(unknownPlan.status).toBe(400);
  });

  it('creates server keys that can publish', async () => {
    const { stack } = sut;
    const created = await admin(stack, 'POST', '/v1/admin/keys', {
      plan: 'enterprise',
      app_id: 'orders',
      scopes: ['publish'],
    });
    const { key } = created.json as { key: string };
    const listener = await connect(gatewayUrl(stack, { api_key: stack.credentials.keys.alice }));
    await listener.next();
    await request(listener, { type: 'subscribe', channel: 'chat.messages', room_id: 'keys' });

    const response = await fetch(stack.publishUrl, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify({
        channel: 'chat.messages',
        event: 'e',
        room_id: 'keys',
        data: { ok: true },
      }),
    });
    expect(response.status).toBe(202);
    expect(await listener.next((f) => f.type === 'event')).toMatchObject({ data: { ok: true } });
  });
});
