import { SignJWT, type CryptoKey, type JWTHeaderParameters } from 'jose';
import { afterAll, expect, it } from 'vitest';

import { describeEachStack } from '../conformance/matrix.ts';
import { gatewayUrl, request } from '../conformance/steps.ts';
import { JwksServer, signingKey, type SigningKey as Key } from '../harness/jwks.ts';
import { connect } from '../harness/ws-client.ts';

/**
 * JWT issuers end to end, through gateway, auth and (in distributed mode) NATS: a JWKS
 * issuer whose keys rotate and whose endpoint goes down, and a static ES256 issuer that
 * must not accept HS256 tokens keyed with its public key.
 */
const JWKS_ISSUER = 'https://jwks.idp.test';
const STATIC_ISSUER = 'https://static.idp.test';
const AUDIENCE = 'switchboard';

const key = (kid: string): Promise<Key> => signingKey(kid, 'ES256');

/** Keys and the JWKS endpoint of the stack now running (the modes run one after another). */
const shared: { keys: Record<string, Key>; jwks?: JwksServer } = { keys: {} };
const endpoints: JwksServer[] = [];
afterAll(async () => {
  await Promise.all(endpoints.map((e) => e.stop()));
});

function token(
  signer: { alg: string; key: CryptoKey | Uint8Array; kid?: string },
  iss: string,
  header: Partial<JWTHeaderParameters> = {},
): Promise<string> {
  return new SignJWT({ tenant: 'acme' })
    .setProtectedHeader({ alg: signer.alg, kid: signer.kid, ...header })
    .setSubject('ida')
    .setIssuer(iss)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(signer.key);
}

describeEachStack(
  'JWT issuers',
  {},
  (sut) => {
    const keys = (): Record<string, Key> => shared.keys;
    const jwks = (): JwksServer => shared.jwks!;

    async function auth(jwt: string): Promise<Record<string, unknown>> {
      const client = await connect(gatewayUrl(sut.stack));
      return request(client, { type: 'auth', token: jwt });
    }
    const es = (k: Key) => ({ alg: 'ES256', key: k.privateKey, kid: k.kid });

    it('verifies a JWKS token, then one signed with a key rotated in after one refetch', async () => {
      expect(await auth(await token(es(keys().k1!), JWKS_ISSUER))).toMatchObject({
        type: 'auth_success',
        user_id: 'ida',
      });
      jwks().keys = [keys().k1!.jwk, keys().k2!.jwk];
      // The issuer's cool-down between refetches is one second.
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      expect(await auth(await token(es(keys().k2!), JWKS_ISSUER))).toMatchObject({
        type: 'auth_success',
      });
    });

    it('keeps verifying known keys while the JWKS endpoint is down, and refuses unknown ones', async () => {
      await jwks().stop();
      try {
        expect(await auth(await token(es(keys().k2!), JWKS_ISSUER))).toMatchObject({
          type: 'auth_success',
        });
        await new Promise((resolve) => setTimeout(resolve, 1_100));
        expect(await auth(await token(es(keys().k3!), JWKS_ISSUER))).toMatchObject({
          type: 'auth_error',
          code: 'invalid_credentials',
          message: 'Token signing key is unknown',
        });
      } finally {
        await jwks().start();
      }
    });

    it('never takes a key from the token itself (jwk, jku) or lets an issuer verify with another issuer’s keys', async () => {
      const rogue = keys().rogue!;
      expect(await auth(await token(es(rogue), JWKS_ISSUER, { jwk: rogue.jwk }))).toMatchObject({
        type: 'auth_error',
        code: 'invalid_credentials',
      });
      expect(
        await auth(await token(es(rogue), JWKS_ISSUER, { jku: 'http://127.0.0.1:1/keys' })),
      ).toMatchObject({ type: 'auth_error', code: 'invalid_credentials' });
      // k1 belongs to the JWKS issuer; the static issuer must not accept it.
      expect(await auth(await token(es(keys().k1!), STATIC_ISSUER))).toMatchObject({
        type: 'auth_error',
        code: 'invalid_credentials',
      });
    });

    it('refuses HS256 tokens keyed with an ES256 issuer’s public key (algorithm confusion)', async () => {
      const secret = new TextEncoder().encode(keys().static!.pem);
      expect(await auth(await token({ alg: 'HS256', key: secret }, STATIC_ISSUER))).toMatchObject({
        type: 'auth_error',
        code: 'invalid_credentials',
      });
      expect(
        await auth(await token({ alg: 'ES256', key: keys().static!.privateKey }, STATIC_ISSUER)),
      ).toMatchObject({ type: 'auth_success' });
    });
  },
  async () => {
    shared.keys = {
      k1: await key('k1'),
      k2: await key('k2'),
      k3: await key('k3'),
      rogue: await key('rogue'),
      static: await key('static'),
    };
    const endpoint = new JwksServer();
    endpoint.keys = [shared.keys.k1!.jwk];
    await endpoint.start();
    endpoints.push(endpoint);
    shared.jwks = endpoint;
    return {
      jwtIssuers: [
        {
          issuer: JWKS_ISSUER,
          audience: AUDIENCE,
          jwksUrl: endpoint.url,
          algorithms: ['ES256'],
          jwksCooldownSeconds: 1,
          defaultPlan: 'free',
        },
        {
          issuer: STATIC_ISSUER,
          audience: AUDIENCE,
          publicKeys: [{ alg: 'ES256', pem: shared.keys.static!.pem }],
          defaultPlan: 'free',
        },
      ],
    };
  },
);
