import type { Bus, BusSubscription } from '@switchboard/bus';
import { ServiceSubjects, type AuthReply, type AuthRequest } from '@switchboard/protocol';

import { hashApiKey } from './api-keys.ts';
import { isRevoked, type RevocationStore } from './revocations.ts';

/** Anything that answers who a credential belongs to: the auth client, or a cache in front of it. */
export interface CredentialVerifier {
  verify(request: AuthRequest): Promise<AuthReply>;
}

/** How long, and for how many keys, accepted API keys are remembered. */
export interface KeyCacheOptions {
  readonly ttlMs: number;
  readonly maxKeys?: number;
  readonly now?: () => number;
}

interface Accepted {
  readonly reply: AuthReply & { ok: true };
  readonly until: number;
}

/**
 * Remembers the principal of each accepted API key for `ttlMs`, by the key's hash, so a
 * busy caller asks auth once per key and period rather than once per request. A hit is
 * dropped when it expires, and the cache is emptied by every revocation, so a revoked or
 * expired key goes back to auth, which refuses it. Tokens and refusals are never cached. Callers asking about the same
 * key while auth answers share that one request. After an auth replica stops gracefully
 * every key is asked about again (see `followAuthStops`); after a crash of every replica,
 * keys seen within `ttlMs` keep working until their period ends.
 */
export class CachingAuthClient implements CredentialVerifier {
  readonly #accepted = new Map<string, Accepted>();
  readonly #asking = new Map<string, Promise<AuthReply>>();
  readonly #ttlMs: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  /** Bumped by every revocation, so an answer asked for before one is not remembered. */
  #generation = 0;

  constructor(
    private readonly upstream: CredentialVerifier,
    private readonly revocations: RevocationStore,
    options: KeyCacheOptions,
  ) {
    this.#ttlMs = options.ttlMs;
    this.#maxKeys = options.maxKeys ?? 10_000;
    this.#now = options.now ?? Date.now;
    revocations.onRevoked(() => this.forgetAll());
  }

  /**
   * Forgets every key whenever an auth replica announces that it stops, so that with
   * auth gone the next caller is refused (failing closed) rather than served from memory.
   */
  followAuthStops(bus: Bus): BusSubscription {
    return bus.subscribe(ServiceSubjects.authStopping, () => this.forgetAll());
  }

  /** Drops every remembered key: a revocation this process took part in applies at once. */
  forgetAll(): void {
    this.#generation++;
    this.#accepted.clear();
  }

  verify(request: AuthRequest): Promise<AuthReply> {
    const key = request.api_key;
    if (key === undefined || request.token !== undefined || this.#ttlMs <= 0)
      return this.upstream.verify(request);

    const hash = hashApiKey(key);
    const known = this.#accepted.get(hash);
    if (known && this.#stillValid(known)) return Promise.resolve(known.reply);
    if (known) this.#accepted.delete(hash);
    return this.#ask(hash, request);
  }

  /**
   * No revocation check here: an entry was not revoked when remembered, and every
   * revocation since then, from any process, has emptied the cache (`onRevoked`).
   */
  #stillValid({ reply, until }: Accepted): boolean {
    const now = this.#now();
    const { expiresAt } = reply.principal;
    return until > now && (expiresAt === undefined || expiresAt > now);
  }

  #ask(hash: string, request: AuthRequest): Promise<AuthReply> {
    const pending = this.#asking.get(hash);
    if (pending) return pending;

    const asked = this.#now();
    const generation = this.#generation;
    const answer = this.upstream.verify(request).then(
      (reply) => {
        this.#asking.delete(hash);
        if (reply.ok && generation === this.#generation) this.#remember(hash, reply, asked);
        return reply;
      },
      (err: unknown) => {
        this.#asking.delete(hash);
        throw err;
      },
    );
    this.#asking.set(hash, answer);
    return answer;
  }

  /** The period starts when auth was asked, so an answer is never trusted for longer than ttlMs. */
  #remember(hash: string, reply: AuthReply & { ok: true }, asked: number): void {
    if (isRevoked(this.revocations, reply.principal)) return;
    if (this.#accepted.size >= this.#maxKeys) {
      const oldest = this.#accepted.keys().next().value;
      if (oldest !== undefined) this.#accepted.delete(oldest);
    }
    this.#accepted.set(hash, { reply, until: asked + this.#ttlMs });
  }
}
