import { readFileSync } from 'node:fs';

import Type, { type Static } from 'typebox';
import { Compile } from 'typebox/compile';

import { ConfigError } from '@switchboard/config';
import { DEFAULT_PLANS, Id, PlanLimits, Scope } from '@switchboard/protocol';

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

const PublicKey = Type.Object({
  kid: Type.Optional(Type.String()),
  alg: Type.Union([Type.Literal('RS256'), Type.Literal('ES256'), Type.Literal('EdDSA')]),
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
    throw new ConfigError(`${source}: ${path || '(root)'}`, first?.message ?? 'invalid');
  }
  const plans = new Set([...Object.keys(DEFAULT_PLANS), ...Object.keys(withDefaults.plans ?? {})]);
  for (const [i, key] of withDefaults.apiKeys.entries()) {
    if (!plans.has(key.plan))
      throw new ConfigError(`${source}: apiKeys.${i}.plan`, `unknown plan "${key.plan}"`);
  }
  for (const [i, issuer] of withDefaults.jwt.entries()) {
    const keys = [issuer.secret, issuer.secretEnv, issuer.publicKeys].filter(Boolean).length;
    if (keys !== 1) {
      throw new ConfigError(
        `${source}: jwt.${i}`,
        'needs exactly one of secret, secretEnv, publicKeys',
      );
    }
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
