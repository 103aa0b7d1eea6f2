import { describe, expect, it } from 'vitest';

import { parseCredentials } from './credentials-file.ts';

const JWKS_ISSUER = {
  issuer: 'https://idp.test',
  audience: 'switchboard',
  jwksUrl: 'https://idp.test/.well-known/jwks.json',
  algorithms: ['RS256'],
};

function parseIssuer(fields: Record<string, unknown>) {
  return parseCredentials({ jwt: [{ ...JWKS_ISSUER, ...fields }] }, 'creds.json');
}

describe('parseCredentials, jwt issuers with a JWKS URL', () => {
  it('accepts a jwksUrl with its algorithms and cache settings', () => {
    const fields = { jwksCooldownSeconds: 10, jwksCacheMaxAgeSeconds: 300, jwksTimeoutMs: 2_000 };
    expect(parseIssuer(fields).jwt[0]).toEqual({ ...JWKS_ISSUER, ...fields });
  });

  it('accepts plain http on localhost', () => {
    expect(() => parseIssuer({ jwksUrl: 'http://localhost:8080/jwks' })).not.toThrow();
  });

  it.each([
    ['without algorithms', { algorithms: undefined }, 'jwt.0.algorithms: is required with jwksUrl'],
    [
      'with an HS algorithm',
      { algorithms: ['HS256'] },
      'jwt.0.algorithms.0: must be equal to one of the allowed values: RS256, ES256, EdDSA',
    ],
    ['with no algorithms listed', { algorithms: [] }, 'jwt.0.algorithms: must not have fewer'],
    [
      'with plain http elsewhere',
      { jwksUrl: 'http://idp.test/jwks' },
      'jwt.0.jwksUrl: must be https://',
    ],
    ['with a secret as well', { secret: 'x'.repeat(32) }, 'jwt.0: needs exactly one of secret'],
    ['with a cool-down of 0', { jwksCooldownSeconds: 0 }, 'jwt.0.jwksCooldownSeconds'],
    ['with a misspelt field', { jwksUri: 'https://idp.test/jwks' }, 'jwt.0'],
  ])('refuses an issuer %s', (_name, fields, message) => {
    expect(() => parseIssuer(fields)).toThrow(`creds.json: ${message}`);
  });

  it('refuses JWKS settings on an issuer without a jwksUrl', () => {
    const issuer = { ...JWKS_ISSUER, jwksUrl: undefined, secretEnv: 'IDP_SECRET' };
    expect(() => parseCredentials({ jwt: [issuer] }, 'creds.json')).toThrow(
      'creds.json: jwt.0.algorithms: applies only with jwksUrl',
    );
  });
});
