import { readFileSync } from 'node:fs';

import Type, { type Static } from 'typebox';
import { Compile } from 'typebox/compile';

import { ConfigError } from '@switchboard/config';
import { DEFAULT_PLANS, Id, PlanLimits, Scope } from '@switchboard/protocol';

import { jwksUrlProblem } from './jwks.ts';

const Plan = Type.String({ minLength: 1, maxLength: 64 });

export const ApiKeyEntry = Type.Object(
  {
    /** Non-secret id shown in logs and lists; derived from the hash when absent. */
    id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    hash: Type.String({ pattern: '^sha256:[0-9a-f]{64}$' }),
    tenant: Id,
    plan: Plan,
    userId: Type.Optional(Id),
    appId: Type.Optional(Id),
    scopes: Type.Array(Scope, { minItems: 1 }),
    label: Type.Optional(Type.String({ maxLength: 200 })),
    expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
    revoked: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type ApiKeyEntry = Static<typeof ApiKeyEntry>;

/** Algorithms of public keys; HS256 is configured with `secret` or `secretEnv` only. */
const PublicKeyAlgorithm = Type.Enum(['RS256', 'ES256', 'EdDSA']);

const PublicKey = Type.Object({
  kid: Type.Optional(Type.String()),
  alg: PublicKeyAlgorithm,
  /** SPKI PEM (`-----BEGIN PUBLIC KEY-----`). */
  pem: Type.String({ minLength: 1 }),
});

export const JwtIssuer = Type.Object(
  {
    issuer: Type.String({ minLength: 1 }),
    audience: Type.String({ minLength: 1 }),
    /** HS256 shared secret, inline or from the named environment variable. */
    secret: Type.Optional(Type.String({ minLength: 32 })),
    secretEnv: Type.Optional(Type.String({ minLength: 1 })),
    publicKeys: Type.Optional(Type.Array(PublicKey, { minItems: 1 })),
    /** JWKS of the issuer: https, or http on localhost only. Needs `algorithms`. */
    jwksUrl: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
    /** The algorithms tokens of a `jwksUrl` issuer may use. */
    algorithms: Type.Optional(Type.Array(PublicKeyAlgorithm, { minItems: 1, uniqueItems: true })),
    /** Least time between two JWKS fetches, e.g. for tokens with unknown kids (default 30). */
    jwksCooldownSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600 })),
    /** Age after which the JWKS is fetched again (default 600). */
    jwksCacheMaxAgeSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400 })),
    /** Limit on one JWKS fetch (default 5000). */
    jwksTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 60_000 })),
    claims: Type.Optional(
      Type.Object({
        tenant: Type.Optional(Type.String()),
        user: Type.Optional(Type.String()),
        plan: Type.Optional(Type.String()),
        scopes: Type.Optional(Type.String()),
      }),
    ),
    /** Tenant for tokens that carry no tenant claim. */
    defaultTenant: Type.Optional(Id),
    defaultPlan: Type.Optional(Plan),
    clockToleranceSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 300 })),
  },
  { additionalProperties: false },
);
export type JwtIssuer = Static<typeof JwtIssuer>;

const TenantEntry = Type.Object(
  {
    /** Custom limits for this tenant, replacing those of its principals' plans. */
    limits: Type.Optional(Type.Partial(PlanLimits)),
  },
  { additionalProperties: false },
);

/** The config file: API keys (hashes only), trusted JWT issuers, plans and tenant overrides. */
export const CredentialsFile = Type.Object(
  {
    apiKeys: Type.Array(ApiKeyEntry),
    jwt: Type.Array(JwtIssuer),
    /** Plans added to or replacing the defaults (free, professional, business, enterprise). */
    plans: Type.Optional(
      Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_-]{0,63}$' }), PlanLimits),
    ),
    tenants: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$' }), TenantEntry),
    ),
  },
  { additionalProperties: false },
);
export type CredentialsFile = Static<typeof CredentialsFile>;

const validator = Compile(CredentialsFile);

const JWKS_ONLY = [
  'algorithms',
  'jwksCooldownSeconds',
  'jwksCacheMaxAgeSeconds',
  'jwksTimeoutMs',
] as const;

/** A schema error's message, with the allowed values of an enum such as `algorithms`. */
function schemaReason(error: { message: string; params: object } | undefined): string {
  if (!error) return 'invalid';
  const allowed = 'allowedValues' in error.params ? error.params.allowedValues : undefined;
  return Array.isArray(allowed) ? `${error.message}: ${allowed.join(', ')}` : error.message;
}

/** What is wrong with an issuer beyond its schema; `key` is `''` or `.field`. */
function issuerProblem(issuer: JwtIssuer): { key: string; reason: string } | undefined {
  const { secret, secretEnv, publicKeys, jwksUrl } = issuer;
  const sources = [secret, secretEnv, publicKeys, jwksUrl].filter((s) => s !== undefined);
  if (sources.length !== 1)
    return { key: '', reason: 'needs exactly one of secret, secretEnv, publicKeys, jwksUrl' };

  if (jwksUrl === undefined) {
    const stray = JWKS_ONLY.find((name) => issuer[name] !== undefined);
    return stray && { key: `.${stray}`, reason: 'applies only with jwksUrl' };
  }
  const urlProblem = jwksUrlProblem(jwksUrl);
  if (urlProblem) return { key: '.jwksUrl', reason: urlProblem };
  if (!issuer.algorithms)
    return { key: '.algorithms', reason: 'is required with jwksUrl (RS256, ES256, EdDSA)' };
  return undefined;
}

/** Validates parsed JSON as a credentials file; errors name the path, e.g. `apiKeys.0.hash`. */
export function parseCredentials(value: unknown, source: string): CredentialsFile {
  const withDefaults: unknown = {
    apiKeys: [],
    jwt: [],
    plans: {},
    tenants: {},
    ...(value as object),
  };
  if (!validator.Check(withDefaults)) {
    const [first] = validator.Errors(withDefaults);
    const path = (first?.instancePath ?? '').replace(/^\//, '').replaceAll('/', '.');
    throw new ConfigError(`${source}: ${path || '(root)'}`, schemaReason(first));
  }
  const plans = new Set([...Object.keys(DEFAULT_PLANS), ...Object.keys(withDefaults.plans ?? {})]);
  for (const [i, key] of withDefaults.apiKeys.entries()) {
    if (!plans.has(key.plan))
      throw new ConfigError(`${source}: apiKeys.${i}.plan`, `unknown plan "${key.plan}"`);
  }
  for (const [i, issuer] of withDefaults.jwt.entries()) {
    const problem = issuerProblem(issuer);
    if (problem) throw new ConfigError(`${source}: jwt.${i}${problem.key}`, problem.reason);
  }
  return withDefaults;
}

export function readCredentialsFile(path: string): CredentialsFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError('SWITCHBOARD_CONFIG', `cannot read ${path}`, { cause });
  }
  try {
    return parseCredentials(JSON.parse(text), path);
  } catch (cause) {
    if (cause instanceof ConfigError) throw cause;
    throw new ConfigError('SWITCHBOARD_CONFIG', `${path} is not valid JSON`, { cause });
  }
}
