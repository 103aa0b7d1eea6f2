import {
  decodeJwt,
  errors as joseErrors,
  importSPKI,
  jwtVerify,
  type CryptoKey,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';

import { isSafeId, type ClaimLists, type Principal, type Scope } from '@switchboard/protocol';

import type { JwtIssuer } from './credentials-file.ts';
import {
  jwksUrlProblem,
  KeySetUnavailableError,
  RemoteKeySet,
  type KeySetFetchError,
} from './jwks.ts';

/** A principal as a token states it; the authenticator adds the plan's limits. */
export type TokenPrincipal = Omit<Principal, 'limits'>;

/** Why a token was refused; the message is safe to show the client. */
export class TokenRejectedError extends Error {
  override name = 'TokenRejectedError';
  /** True when the token may verify later (its issuer's keys could not be fetched). */
  get temporary(): boolean {
    return this.cause instanceof KeySetUnavailableError;
  }
}

/** Hooks and seams of {@link TokenVerifier.create}. */
export interface TokenVerifierOptions {
  /** Told of every failed JWKS fetch, at most once per issuer and cool-down. */
  readonly onJwksFetchFailed?: (issuer: string, error: KeySetFetchError) => void;
  /** The clock for token expiry and JWKS ages; `Date.now` by default. */
  readonly now?: () => number;
  /** The fetch used for JWKS URLs; the global one by default. */
  readonly fetch?: typeof fetch;
}

interface PreparedIssuer {
  readonly config: JwtIssuer;
  readonly algorithms: string[];
  readonly key: Uint8Array | JWTVerifyGetKey;
}

const DEFAULT_CLOCK_TOLERANCE_S = 30;
const DEFAULT_JWKS_COOLDOWN_S = 30;
const DEFAULT_JWKS_CACHE_MAX_AGE_S = 600;
const DEFAULT_JWKS_TIMEOUT_MS = 5_000;

async function prepareJwks(
  config: JwtIssuer,
  url: string,
  options: TokenVerifierOptions,
): Promise<PreparedIssuer> {
  const problem = jwksUrlProblem(url);
  if (problem) throw new Error(`jwt issuer ${config.issuer}: jwksUrl ${problem}`);
  if (!config.algorithms?.length)
    throw new Error(`jwt issuer ${config.issuer}: jwksUrl needs algorithms`);

  const keySet = new RemoteKeySet({
    url: new URL(url),
    cooldownMs: (config.jwksCooldownSeconds ?? DEFAULT_JWKS_COOLDOWN_S) * 1000,
    maxAgeMs: (config.jwksCacheMaxAgeSeconds ?? DEFAULT_JWKS_CACHE_MAX_AGE_S) * 1000,
    timeoutMs: config.jwksTimeoutMs ?? DEFAULT_JWKS_TIMEOUT_MS,
    onFetchFailed: (error) => options.onJwksFetchFailed?.(config.issuer, error),
    now: options.now,
    fetch: options.fetch,
  });
  // Fetched once at start so the first tokens need not wait; a failure is reported, not fatal.
  await keySet.refresh();
  return { config, algorithms: [...config.algorithms], key: keySet.getKey };
}

async function prepare(
  config: JwtIssuer,
  env: NodeJS.ProcessEnv,
  options: TokenVerifierOptions,
): Promise<PreparedIssuer> {
  if (config.jwksUrl !== undefined) return prepareJwks(config, config.jwksUrl, options);

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
    if (!match) throw new joseErrors.JWKSNoMatchingKey();
    return match.key;
  };
  return { config, algorithms: [...new Set(keys.map((k) => k.alg))], key: getKey };
}

function claimString(payload: JWTPayload, name: string): string | undefined {
  const value = payload[name];
  return typeof value === 'string' ? value : undefined;
}

/** Scopes a token may grant: any well-formed scope but `admin`, which only API keys carry. */
function scopesOf(payload: JWTPayload, claim: string): Scope[] {
  const value = payload[claim];
  const list: unknown[] = Array.isArray(value)
    ? value
    : typeof value === 'string'
      ? value.split(' ')
      : ['subscribe'];
  return list.filter((s): s is Scope => typeof s === 'string' && SCOPE.test(s) && s !== 'admin');
}

