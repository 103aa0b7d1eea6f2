import { describe, expect, it } from 'vitest';

import { generateApiKey, hashApiKey } from './api-keys.ts';
import { Authenticator } from './authenticator.ts';
import { MemoryKeyStore } from './key-store.ts';
import { PlanCatalog } from './plan-catalog.ts';
import { TokenVerifier } from './token-verifier.ts';

async function setup() {
  const keys = { good: generateApiKey(), revoked: generateApiKey(), expired: generateApiKey() };
  const store = new MemoryKeyStore([
    {
      hash: hashApiKey(keys.good),
      tenant: 'acme',
      plan: 'free',
      userId: 'alice',
      scopes: ['subscribe'],
    },
    {
      hash: hashApiKey(keys.revoked),
      tenant: 'acme',
      plan: 'free',
      scopes: ['subscribe'],
      revoked: true,
    },
    {
      hash: hashApiKey(keys.expired),
      tenant: 'acme',
      plan: 'free',
      scopes: ['subscribe'],
      expiresAt: '2020-01-01T00:00:00.000Z',
    },
  ]);
  return {
    keys,
    authenticator: new Authenticator(store, await TokenVerifier.create([]), new PlanCatalog({})),
  };
}

describe('Authenticator', () => {
  it('finds a key by its hash and returns its principal', async () => {
    const { keys, authenticator } = await setup();
    const reply = await authenticator.authenticate({ api_key: keys.good });
    expect(reply).toMatchObject({
      ok: true,
      principal: { tenant: 'acme', userId: 'alice', method: 'api_key' },
    });
  });

  it('gives unknown, revoked and expired keys the same answer', async () => {
    const { keys, authenticator } = await setup();
    const replies = await Promise.all(
      [generateApiKey(), keys.revoked, keys.expired].map((api_key) =>
        authenticator.authenticate({ api_key }),
      ),
    );
    expect(new Set(replies.map((r) => JSON.stringify(r))).size).toBe(1);
    expect(replies[0]).toEqual({
      ok: false,
      code: 'invalid_credentials',
      message: 'Invalid API key',
    });
  });

  it("resolves the limits of the plan, with the tenant's own overrides", () => {
    const catalog = new PlanCatalog({ tenants: { acme: { limits: { maxConnections: 500 } } } });
    expect(catalog.limitsFor('acme', 'enterprise')).toEqual({
      maxConnections: 500,
      maxSubscriptionsPerConnection: null,
      messagesPerMinute: null,
    });
    expect(catalog.limitsFor('globex', 'free')?.maxConnections).toBe(5);
    expect(catalog.limitsFor('acme', 'platinum')).toBeUndefined();
  });

  it('stores keys only as SHA-256 hashes', () => {
    const key = generateApiKey();
    expect(hashApiKey(key)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(hashApiKey(key)).not.toContain(key.slice(4));
  });
});
