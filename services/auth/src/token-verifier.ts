import {
  decodeJwt,
  errors as joseErrors,
  importSPKI,
  jwtVerify,
  type CryptoKey,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';

import { isSafeId, type Principal, type Scope } from '@switchboard/protocol';

/** A principal as a token states it; the authenticator adds the plan's limits. */
export type TokenPrincipal = Omit<Principal, 'limits'>;

import type { JwtIssuer } from './credentials-file.ts';

/** Why a token was refused; the message is safe to show the client. */
export class TokenRejectedError extends Error {
  override name = 'TokenRejectedError';
}

interface PreparedIssuer {
  readonly config: JwtIssuer;
  readonly algorithms: string[];
  readonly key: Uint8Array | JWTVerifyGetKey;
}

const DEFAULT_CLOCK_TOLERANCE_S = 30;

async function prepare(config: JwtIssuer, env: NodeJS.ProcessEnv): Promise<PreparedIssuer> {
  const secret = config.secret ?? (config.secretEnv ? env[config.secretEnv] : undefined);
  if (secret !== undefined) {
    if (secret.length < 32)
      throw new Error(`jwt issuer ${config.issuer}: secret shorter than 32 characters`);
    return { config, algorithms: ['HS256'], key: new TextEncoder().encode(secret) };
  }
  if (config.secretEnv)
    throw new Error(`jwt issuer ${config.issuer}: ${config.secretEnv} is not set`);

  const keys = await Promise.all(
    (config.publicKeys ?? []).map(async (k) => ({ ...k, key: await importSPKI(k.pem, k.alg) })),
  );
  const getKey: JWTVerifyGetKey = (header): CryptoKey => {
    const candidates = keys.filter(
      (k) => k.alg === header.alg && (!header.kid || !k.kid || k.kid === header.kid),
    );
    const match = candidates[0];
    if (!match) throw new TokenRejectedError('no key for this token');
    return match.key;
  };
  return { config, algorithms: [...new Set(keys.map((k) => k.alg))], key: getKey };
}

function claimString(payload: JWTPayload, name: string): string | undefined {
  const value = payload[name];
  return typeof value === 'string' ? value : undefined;
}

function scopesOf(payload: JWTPayload, claim: string): Scope[] {
  const value = payload[claim];
  const list = Array.isArray(value)
    ? value
    : typeof value === 'string'
      ? value.split(' ')
      : ['subscribe'];
  return list.filter((s): s is Scope => s === 'subscribe' || s === 'publish');
}

/**
 * Verifies JWTs of the configured issuers: the issuer is chosen by the token's `iss`,
 * algorithms are pinned per issuer, `iss` and `aud` must match exactly, `exp` is required.
 * Keys come only from configuration; `jku`, `x5u` and embedded `jwk` headers are ignored.
 */
export class TokenVerifier {
  readonly #issuers: Map<string, PreparedIssuer>;

  private constructor(issuers: Map<string, PreparedIssuer>) {
    this.#issuers = issuers;
  }

  static async create(configs: readonly JwtIssuer[], env = process.env): Promise<TokenVerifier> {
    const prepared = await Promise.all(configs.map((c) => prepare(c, env)));
    return new TokenVerifier(new Map(prepared.map((p) => [p.config.issuer, p])));
  }

  get issuerCount(): number {
    return this.#issuers.size;
  }

  async verify(token: string): Promise<TokenPrincipal> {
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch {
      throw new TokenRejectedError('Token is malformed');
    }
    const issuer = unverified.iss === undefined ? undefined : this.#issuers.get(unverified.iss);
    if (!issuer) throw new TokenRejectedError('Token issuer is not trusted');

    const { config } = issuer;
    let payload: JWTPayload;
    try {
      const options = {
        algorithms: issuer.algorithms,
        issuer: config.issuer,
        audience: config.audience,
        requiredClaims: ['exp'],
        clockTolerance: config.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_S,
      };
      const result =
        issuer.key instanceof Uint8Array
          ? await jwtVerify(token, issuer.key, options)
          : await jwtVerify(token, issuer.key, options);
      payload = result.payload;
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw new TokenRejectedError('Token has expired');
      if (error instanceof TokenRejectedError) throw error;
      throw new TokenRejectedError('Token is invalid');
    }
    return this.#principal(payload, config);
  }

  #principal(payload: JWTPayload, config: JwtIssuer): TokenPrincipal {
    const claims = config.claims ?? {};
    const tenant = claimString(payload, claims.tenant ?? 'tenant') ?? config.defaultTenant;
    const userId = claimString(payload, claims.user ?? 'sub');
    const plan = claimString(payload, claims.plan ?? 'plan') ?? config.defaultPlan ?? 'free';

    if (!isSafeId(tenant)) throw new TokenRejectedError('Token has no valid tenant claim');
    if (!isSafeId(userId)) throw new TokenRejectedError('Token has no valid user claim');

    return {
      tenant,
      userId,
      plan,
      scopes: scopesOf(payload, claims.scopes ?? 'scope'),
      expiresAt: (payload.exp ?? 0) * 1000,
      method: 'jwt',
      credentialId: payload.jti ?? `jwt:${config.issuer}:${userId}`,
    };
  }
}
