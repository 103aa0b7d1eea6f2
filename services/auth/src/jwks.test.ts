import { randomUUID } from 'node:crypto';

import {
  errors,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JWK,
} from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';

import {
  jwksUrlProblem,
  KeySetUnavailableError,
  RemoteKeySet,
  type KeySetFetchError,
} from './jwks.ts';

interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

async function signingKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256' } };
}

/** A JWKS endpoint behind an injected fetch: what it serves, and how often it was asked. */
class FakeEndpoint {
  keys: JWK[] = [];
  requests = 0;
  /** Replaces the normal answer, e.g. with a failure. */
  answer: ((signal: AbortSignal) => Promise<Response>) | undefined;

  readonly fetch = async (_url: string | URL | Request, init?: RequestInit): Promise<Response> => {
    this.requests += 1;
    const signal = init?.signal ?? AbortSignal.abort();
    if (this.answer) return this.answer(signal);
    return Response.json({ keys: this.keys });
  };
}

const COOLDOWN_MS = 30_000;
const MAX_AGE_MS = 600_000;

function setup(options: { timeoutMs?: number } = {}) {
  const endpoint = new FakeEndpoint();
  const failures: KeySetFetchError[] = [];
  const clock = { now: 1_000_000 };
  const keySet = new RemoteKeySet({
    url: new URL('https://idp.test/jwks.json?secret=s3cret'),
    cooldownMs: COOLDOWN_MS,
    maxAgeMs: MAX_AGE_MS,
    timeoutMs: options.timeoutMs ?? 5_000,
    onFetchFailed: (error) => failures.push(error),
    now: () => clock.now,
    fetch: endpoint.fetch,
  });
  return { endpoint, failures, clock, keySet };
}

function token(key: SigningKey, kid = key.kid): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid })
    .setExpirationTime('5m')
    .sign(key.privateKey);
}

async function verify(keySet: RemoteKeySet, jwt: string): Promise<unknown> {
  const { payload } = await jwtVerify(jwt, keySet.getKey, { algorithms: ['ES256'] });
  return payload;
}

