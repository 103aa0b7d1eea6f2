import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';

import { decoder } from '@switchboard/protocol';

import { keyIdFromHash } from './api-keys.ts';
import { followBucket } from './kv-follow.ts';
import { ApiKeyEntry } from './credentials-file.ts';

/** A stored API key: its hash and what it grants. */
export interface ApiKeyRecord extends ApiKeyEntry {
  readonly id: string;
}

/**
 * Where API keys live. Lookup is by hash, so the time it takes does not depend on
 * how much of a guessed key is right.
 */
export interface ApiKeyStore {
  findByHash(hash: string): ApiKeyRecord | undefined;
  /** The keys of one tenant, for listing (never with secrets: only hashes are stored). */
  list(tenant: string): ApiKeyRecord[];
}

/** A store that keys can be added to at run time (through the admin API). */
export interface WritableKeyStore extends ApiKeyStore {
  add(record: ApiKeyRecord): Promise<void>;
}

function withId(entry: ApiKeyEntry): ApiKeyRecord {
  return { ...entry, id: entry.id ?? keyIdFromHash(entry.hash) };
}

/** Keys held in memory: the config file's, or those created in a standalone process. */
export class MemoryKeyStore implements WritableKeyStore {
  readonly #byHash: Map<string, ApiKeyRecord>;

  constructor(entries: readonly ApiKeyEntry[] = []) {
    this.#byHash = new Map(entries.map((entry) => [entry.hash, withId(entry)]));
  }

  findByHash(hash: string): ApiKeyRecord | undefined {
    return this.#byHash.get(hash);
  }

  list(tenant: string): ApiKeyRecord[] {
    return [...this.#byHash.values()].filter((record) => record.tenant === tenant);
  }

  add(record: ApiKeyRecord): Promise<void> {
    this.#byHash.set(record.hash, record);
    return Promise.resolve();
  }

  get size(): number {
    return this.#byHash.size;
  }
}

const decodeEntry = decoder(ApiKeyEntry);

/**
 * Keys created at run time, in JetStream KV, shared by every auth replica; each keeps a
 * local copy fed by a watch, so a lookup costs no round trip.
 */
export class KvKeyStore implements WritableKeyStore {
  readonly #local = new MemoryKeyStore();

  private constructor(private readonly kv: KV) {}

  /** `onError` hears of entries that could not be read (they are skipped). */
  static async open(
    nc: NatsConnection,
    onError: (error: unknown, key: string) => void,
  ): Promise<KvKeyStore> {
    const kv = await new Kvm(nc).create('switchboard_keys', { history: 1 });
    const store = new KvKeyStore(kv);
    await store.#follow(onError);
    return store;
  }

  findByHash(hash: string): ApiKeyRecord | undefined {
    return this.#local.findByHash(hash);
  }

  list(tenant: string): ApiKeyRecord[] {
    return this.#local.list(tenant);
  }

  async add(record: ApiKeyRecord): Promise<void> {
    await this.kv.put(record.hash.slice('sha256:'.length), Buffer.from(JSON.stringify(record)));
    await this.#local.add(record);
  }

  #follow(onError: (error: unknown, key: string) => void): Promise<void> {
    return followBucket(
      this.kv,
      (entry) => {
        if (entry.operation === 'PUT') void this.#local.add(withId(decodeEntry(entry.value)));
      },
      onError,
    );
  }
}

/** The config file's keys first, then those created at run time. */
export class LayeredKeyStore implements WritableKeyStore {
  constructor(
    private readonly file: ApiKeyStore,
    private readonly created: WritableKeyStore,
  ) {}

  findByHash(hash: string): ApiKeyRecord | undefined {
    return this.file.findByHash(hash) ?? this.created.findByHash(hash);
  }

  list(tenant: string): ApiKeyRecord[] {
    return [...this.file.list(tenant), ...this.created.list(tenant)];
  }

  add(record: ApiKeyRecord): Promise<void> {
    return this.created.add(record);
  }
}
