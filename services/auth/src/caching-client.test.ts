import { describe, expect, it } from 'vitest';

import { MemoryBus } from '@switchboard/bus';
import {
  ServiceSubjects,
  type AuthReply,
  type AuthRequest,
  type Principal,
} from '@switchboard/protocol';

import { CachingAuthClient, type CredentialVerifier } from './caching-client.ts';
import { MemoryRevocations } from './revocations.ts';

const principal: Principal = {
  tenant: 'acme',
  appId: 'billing',
  plan: 'free',
  scopes: ['publish'],
  method: 'api_key',
  credentialId: 'key_abc',
  limits: { maxConnections: null, maxSubscriptionsPerConnection: 10, messagesPerMinute: 60 },
};

/** An upstream that answers from a table and counts what it was asked. */
class FakeAuth implements CredentialVerifier {
  asked = 0;
  replies = new Map<string, AuthReply>([['good', { ok: true, principal }]]);
  failing = false;

  verify(request: AuthRequest): Promise<AuthReply> {
    this.asked++;
    if (this.failing) return Promise.reject(new Error('auth is down'));
    const reply = this.replies.get(request.api_key ?? request.token ?? '');
    return Promise.resolve(
      reply ?? { ok: false, code: 'invalid_credentials', message: 'Invalid API key' },
    );
  }
}

function setup(ttlMs = 5_000) {
  const upstream = new FakeAuth();
  const revocations = new MemoryRevocations();
  const clock = { now: 1_000_000 };
  const client = new CachingAuthClient(upstream, revocations, { ttlMs, now: () => clock.now });
  return { upstream, revocations, clock, client };
}

describe('CachingAuthClient', () => {
  it('asks auth once for a key used again within the period', async () => {
    const { upstream, client } = setup();

    await client.verify({ api_key: 'good' });
    const second = await client.verify({ api_key: 'good' });

    expect(second).toEqual({ ok: true, principal });
    expect(upstream.asked).toBe(1);
  });

  it('asks auth again once the period is over', async () => {
    const { upstream, clock, client } = setup(5_000);

    await client.verify({ api_key: 'good' });
    clock.now += 5_000;
    await client.verify({ api_key: 'good' });

    expect(upstream.asked).toBe(2);
  });

  it('shares one request among callers asking about the same key at once', async () => {
    const { upstream, client } = setup();

    const replies = await Promise.all([1, 2, 3].map(() => client.verify({ api_key: 'good' })));

    expect(replies.every((r) => r.ok)).toBe(true);
    expect(upstream.asked).toBe(1);
  });

  it('never remembers a refusal', async () => {
    const { upstream, client } = setup();

    await client.verify({ api_key: 'unknown' });
    const again = await client.verify({ api_key: 'unknown' });

    expect(again.ok).toBe(false);
    expect(upstream.asked).toBe(2);
  });

  it('sends tokens to auth every time', async () => {
    const { upstream, client } = setup();

    await client.verify({ token: 'a.b.c' });
    await client.verify({ token: 'a.b.c' });

    expect(upstream.asked).toBe(2);
  });

  it('asks auth again, which refuses, as soon as the key is revoked', async () => {
    const { upstream, revocations, clock, client } = setup();
    await client.verify({ api_key: 'good' });

    await revocations.add({ kind: 'key', tenant: 'acme', id: 'key_abc' }, clock.now);
    upstream.replies.delete('good');
    const after = await client.verify({ api_key: 'good' });

    expect(after.ok).toBe(false);
    expect(upstream.asked).toBe(2);
  });

  it('asks auth again after forgetAll, also for an answer that was on its way', async () => {
    const { upstream, client } = setup();
    upstream.replies.set('other', { ok: true, principal });
    await client.verify({ api_key: 'good' });

    const onItsWay = client.verify({ api_key: 'other' });
    client.forgetAll();
    await onItsWay;
    await client.verify({ api_key: 'good' });
    await client.verify({ api_key: 'other' });

    expect(upstream.asked).toBe(4);
  });

  it('does not remember a key that was revoked while auth was answering', async () => {
    const { upstream, revocations, client } = setup();
    await revocations.add({ kind: 'key', tenant: 'acme', id: 'key_abc' }, 1);

    await client.verify({ api_key: 'good' });
    await client.verify({ api_key: 'good' });

    expect(upstream.asked).toBe(2);
  });

  it('asks auth again once a remembered key has expired', async () => {
    const { upstream, clock, client } = setup(60_000);
    upstream.replies.set('good', { ok: true, principal: { ...principal, expiresAt: 1_001_000 } });

    await client.verify({ api_key: 'good' });
    clock.now = 1_001_000;
    await client.verify({ api_key: 'good' });

    expect(upstream.asked).toBe(2);
  });

  it('passes an unavailable auth service on and asks again next time', async () => {
    const { upstream, client } = setup();
    upstream.failing = true;

    await expect(client.verify({ api_key: 'good' })).rejects.toThrow('auth is down');
    upstream.failing = false;
    const reply = await client.verify({ api_key: 'good' });

    expect(reply.ok).toBe(true);
    expect(upstream.asked).toBe(2);
  });

  it('forgets every key when an auth replica announces that it stops', async () => {
    const { upstream, client } = setup();
    const bus = new MemoryBus();
    client.followAuthStops(bus);
    await client.verify({ api_key: 'good' });

    bus.publish(ServiceSubjects.authStopping, new Uint8Array(0));
    await new Promise((resolve) => setImmediate(resolve));
    upstream.failing = true;

    await expect(client.verify({ api_key: 'good' })).rejects.toThrow('auth is down');
  });

  it('asks auth every time when the period is 0', async () => {
    const { upstream, client } = setup(0);

    await client.verify({ api_key: 'good' });
    await client.verify({ api_key: 'good' });

    expect(upstream.asked).toBe(2);
  });
});