const SCOPE = /^[a-z][a-z0-9_.:-]{0,63}$/;
/** Claims that are never lists of resource ids. */
const REGISTERED_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti']);
/** Most ids all list claims of a token may hold together. */
export const MAX_CLAIM_LIST_IDS = 1000;

/**
 * The token's list claims (arrays of strings, e.g. `projects: ["p1", "p2"]`), which claim
 * policies read. Other claims stay behind; a token with more ids than the gateway keeps
 * per connection is refused rather than cut short.
 */
function claimListsOf(payload: JWTPayload, mapped: ReadonlySet<string>): ClaimLists | undefined {
  let lists: Record<string, string[]> | undefined;
  let total = 0;
  for (const [name, value] of Object.entries(payload)) {
    if (REGISTERED_CLAIMS.has(name) || mapped.has(name) || !Array.isArray(value)) continue;
    if (name.length > 128 || !value.every((v) => typeof v === 'string' && v.length <= 256))
      continue;
    total += value.length;
    if (total > MAX_CLAIM_LIST_IDS)
      throw new TokenRejectedError(`Token claim lists hold more than ${MAX_CLAIM_LIST_IDS} ids`);
    (lists ??= {})[name] = value as string[];
  }
  return lists;
}

/** The reason shown to the client for each error of verification; others are `Token is invalid`. */
const REASONS: ReadonlyArray<readonly [new (...args: never[]) => Error, string]> = [
  [joseErrors.JWTExpired, 'Token has expired'],
  [joseErrors.JWKSNoMatchingKey, 'Token signing key is unknown'],
  [joseErrors.JWKSMultipleMatchingKeys, 'Token signing key is ambiguous'],
  [KeySetUnavailableError, 'Token signing keys are unavailable'],
];

function rejection(error: unknown): TokenRejectedError {
  if (error instanceof TokenRejectedError) return error;
  const reason = REASONS.find(([type]) => error instanceof type)?.[1] ?? 'Token is invalid';
  return new TokenRejectedError(reason, { cause: error });
}

/**
 * Verifies JWTs of the configured issuers: the issuer is chosen by the token's `iss`,
 * algorithms are pinned per issuer, `iss` and `aud` must match exactly, `exp` is required.
 * Keys come from the issuer's configuration: a secret, public keys, or its own JWKS URL,
 * cached per issuer so no issuer's keys ever verify another's tokens. `jku`, `x5u` and
 * embedded `jwk` headers are ignored.
 */
export class TokenVerifier {
  readonly #issuers: Map<string, PreparedIssuer>;
  readonly #now: () => number;

  private constructor(issuers: Map<string, PreparedIssuer>, now: () => number) {
    this.#issuers = issuers;
    this.#now = now;
  }

  /** Prepares every issuer's keys, fetching JWKS once; a failed fetch does not stop it. */
  static async create(
    configs: readonly JwtIssuer[],
    env = process.env,
    options: TokenVerifierOptions = {},
  ): Promise<TokenVerifier> {
    const prepared = await Promise.all(configs.map((c) => prepare(c, env, options)));
    const issuers = new Map(prepared.map((p) => [p.config.issuer, p]));
    return new TokenVerifier(issuers, options.now ?? Date.now);
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
        currentDate: new Date(this.#now()),
      };
      const result =
        issuer.key instanceof Uint8Array
          ? await jwtVerify(token, issuer.key, options)
          : await jwtVerify(token, issuer.key, options);
      payload = result.payload;
    } catch (error) {
      throw rejection(error);
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
    // jose does not check the type of `jti`; it keys revocations, so it must be a string.
    if (
      payload.jti !== undefined &&
      (typeof payload.jti !== 'string' || payload.jti.length > 256)
    ) {
      throw new TokenRejectedError('Token is invalid');
    }

    return {
      tenant,
      userId,
      plan,
      scopes: scopesOf(payload, claims.scopes ?? 'scope'),
      claims: claimListsOf(
        payload,
        new Set([
          claims.tenant ?? 'tenant',
          claims.user ?? 'sub',
          claims.plan ?? 'plan',
          claims.scopes ?? 'scope',
        ]),
      ),
      expiresAt: (payload.exp ?? 0) * 1000,
      issuedAt: payload.iat === undefined ? undefined : payload.iat * 1000,
      method: 'jwt',
      credentialId: payload.jti ?? `jwt:${config.issuer}:${userId}`,
    };
  }
}
