import { exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';

import type { JwtIssuer } from './credentials-file.ts';
import { TokenVerifier } from './token-verifier.ts';

const SECRET = 'an-hs256-secret-that-is-long-enough-1234';
const HS: JwtIssuer = { issuer: 'https://hs.test', audience: 'switchboard', secret: SECRET };

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { tenant: 'acme', plan: 'free', ...overrides };
}

function hsToken(
  payload = claims(),
  opts: { iss?: string; aud?: string; exp?: string | number } = {},
) {
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('alice')
    .setIssuer(opts.iss ?? HS.issuer)
    .setAudience(opts.aud ?? HS.audience)
    .setExpirationTime(opts.exp ?? '5m')
    .sign(new TextEncoder().encode(SECRET));
}

function unsigned(header: object, payload: object): string {
  const b64 = (v: object): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${b64(header)}.${b64(payload)}.`;
}

describe('TokenVerifier', () => {
  let rsa: { privateKey: CryptoKey; pem: string };
  let verifier: TokenVerifier;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    rsa = { privateKey: pair.privateKey, pem: await exportSPKI(pair.publicKey) };
    verifier = await TokenVerifier.create([
      HS,
      {
        issuer: 'https://rs.test',
        audience: 'switchboard',
        publicKeys: [{ alg: 'RS256', pem: rsa.pem }],
      },
    ]);
  });

  it('turns a valid HS256 token into a principal', async () => {
    const principal = await verifier.verify(await hsToken());
    expect(principal).toMatchObject({
      tenant: 'acme',
      userId: 'alice',
      plan: 'free',
      method: 'jwt',
    });
    expect(principal.expiresAt).toBeGreaterThan(Date.now());
  });

  it('reads operator scopes but never admin, and passes list claims on', async () => {
    const principal = await verifier.verify(
      await hsToken(
        claims({
          scope: 'subscribe reports:read admin Bad!',
          projects: ['p1', 'p2'],
          teams: [],
          nickname: 'al',
          mixed: ['a', 1],
        }),
      ),
    );
    expect(principal.scopes).toEqual(['subscribe', 'reports:read']);
    expect(principal.claims).toEqual({ projects: ['p1', 'p2'], teams: [] });
  });

  it('refuses a token whose list claims hold more than 1000 ids', async () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `p${i}`);
    await expect(
      verifier.verify(await hsToken(claims({ projects: ids(600), teams: ids(401) }))),
    ).rejects.toThrow('Token claim lists hold more than 1000 ids');
    await expect(
      verifier.verify(await hsToken(claims({ projects: ids(1000) }))),
    ).resolves.toMatchObject({ claims: { projects: ids(1000) } });
  });

  it('verifies RS256 tokens against the configured public key', async () => {
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'RS256' })
      .setSubject('bob')
      .setIssuer('https://rs.test')
      .setAudience('switchboard')
      .setExpirationTime('5m')
      .sign(rsa.privateKey);
    await expect(verifier.verify(token)).resolves.toMatchObject({ userId: 'bob' });
  });

  it.each([
    [
      'a wrong issuer',
      () => hsToken(claims(), { iss: 'https://evil.test' }),
      'Token issuer is not trusted',
    ],
    ['a wrong audience', () => hsToken(claims(), { aud: 'other' }), 'Token is invalid'],
    [
      'an expired token',
      () => hsToken(claims(), { exp: Math.floor(Date.now() / 1000) - 120 }),
      'Token has expired',
    ],
    [
      'an unsafe tenant',
      () => hsToken(claims({ tenant: 'a.b' })),
      'Token has no valid tenant claim',
    ],
  ])('refuses %s', async (_name, make, message) => {
    await expect(verifier.verify(await make())).rejects.toThrow(message);
  });

  it('refuses alg none', async () => {
    const token = unsigned(
      { alg: 'none' },
      { ...claims(), sub: 'a', iss: HS.issuer, aud: HS.audience, exp: 9e9 },
    );
    await expect(verifier.verify(token)).rejects.toThrow('Token is invalid');
  });

  it('refuses a token without exp', async () => {
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setIssuer(HS.issuer)
      .setAudience(HS.audience)
      .sign(new TextEncoder().encode(SECRET));
    await expect(verifier.verify(token)).rejects.toThrow('Token is invalid');
  });

  it('refuses an HS256 token signed with the RSA public key (algorithm confusion)', async () => {
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('mallory')
      .setIssuer('https://rs.test')
      .setAudience('switchboard')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(rsa.pem));
    await expect(verifier.verify(token)).rejects.toThrow();
  });

  it('ignores a jku header pointing elsewhere', async () => {
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'RS256', jku: 'https://evil.test/jwks.json' })
      .setSubject('bob')
      .setIssuer('https://rs.test')
      .setAudience('switchboard')
      .setExpirationTime('5m')
      .sign(rsa.privateKey);
    await expect(verifier.verify(token)).resolves.toMatchObject({ userId: 'bob' });
  });

  it('refuses a token whose kid no configured public key has', async () => {
    const pinned = await TokenVerifier.create([
      {
        issuer: 'https://rs.test',
        audience: 'switchboard',
        publicKeys: [{ kid: 'k1', alg: 'RS256', pem: rsa.pem }],
      },
    ]);
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'RS256', kid: 'k2' })
      .setSubject('bob')
      .setIssuer('https://rs.test')
      .setAudience('switchboard')
      .setExpirationTime('5m')
      .sign(rsa.privateKey);
    await expect(pinned.verify(token)).rejects.toThrow('Token signing key is unknown');
  });

  it('refuses garbage', async () => {
    await expect(verifier.verify('not.a.jwt')).rejects.toThrow('Token is malformed');
  });
});

describe('TokenVerifier with a JWKS URL', () => {
  const JWKS: JwtIssuer = {
    issuer: 'https://idp.test',
    audience: 'switchboard',
    jwksUrl: 'https://idp.test/jwks.json',
    algorithms: ['ES256'],
  };

  it.each([
    [{ ...JWKS, jwksUrl: 'http://idp.test/jwks.json' }, 'jwksUrl must be https://'],
    [{ ...JWKS, algorithms: undefined }, 'jwksUrl needs algorithms'],
  ])('will not start with an unsafe issuer (%#)', async (config, message) => {
    await expect(TokenVerifier.create([config])).rejects.toThrow(message);
  });

  it('refuses tokens while no key set was fetched, and reports each failed fetch', async () => {
    const failures: string[] = [];
    const verifier = await TokenVerifier.create(
      [JWKS],
      {},
      {
        fetch: () => Promise.resolve(new Response('', { status: 500 })),
        onJwksFetchFailed: (issuer, error) => failures.push(`${issuer}: ${error.message}`),
      },
    );
    const { privateKey } = await generateKeyPair('ES256');
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setSubject('alice')
      .setIssuer(JWKS.issuer)
      .setAudience(JWKS.audience)
      .setExpirationTime('5m')
      .sign(privateKey);

    await expect(verifier.verify(token)).rejects.toThrow('Token signing keys are unavailable');
    expect(failures).toEqual([
      'https://idp.test: jwks fetch from https://idp.test/jwks.json failed: HTTP 500',
    ]);
  });
});
