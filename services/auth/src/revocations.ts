import { hash } from 'node:crypto';

import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';

import {
  decoder,
  RevocationNotice,
  revocationCovers,
  type Principal,
  type Revocation,
} from '@switchboard/protocol';

import { followBucket } from './kv-follow.ts';

const decodeNotice = decoder(RevocationNotice);

/**
 * Stored revocations, shared by auth (which refuses revoked credentials) and gateways
 * (which close the live connections a revocation covers).
 */
export interface RevocationStore {
  add(revocation: Revocation, at: number): Promise<void>;
  /** When this exact key, token or user was revoked, or undefined. */
  revokedAt(revocation: Revocation): number | undefined;
  /** Called for every revocation added from now on, by any process. */
  onRevoked(listener: (notice: RevocationNotice) => void): void;
}

/** A KV-safe key for a revocation; ids of tokens may hold any characters. */
function storeKey({ kind, tenant, id }: Revocation): string {
  return `${kind}.${tenant}.${hash('sha256', id, 'hex').slice(0, 40)}`;
}

/**
 * True when the principal's credential was revoked: its API key or its token (`jti`)
 * at any time, or its user by a revocation later than the token was issued.
 */
export function isRevoked(store: RevocationStore, principal: Principal): boolean {
  const { tenant, method, credentialId, userId } = principal;
  const candidates: Revocation[] =
    method === 'api_key'
      ? [{ kind: 'key', tenant, id: credentialId }]
      : [
          { kind: 'token', tenant, id: credentialId },
          ...(userId ? [{ kind: 'user' as const, tenant, id: userId }] : []),
        ];
  return candidates.some((revocation) => {
    const at = store.revokedAt(revocation);
    return at !== undefined && revocationCovers({ ...revocation, at }, principal);
  });
}

/** Revocations of a standalone process. */
export class MemoryRevocations implements RevocationStore {
  readonly #entries = new Map<string, number>();
  readonly #listeners: Array<(notice: RevocationNotice) => void> = [];

  add(revocation: Revocation, at: number): Promise<void> {
    this.#entries.set(storeKey(revocation), at);
    for (const listener of this.#listeners) listener({ ...revocation, at });
    return Promise.resolve();
  }

  revokedAt(revocation: Revocation): number | undefined {
    return this.#entries.get(storeKey(revocation));
  }

  onRevoked(listener: (notice: RevocationNotice) => void): void {
    this.#listeners.push(listener);
  }
}

/**
 * Revocations in JetStream KV, shared by every auth replica and gateway: each keeps a
 * local copy fed by a watch, so a check costs no round trip, and a process that was
 * disconnected catches up from the bucket instead of missing a broadcast.
 */
export class KvRevocations implements RevocationStore {
  readonly #entries = new Map<string, RevocationNotice>();
  readonly #listeners: Array<(notice: RevocationNotice) => void> = [];

  private constructor(private readonly kv: KV) {}

  /** `onError` hears of entries that could not be read (they are skipped). */
  static async open(
    nc: NatsConnection,
    onError: (error: unknown, key: string) => void,
  ): Promise<KvRevocations> {
    const kv = await new Kvm(nc).create('switchboard_revocations', { history: 1 });
    const store = new KvRevocations(kv);
    await store.#follow(onError);
    return store;
  }

  async add(revocation: Revocation, at: number): Promise<void> {
    const notice: RevocationNotice = { ...revocation, at };
    await this.kv.put(storeKey(revocation), Buffer.from(JSON.stringify(notice)));
    this.#entries.set(storeKey(revocation), notice);
  }

  revokedAt(revocation: Revocation): number | undefined {
    return this.#entries.get(storeKey(revocation))?.at;
  }

  onRevoked(listener: (notice: RevocationNotice) => void): void {
    this.#listeners.push(listener);
  }

  #follow(onError: (error: unknown, key: string) => void): Promise<void> {
    return followBucket(
      this.kv,
      (entry, initial) => {
        if (entry.operation !== 'PUT') return void this.#entries.delete(entry.key);
        const notice = decodeNotice(entry.value);
        this.#entries.set(entry.key, notice);
        if (!initial) for (const listener of this.#listeners) listener(notice);
      },
      onError,
    );
  }
}
