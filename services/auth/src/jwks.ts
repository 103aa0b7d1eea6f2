import {
  createLocalJWKSet,
  errors as joseErrors,
  type CryptoKey,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  type LocalJWKSet,
} from 'jose';

/** A fetch of an issuer's JWKS failed; its keys so far stay in use. */
export class KeySetFetchError extends Error {
  override name = 'KeySetFetchError';
}

/** No JWKS has been fetched yet, so no token of the issuer can be verified. */
export class KeySetUnavailableError extends Error {
  override name = 'KeySetUnavailableError';
}

/** How one issuer's key set is fetched and cached. */
export interface RemoteKeySetOptions {
  /** Where the JWKS is served; check it with {@link jwksUrlProblem} first. */
  readonly url: URL;
  /** Least time between two fetches, whatever asks for them: unknown kids, age, failures. */
  readonly cooldownMs: number;
  /** Age after which keys are fetched again; on failure the old keys stay in use. */
  readonly maxAgeMs: number;
  /** Limit on one fetch, body included. */
  readonly timeoutMs: number;
  /** Called for every failed fetch, at most once per cool-down. */
  readonly onFetchFailed?: (error: KeySetFetchError) => void;
  /** The clock for cool-downs and cache ages; `Date.now` by default. */
  readonly now?: () => number;
  /** The global fetch by default. */
  readonly fetch?: typeof fetch;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Why a JWKS URL may not be used, or undefined when it may. */
export function jwksUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not a URL';
  }
  if (url.username || url.password) return 'must not carry credentials';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol !== 'http:') return 'must be an https:// URL';
  if (LOOPBACK_HOSTS.has(url.hostname)) return undefined;
  return (
    'must be https:// unless the host is localhost or 127.0.0.1: ' +
    'anyone on the network path could replace keys fetched over plain http'
  );
}

/**
 * The JWKS of one issuer, fetched from its URL and cached. A token whose `kid` is not in
 * the cache triggers a fetch, as does a cache older than `maxAgeMs`, but never more than
 * one fetch per `cooldownMs`. When a fetch fails the keys fetched before stay in use.
 * Only the token's `alg` and `kid` select a key; `jku`, `x5u` and `jwk` headers are ignored.
 */
export class RemoteKeySet {
  readonly #options: RemoteKeySetOptions;
  readonly #now: () => number;
  #keys: LocalJWKSet | undefined;
  #fetchedAt = Number.NEGATIVE_INFINITY;
  #triedAt = Number.NEGATIVE_INFINITY;
  #pending: Promise<void> | undefined;

  constructor(options: RemoteKeySetOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Resolves the key for a token; a jose key resolver. Throws jose's `JWKSNoMatchingKey`
   * for an unknown key and {@link KeySetUnavailableError} before any fetch succeeded.
   */
  readonly getKey = async (
    header: JWSHeaderParameters,
    token: FlattenedJWSInput,
  ): Promise<CryptoKey> => {
    if (this.#now() - this.#fetchedAt >= this.#options.maxAgeMs) await this.refresh();

    const keys = this.#keys;
    if (!keys) throw new KeySetUnavailableError(`no keys fetched from ${this.#where}`);
    try {
      return await keys(header, token);
    } catch (error) {
      if (!(error instanceof joseErrors.JWKSNoMatchingKey)) throw error;
      await this.refresh();
      const refreshed = this.#keys;
      if (!refreshed || refreshed === keys) throw error;
      return refreshed(header, token);
    }
  };

  /**
   * Fetches the JWKS unless the cool-down since the last fetch is still running; joins a
   * fetch in flight. Never rejects: failures go to `onFetchFailed`.
   */
  async refresh(): Promise<void> {
    if (!this.#pending && this.#now() - this.#triedAt >= this.#options.cooldownMs) {
      this.#triedAt = this.#now();
      this.#pending = this.#fetch().finally(() => {
        this.#pending = undefined;
      });
    }
    await this.#pending;
  }

  /** The URL without its query, which might carry a secret. */
  get #where(): string {
    const { origin, pathname } = this.#options.url;
    return origin + pathname;
  }

  async #fetch(): Promise<void> {
    try {
      this.#keys = createLocalJWKSet(await this.#download());
      this.#fetchedAt = this.#now();
    } catch (cause) {
      const reason = failureReason(cause, this.#options.timeoutMs);
      this.#options.onFetchFailed?.(
        new KeySetFetchError(`jwks fetch from ${this.#where} ${reason}`, { cause }),
      );
    }
  }

  async #download(): Promise<JSONWebKeySet> {
    const { url, timeoutMs } = this.#options;
    const fetchJwks = this.#options.fetch ?? fetch;
    // A redirect could lead to a host or scheme the configuration never allowed.
    const response = await fetchJwks(url, {
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
      headers: { accept: 'application/jwk-set+json, application/json' },
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new KeySetFetchError(`HTTP ${response.status}`);
    }
    // createLocalJWKSet checks the shape and throws JWKSInvalid for anything but a key set.
    return (await response.json()) as JSONWebKeySet;
  }
}

function failureReason(error: unknown, timeoutMs: number): string {
  if (!(error instanceof Error)) return `failed: ${String(error)}`;
  if (error.name === 'TimeoutError') return `timed out after ${timeoutMs} ms`;
  const inner = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `failed: ${error.message}${inner}`;
}
