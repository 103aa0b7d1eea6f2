import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';

import {
  generateApiKey,
  hashApiKey,
  type ApiKeyEntry,
  type CredentialsFile,
  type JwtIssuer,
} from '@switchboard/auth';

type KeySpec = Omit<ApiKeyEntry, 'hash' | 'id'>;

const IN_A_YEAR = new Date(Date.now() + 365 * 24 * 3600_000).toISOString();

/**
 * The API keys every stack trusts. Client keys used for most tests are on unlimited
 * plans so plan limits never interfere; `dave` shows a limited plan.
 */
export const KEY_SPECS = {
  alice: { tenant: 'acme', userId: 'alice', plan: 'enterprise', scopes: ['subscribe'] },
  bob: { tenant: 'acme', userId: 'bob', plan: 'professional', scopes: ['subscribe'] },
  dave: {
    tenant: 'acme',
    userId: 'dave',
    plan: 'free',
    scopes: ['subscribe'],
    expiresAt: IN_A_YEAR,
  },
  /** Free-plan users of their own, so each limit test counts against a fresh account. */
  erin: { tenant: 'acme', userId: 'erin', plan: 'free', scopes: ['subscribe'] },
  frank: { tenant: 'acme', userId: 'frank', plan: 'free', scopes: ['subscribe'] },
  grace: { tenant: 'acme', userId: 'grace', plan: 'free', scopes: ['subscribe'] },
  /** Keys that revocation tests revoke, and the admin key that revokes them. */
  henry: { tenant: 'acme', userId: 'henry', plan: 'enterprise', scopes: ['subscribe'] },
  acmeAdmin: { tenant: 'acme', appId: 'ops', plan: 'enterprise', scopes: ['admin'] },
  carol: { tenant: 'globex', userId: 'carol', plan: 'enterprise', scopes: ['subscribe'] },
  acmeServer: { tenant: 'acme', appId: 'billing', plan: 'enterprise', scopes: ['publish'] },
  globexServer: { tenant: 'globex', appId: 'billing', plan: 'enterprise', scopes: ['publish'] },
  /** An application key without a user that may both subscribe and publish. */
  acmeDashboard: {
    tenant: 'acme',
    appId: 'dashboard',
    plan: 'enterprise',
    scopes: ['subscribe', 'publish'],
  },
  revoked: {
    tenant: 'acme',
    userId: 'mallory',
    plan: 'enterprise',
    scopes: ['subscribe'],
    revoked: true,
  },
  expired: {
    tenant: 'acme',
    userId: 'oscar',
    plan: 'enterprise',
    scopes: ['subscribe'],
    expiresAt: '2020-01-01T00:00:00.000Z',
  },
} as const satisfies Record<string, KeySpec>;

export type KeyName = keyof typeof KEY_SPECS;

export interface JwtIssuerConfig {
  readonly issuer: string;
  readonly audience: string;
  readonly secret: string;
}

/** Claims and signing choices of a test token; anything left out gets a working default. */
export interface TokenOptions {
  readonly secret?: string;
  /** Seconds from now until `exp`; negative for an expired token. */
  readonly expiresInSeconds?: number;
}

/** A credentials file on disk and the plain keys and secrets it was made from. */
export interface TestCredentials {
  /** Path of the credentials file, for SWITCHBOARD_CONFIG. */
  readonly path: string;
  readonly keys: Readonly<Record<KeyName, string>>;
  readonly jwt: JwtIssuerConfig;
  /** An HS256 token of the configured issuer: sub, tenant, plan, iss, aud and exp by default. */
  signToken(claims?: JWTPayload, options?: TokenOptions): Promise<string>;
  remove(): Promise<void>;
}

/** The default claims of a token; the tests override single claims. */
export const TOKEN_SUBJECT = { sub: 'zoe', tenant: 'acme', plan: 'professional' } as const;

/** An `alg: none` token carrying the given claims, which a verifier must refuse. */
export function unsignedToken(claims: JWTPayload): string {
  return new UnsecuredJWT(claims).encode();
}

/**
 * Writes a fresh credentials file (new random keys and secret) into a temp dir, with
 * `extraIssuers` after the stack's own HS256 issuer.
 */
export async function createCredentials(
  extraIssuers: readonly JwtIssuer[] = [],
): Promise<TestCredentials> {
  const dir = await mkdtemp(join(tmpdir(), 'switchboard-credentials-'));
  const jwt: JwtIssuerConfig = {
    issuer: 'https://issuer.test',
    audience: 'switchboard',
    secret: randomBytes(36).toString('base64url'),
  };

  const keys = {} as Record<KeyName, string>;
  const apiKeys: ApiKeyEntry[] = [];
  for (const [name, spec] of Object.entries(KEY_SPECS) as Array<[KeyName, KeySpec]>) {
    keys[name] = generateApiKey();
    apiKeys.push({ ...spec, scopes: [...spec.scopes], hash: hashApiKey(keys[name]), label: name });
  }

  const file: Pick<CredentialsFile, 'apiKeys' | 'jwt'> = {
    apiKeys,
    jwt: [{ ...jwt }, ...extraIssuers],
  };
  const path = join(dir, 'credentials.json');
  await writeFile(path, JSON.stringify(file, null, 2), { mode: 0o600 });

  return {
    path,
    keys,
    jwt,
    signToken: (claims = {}, options = {}) => signToken(jwt, claims, options),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

async function signToken(
  issuer: JwtIssuerConfig,
  claims: JWTPayload,
  options: TokenOptions,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: JWTPayload = {
    ...TOKEN_SUBJECT,
    iss: issuer.issuer,
    aud: issuer.audience,
    iat: now,
    exp: now + (options.expiresInSeconds ?? 3600),
    ...claims,
  };
  const secret = new TextEncoder().encode(options.secret ?? issuer.secret);
  return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(secret);
}
