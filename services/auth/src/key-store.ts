import type { ApiKeyEntry } from './credentials-file.ts';
import { keyIdFromHash } from './api-keys.ts';

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
}

/** Keys loaded from the credentials file (standalone mode and small deployments). */
export class StaticKeyStore implements ApiKeyStore {
  readonly #byHash: Map<string, ApiKeyRecord>;

  constructor(entries: readonly ApiKeyEntry[]) {
    this.#byHash = new Map(
      entries.map((entry) => [entry.hash, { ...entry, id: entry.id ?? keyIdFromHash(entry.hash) }]),
    );
  }

  findByHash(hash: string): ApiKeyRecord | undefined {
    return this.#byHash.get(hash);
  }

  get size(): number {
    return this.#byHash.size;
  }
}
