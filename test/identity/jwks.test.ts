import { randomUUID } from 'node:crypto';

import { SignJWT, type JWTHeaderParameters } from 'jose';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { TokenVerifier, type JwtIssuer } from '@switchboard/auth';

import { JwksServer, signingKey, type SigningKey } from '../harness/jwks.ts';

const ISSUER_A = 'https://a.idp.test';
const ISSUER_B = 'https://b.idp.test';
const AUDIENCE = 'switchboard';
const UNKNOWN = 'Token signing key is unknown';
const INVALID = 'Token is invalid';
/** The defaults of jwksCooldownSeconds and jwksCacheMaxAgeSeconds, passed by moving the clock. */
const COOLDOWN_MS = 30_000;
const MAX_AGE_MS = 600_000;

/** A token with `alg` none and no signature. */
function unsigned(header: object, iss: string): string {
  const payload = { tenant: 'acme', sub: 'alice', iss, aud: AUDIENCE, exp: 9e9 };
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part(header)}.${part(payload)}.`;
}

describe('JWT issuers with a JWKS URL', () => {
  const keys: Record<string, SigningKey> = {};
  let idpA: JwksServer;
  let idpB: JwksServer;
  let attacker: JwksServer;
  let verifier: TokenVerifier;
  let fetchFailures: string[];
  /** How far the verifier's clock runs ahead, to pass cool-downs and cache ages. */
  let aheadMs: number;
  const now = (): number => Date.now() + aheadMs;
  const key = (kid: string): SigningKey => keys[kid] ?? expect.fail(`no key ${kid}`);

  function sign(
    signer: SigningKey | { alg: 'HS256'; secret: Uint8Array; kid: string },
    claims: { iss?: string; aud?: string; exp?: number } = {},
    header: Partial<JWTHeaderParameters> = {},
  ): Promise<string> {
    return new SignJWT({ tenant: 'acme' })
      .setProtectedHeader({ alg: signer.alg, kid: signer.kid, ...header })
      .setSubject('alice')
      .setIssuer(claims.iss ?? ISSUER_A)
      .setAudience(claims.aud ?? AUDIENCE)
      .setExpirationTime(claims.exp ?? Math.floor(now() / 1000) + 300)
      .sign('secret' in signer ? signer.secret : signer.privateKey);
  }

  beforeAll(async () => {
    const specs = [
      ['a1', 'RS256'],
      ['a2', 'ES256'],
      ['a3', 'ES256'],
      ['shared', 'ES256'],
      ['b-shared', 'ES256'],
      ['attacker', 'ES256'],
    ] as const;
    const generated = await Promise.all(specs.map(([kid, alg]) => signingKey(kid, alg)));
    for (const generatedKey of generated) keys[generatedKey.kid] = generatedKey;
  });

  beforeEach(async () => {
    [idpA, idpB, attacker] = [new JwksServer(), new JwksServer(), new JwksServer()];
    await Promise.all([idpA.start(), idpB.start(), attacker.start()]);
    idpA.keys = [key('a1').jwk, key('a2').jwk, key('shared').jwk];
    // Issuer B uses the kid "shared" too, for a key of its own.
    idpB.keys = [{ ...key('b-shared').jwk, kid: 'shared' }];
    attacker.keys = [key('attacker').jwk];

    aheadMs = 0;
    fetchFailures = [];
    const issuer = (name: string, server: JwksServer, algorithms: JwtIssuer['algorithms']) => ({
      issuer: name,
      audience: AUDIENCE,
      jwksUrl: server.url,
      algorithms,
      jwksTimeoutMs: 500,
    });
    const issuers = [issuer(ISSUER_A, idpA, ['RS256', 'ES256']), issuer(ISSUER_B, idpB, ['ES256'])];
    verifier = await TokenVerifier.create(
      issuers,
      {},
      {
        now,
        onJwksFetchFailed: (name, error) => fetchFailures.push(`${name} ${error.message}`),
      },
    );
  });

  afterEach(async () => {
    await Promise.all([idpA.stop(), idpB.stop(), attacker.stop()]);
  });

  it.each(['a1', 'a2'])('verify a token signed with key %s of the issuer JWKS', async (kid) => {
    await expect(verifier.verify(await sign(key(kid)))).resolves.toMatchObject({
      tenant: 'acme',
      userId: 'alice',
    });
    expect(idpA.requests).toBe(1);
  });

  it('verify a token signed with a key rotated into the JWKS after one refetch', async () => {
    idpA.keys = [key('a2').jwk, key('a3').jwk];
    aheadMs = COOLDOWN_MS;

    await expect(verifier.verify(await sign(key('a3')))).resolves.toBeDefined();
    expect(idpA.requests).toBe(2);
  });

  it('fetch at most once per cool-down under a flood of unknown kids', async () => {
    const flood = async (): Promise<void> => {
      const tokens = await Promise.all(
        Array.from({ length: 100 }, () => sign(key('a2'), {}, { kid: randomUUID() })),
      );
      const results = await Promise.allSettled(tokens.map((t) => verifier.verify(t)));
      for (const result of results) {
        expect(result).toMatchObject({
          status: 'rejected',
          reason: { message: UNKNOWN },
        });
      }
    };

    await flood();
    expect(idpA.requests).toBe(1);

    aheadMs = COOLDOWN_MS;
    await flood();
    await flood();
    expect(idpA.requests).toBe(2);
  });

  it('keep verifying known keys while the endpoint is down, and refuse unknown kids', async () => {
    await idpA.stop();
    aheadMs = MAX_AGE_MS;

    await expect(verifier.verify(await sign(key('a2')))).resolves.toBeDefined();
    await expect(verifier.verify(await sign(key('a3')))).rejects.toThrow(UNKNOWN);
    // Refused, or "other side closed" when a kept-alive socket was picked: either way, one failure.
    expect(fetchFailures).toEqual([
      expect.stringMatching(/^https:\/\/a\.idp\.test jwks fetch .* failed: /),
    ]);

    idpA.keys = [key('a2').jwk, key('a3').jwk];
    await idpA.start();
    aheadMs = MAX_AGE_MS + COOLDOWN_MS;
    await expect(verifier.verify(await sign(key('a3')))).resolves.toBeDefined();
  });

  it('refuse an unknown kid within the fetch timeout while the endpoint hangs', async () => {
    idpA.hanging = true;
    aheadMs = COOLDOWN_MS;

    const started = performance.now();
    await expect(verifier.verify(await sign(key('a3')))).rejects.toThrow(UNKNOWN);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(fetchFailures).toEqual([expect.stringContaining('timed out after 500 ms')]);
  });

  it('never follow a JWKS endpoint that redirects elsewhere', async () => {
    idpA.redirectTo = attacker.url;
    aheadMs = COOLDOWN_MS;

    await expect(verifier.verify(await sign(key('attacker')))).rejects.toThrow(UNKNOWN);
    expect(attacker.requests).toBe(0);
    expect(fetchFailures).toEqual([expect.stringContaining('HTTP 302')]);
  });

  it.each([
    ['a key only issuer A has', 'a2', UNKNOWN],
    ['issuer A key under a kid issuer B uses too', 'shared', INVALID],
  ])('refuse a token of issuer B signed with %s', async (_name, kid, message) => {
    const token = await sign(key(kid), { iss: ISSUER_B });
    await expect(verifier.verify(token)).rejects.toThrow(message);
  });

  it.each([
    ['an embedded jwk', 'attacker', () => ({ jwk: key('attacker').jwk }), UNKNOWN],
    ['an embedded jwk under a trusted kid', 'a2', () => ({ jwk: key('attacker').jwk }), INVALID],
    ['a jku at a key set of its own', 'attacker', () => ({ jku: attacker.url }), UNKNOWN],
    ['an x5u at a certificate of its own', 'attacker', () => ({ x5u: attacker.url }), UNKNOWN],
  ])('refuse a token that brings %s', async (_name, kid, header, message) => {
    const token = await sign(key('attacker'), {}, { ...header(), kid });
    await expect(verifier.verify(token)).rejects.toThrow(message);
    expect(attacker.requests).toBe(0);
  });

  it.each([
    ['alg none', () => Promise.resolve(unsigned({ alg: 'none', kid: 'a1' }, ISSUER_A)), INVALID],
    [
      'an HS256 token signed with the RSA public key (algorithm confusion)',
      () => sign({ alg: 'HS256', kid: 'a1', secret: new TextEncoder().encode(key('a1').pem) }),
      INVALID,
    ],
    [
      'a wrong issuer',
      () => sign(key('a2'), { iss: 'https://evil.test' }),
      'Token issuer is not trusted',
    ],
    [
      'a token without a kid while the issuer has several keys of its algorithm',
      () => sign(key('a2'), {}, { kid: undefined }),
      'Token signing key is ambiguous',
    ],
    ['a wrong audience', () => sign(key('a2'), { aud: 'someone-else' }), INVALID],
    [
      'an expired token',
      () => sign(key('a2'), { exp: Math.floor(now() / 1000) - 120 }),
      'Token has expired',
    ],
  ])('refuse %s', async (_name, make, message) => {
    await expect(verifier.verify(await make())).rejects.toThrow(message);
  });
});
