import { expect, it } from 'vitest';
import WebSocket from 'ws';

import { describeEachStack } from '../conformance/matrix.ts';
import { gatewayUrl, request } from '../conformance/steps.ts';
import { connect } from '../harness/ws-client.ts';

describeEachStack('credential lifetime', { EXPIRY_NOTICE_MS: 1_500 }, (sut) => {
  async function connectWithToken(expiresInSeconds: number, sub = 'zoe') {
    const client = await connect(gatewayUrl(sut.stack));
    const token = await sut.stack.credentials.signToken({ sub }, { expiresInSeconds });
    const reply = await request(client, { type: 'auth', token });
    expect(reply).toMatchObject({ type: 'auth_success', user_id: sub });
    return client;
  }

  it('warns with auth_expiring, then closes with 4501 when the token expires', async () => {
    const client = await connectWithToken(3);
    const notice = await client.next((f) => f.type === 'auth_expiring');
    expect(Date.parse(String(notice.expires_at))).toBeGreaterThan(Date.now());
    expect((await client.closed).code).toBe(4501);
  });

  it('stays open past the old expiry after an in-band refresh with the same identity', async () => {
    const client = await connectWithToken(3);
    await client.next((f) => f.type === 'auth_expiring');
    const fresh = await sut.stack.credentials.signToken({ sub: 'zoe' }, { expiresInSeconds: 3600 });
    expect(await request(client, { type: 'auth', token: fresh })).toMatchObject({
      type: 'auth_success',
    });

    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await request(client, { type: 'ping' })).toMatchObject({ type: 'pong' });
  });

  it('refuses a refresh as someone else and keeps the old identity', async () => {
    const client = await connectWithToken(3600);
    const other = await sut.stack.credentials.signToken(
      { sub: 'mallory' },
      { expiresInSeconds: 3600 },
    );
    expect(await request(client, { type: 'auth', token: other })).toMatchObject({
      type: 'auth_error',
      code: 'permission_denied',
    });
    expect(await request(client, { type: 'subscribe', channel: 'notifications' })).toMatchObject({
      type: 'subscription_success',
    });
  });
});

describeEachStack('browser origins', { ALLOWED_ORIGINS: 'https://app.example.test' }, (sut) => {
  function open(origin?: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(gatewayUrl(sut.stack), origin ? { origin } : {});
      ws.once('open', () => {
        ws.close();
        resolve(101);
      });
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('error', reject);
    });
  }

  it('are refused with 403 unless listed, and clients without an Origin are let through', async () => {
    expect(await open('https://evil.example.test')).toBe(403);
    expect(await open('https://app.example.test')).toBe(101);
    expect(await open()).toBe(101);
  });
});