describe('RemoteKeySet', () => {
  let first: SigningKey;
  let second: SigningKey;

  beforeAll(async () => {
    [first, second] = await Promise.all([signingKey('k1'), signingKey('k2')]);
  });

  it('fetches the set once and serves known kids from the cache', async () => {
    const { endpoint, keySet } = setup();
    endpoint.keys = [first.jwk, second.jwk];

    await verify(keySet, await token(first));
    await verify(keySet, await token(second));
    await verify(keySet, await token(first));
    expect(endpoint.requests).toBe(1);
  });

  it('joins concurrent first fetches into one request', async () => {
    const { endpoint, keySet } = setup();
    endpoint.keys = [first.jwk];

    const jwt = await token(first);
    await Promise.all(Array.from({ length: 20 }, () => verify(keySet, jwt)));
    expect(endpoint.requests).toBe(1);
  });

  it('refetches at most once per cool-down however many unknown kids arrive', async () => {
    const { endpoint, clock, keySet } = setup();
    endpoint.keys = [first.jwk];
    await keySet.refresh();

    const flood = () =>
      Promise.all(
        Array.from({ length: 50 }, async () => {
          const attempt = verify(keySet, await token(first, randomUUID()));
          await expect(attempt).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
        }),
      );
    await flood();
    expect(endpoint.requests).toBe(1);

    clock.now += COOLDOWN_MS;
    await flood();
    await flood();
    expect(endpoint.requests).toBe(2);
  });

  it('verifies a key rotated into the set after one refetch', async () => {
    const { endpoint, clock, keySet } = setup();
    endpoint.keys = [first.jwk];
    await keySet.refresh();

    endpoint.keys = [first.jwk, second.jwk];
    clock.now += COOLDOWN_MS;
    await expect(verify(keySet, await token(second))).resolves.toBeDefined();
    expect(endpoint.requests).toBe(2);
  });

  it('refuses a kid rotated in while the cool-down still runs', async () => {
    const { endpoint, keySet } = setup();
    endpoint.keys = [first.jwk];
    await keySet.refresh();

    endpoint.keys = [first.jwk, second.jwk];
    await expect(verify(keySet, await token(second))).rejects.toBeInstanceOf(
      errors.JWKSNoMatchingKey,
    );
    expect(endpoint.requests).toBe(1);
  });

  it('stops trusting a key removed from the set once the cache is refetched', async () => {
    const { endpoint, clock, keySet } = setup();
    endpoint.keys = [first.jwk, second.jwk];
    await keySet.refresh();

    endpoint.keys = [second.jwk];
    clock.now += MAX_AGE_MS;
    await expect(verify(keySet, await token(first))).rejects.toBeInstanceOf(
      errors.JWKSNoMatchingKey,
    );
    await expect(verify(keySet, await token(second))).resolves.toBeDefined();
  });

  it('keeps using cached keys while the endpoint fails, asking once per cool-down', async () => {
    const { endpoint, failures, clock, keySet } = setup();
    endpoint.keys = [first.jwk];
    await keySet.refresh();

    endpoint.answer = () => Promise.reject(new TypeError('fetch failed'));
    clock.now += MAX_AGE_MS;
    for (let i = 0; i < 5; i++) await verify(keySet, await token(first));
    await expect(verify(keySet, await token(second))).rejects.toBeInstanceOf(
      errors.JWKSNoMatchingKey,
    );
    expect(endpoint.requests).toBe(2);
    expect(failures.map((f) => f.message)).toEqual([
      'jwks fetch from https://idp.test/jwks.json failed: fetch failed',
    ]);

    clock.now += COOLDOWN_MS;
    await verify(keySet, await token(first));
    expect(endpoint.requests).toBe(3);
  });

  it('says the set is unavailable while no fetch has succeeded, without asking again', async () => {
    const { endpoint, failures, keySet } = setup();
    endpoint.answer = () => Promise.resolve(new Response('', { status: 503 }));

    for (let i = 0; i < 3; i++) {
      await expect(verify(keySet, await token(first))).rejects.toBeInstanceOf(
        KeySetUnavailableError,
      );
    }
    expect(endpoint.requests).toBe(1);
    expect(failures[0]?.message).toBe(
      'jwks fetch from https://idp.test/jwks.json failed: HTTP 503',
    );
  });

  it('gives up on an endpoint that never answers after timeoutMs', async () => {
    const { endpoint, failures, keySet } = setup({ timeoutMs: 50 });
    endpoint.answer = (signal) =>
      new Promise((_resolve, reject) => {
        signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
      });

    await expect(verify(keySet, await token(first))).rejects.toBeInstanceOf(KeySetUnavailableError);
    expect(failures[0]?.message).toBe(
      'jwks fetch from https://idp.test/jwks.json timed out after 50 ms',
    );
  });

  it.each([
    [
      'a redirect',
      () => new Response(null, { status: 302, headers: { location: 'https://evil.test' } }),
    ],
    ['a body that is not JSON', () => new Response('<html>', { status: 200 })],
    ['JSON that is not a key set', () => Response.json({ keys: 'none' })],
  ])('treats %s as a failed fetch and keeps the keys it had', async (_name, answer) => {
    const { endpoint, failures, clock, keySet } = setup();
    endpoint.keys = [first.jwk];
    await keySet.refresh();

    endpoint.answer = () => Promise.resolve(answer());
    clock.now += MAX_AGE_MS;
    await expect(verify(keySet, await token(first))).resolves.toBeDefined();
    expect(failures).toHaveLength(1);
  });
});

describe('jwksUrlProblem', () => {
  it.each([
    'https://idp.example.com/.well-known/jwks.json',
    'http://localhost:8080/jwks',
    'http://127.0.0.1/jwks',
    'http://[::1]:9000/jwks',
  ])('accepts %s', (url) => {
    expect(jwksUrlProblem(url)).toBeUndefined();
  });

  it.each([
    ['http://idp.example.com/jwks', 'plain http'],
    ['http://localhost.example.com/jwks', 'plain http'],
    ['http://127.0.0.2/jwks', 'plain http'],
    ['ftp://idp.example.com/jwks', 'must be an https:// URL'],
    ['idp.example.com/jwks', 'is not a URL'],
    ['https://user:pass@idp.example.com/jwks', 'must not carry credentials'],
  ])('refuses %s', (url, reason) => {
    expect(jwksUrlProblem(url)).toContain(reason);
  });
});
