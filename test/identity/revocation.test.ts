import { expect, it } from 'vitest';

import { hashApiKey, keyIdFromHash } from '@switchboard/auth';

import { describeEachStack } from '../conformance/matrix.ts';
import { connectAs, gatewayUrl, request } from '../conformance/steps.ts';
import { publishHttp } from '../harness/publish.ts';
import type { Stack } from '../harness/stacks.ts';
import { connect, type TestClient } from '../harness/ws-client.ts';

/** Revocations must close live connections on every gateway within 2 seconds. */
const WITHIN_MS = 2_000;

async function revoke(
  stack: Stack,
  kind: string,
  id: string,
  key = stack.credentials.keys.acmeAdmin,
) {
  const response = await fetch(stack.publishUrl.replace('/v1/events', '/v1/admin/revocations'), {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ kind, id }),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function closedWithin(client: TestClient, ms: number): Promise<number> {
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`still open after ${ms} ms`)), ms),
  );
  return (await Promise.race([client.closed, timeout])).code;
}

async function withToken(
  stack: Stack,
  gateway: number,
  sub: string,
  jti?: string,
): Promise<TestClient> {
  const client = await connect(gatewayUrl(stack, {}, gateway));
  const token = await stack.credentials.signToken(jti ? { sub, jti } : { sub });
  expect(await request(client, { type: 'auth', token })).toMatchObject({ type: 'auth_success' });
  return client;
}

describeEachStack('revocation', {}, (sut) => {
  const everyGateway = (): number[] => sut.stack.gatewayUrls.map((_, i) => i);

  it('of an API key closes its connections on every gateway with 4502 and refuses it after', async () => {
    const { stack } = sut;
    const clients = await Promise.all(everyGateway().map((g) => connectAs(stack, 'henry', g)));
    const keyId = keyIdFromHash(hashApiKey(stack.credentials.keys.henry));

    expect(await revoke(stack, 'key', keyId)).toMatchObject({ status: 200 });
    for (const client of clients) expect(await closedWithin(client, WITHIN_MS)).toBe(4502);

    const again = await connect(gatewayUrl(stack, { api_key: stack.credentials.keys.henry }));
    expect(await again.next()).toMatchObject({ type: 'auth_error', code: 'invalid_credentials' });
  });

  it('of a token id closes the connections that used it and leaves the others', async () => {
    const { stack } = sut;
    const revoked = await Promise.all(
      everyGateway().map((g) => withToken(stack, g, 'ivy', 'tok-revoked')),
    );
    const other = await withToken(stack, 0, 'ivy', 'tok-kept');

    await revoke(stack, 'token', 'tok-revoked');
    for (const client of revoked) expect(await closedWithin(client, WITHIN_MS)).toBe(4502);
    expect(await request(other, { type: 'ping' })).toMatchObject({ type: 'pong' });
  });

  it("of a user closes the user's token connections; a token issued later works", async () => {
    const { stack } = sut;
    const clients = await Promise.all(everyGateway().map((g) => withToken(stack, g, 'jack')));

    await revoke(stack, 'user', 'jack');
    for (const client of clients) expect(await closedWithin(client, WITHIN_MS)).toBe(4502);

    // Token times are whole seconds: a token of the same second counts as issued before.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const later = await withToken(stack, 0, 'jack');
    expect(later.isOpen).toBe(true);
  });

  it('of a server key refuses its very next publish, though the publisher remembers keys', async () => {
    const { stack } = sut;
    const created = await fetch(stack.publishUrl.replace('/v1/events', '/v1/admin/keys'), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${stack.credentials.keys.acmeAdmin}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ plan: 'free', app_id: 'reports', scopes: ['publish'] }),
    });
    const { key, id } = (await created.json()) as { key: string; id: string };
    const event = { channel: 'chat.messages', event: 'new', room_id: 'r1', data: {} };
    expect(await publishHttp(stack, key, event)).toMatchObject({ status: 202 });

    expect(await revoke(stack, 'key', id)).toMatchObject({ status: 200 });
    expect(await publishHttp(stack, key, event)).toMatchObject({
      status: 401,
      json: { error: { code: 'invalid_credentials' } },
    });
  });

  it('needs a key with the admin scope, and stays within its tenant', async () => {
    const { stack } = sut;
    expect(await revoke(stack, 'user', 'alice', stack.credentials.keys.acmeServer)).toMatchObject({
      status: 403,
      json: { error: { code: 'permission_denied' } },
    });
    const carol = await connectAs(stack, 'carol');
    expect(
      await revoke(stack, 'key', keyIdFromHash(hashApiKey(stack.credentials.keys.carol))),
    ).toMatchObject({
      status: 200,
      json: { revoked: { tenant: 'acme' } },
    });
    expect(await request(carol, { type: 'ping' })).toMatchObject({ type: 'pong' });
  });
});
