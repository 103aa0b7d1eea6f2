import { createHash } from 'node:crypto';

import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';

import type { Principal, Revocation } from '@switchboard/protocol';

/** Stored revocations: what is revoked and since when (epoch ms). */
export interface RevocationStore {
  add(revocation: Revocation, at: number): Promise<void>;
  /** When this exact key, token or user was revoked, or undefined. */
  revokedAt(revocation: Revocation): number | undefined;
}

/** A KV-safe key for a revocation; ids of tokens may hold any characters. */
function storeKey({ kind, tenant, id }: Revocation): string {
  return `${kind}.${tenant}.${createHash('sha256').update(id).digest('hex').slice(0, 40)}`;
}

/**
 * True when the principal's credential was revoked: its API key or its token (`jti`)
 * at any time, or its user by a revocation later than the token was issued.
 */
export function isRevoked(store: RevocationStore, principal: Principal): boolean {
  const { tenant, method, credentialId, userId, issuedAt } = principal;
  if (method === 'api_key')
    return store.revokedAt({ kind: 'key', tenant, id: credentialId }) !== undefined;
  if (store.revokedAt({ kind: 'token', tenant, id: credentialId }) !== undefined) return true;
  if (userId === undefined) return false;
  const userRevokedAt = store.revokedAt({ kind: 'user', tenant, id: userId });
  return userRevokedAt !== undefined && (issuedAt === undefined || issuedAt <= userRevokedAt);
}

/** Revocations of a standalone process. */
export class MemoryRevocations implements RevocationStore {
  readonly #entries = new Map<string, number>();

  add(revocation: Revocation, at: number): Promise<void> {
    this.#entries.set(storeKey(revocation), at);
    return Promise.resolve();
  }

  revokedAt(revocation: Revocation): number | undefined {
    return this.#entries.get(storeKey(revocation));
  }
}

/**
 * Revocations in JetStream KV, shared by every auth replica: each keeps a local copy
 * fed by a watch, so a check costs no round trip.
 */
export class KvRevocations implements RevocationStore {
  readonly #entries = new Map<string, number>();

  private constructor(private readonly kv: KV) {}

  static async open(nc: NatsConnection): Promise<KvRevocations> {
    const kv = await new Kvm(nc).create('switchboard_revocations', { history: 1 });
    const store = new KvRevocations(kv);
    await store.#follow();
    return store;
  }

  async add(revocation: Revocation, at: number): Promise<void> {
    const key = storeKey(revocation);
    await this.kv.put(key, Buffer.from(String(at)));
    this.#entries.set(key, at);
  }

  revokedAt(revocation: Revocation): number | undefined {
    return this.#entries.get(storeKey(revocation));
  }

  /** Loads every entry, then keeps following changes in the background. */
  async #follow(): Promise<void> {
    const watch = await this.kv.watch();
    let loaded!: () => void;
    const initial = new Promise<void>((resolve) => (loaded = resolve));
    void (async () => {
      for await (const entry of watch) {
        if (entry.operation === 'PUT')
          this.#entries.set(entry.key, Number(Buffer.from(entry.value).toString()));
        else this.#entries.delete(entry.key);
        if (entry.delta === 0) loaded();
      }
    })();
    // An empty bucket has no entry with delta 0 to signal the end of the initial values.
    const status = await this.kv.status();
    if (status.values === 0) loaded();
    await initial;
  }
}
