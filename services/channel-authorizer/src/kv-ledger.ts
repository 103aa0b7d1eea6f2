import { Kvm, type KV } from '@nats-io/kv';
import { jetstreamManager } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';

import type { ConnectionLease } from '@switchboard/protocol';

import {
  admit,
  withoutConnection,
  type AccountConnections,
  type AcquireResult,
  type ConnectionLedger,
} from './ledger.ts';

const CONNECTIONS_BUCKET = 'switchboard_connections';
const GATEWAYS_BUCKET = 'switchboard_gateways';
/** Compare-and-set attempts before giving up on a contended account. */
const MAX_ATTEMPTS = 20;
/** How long a replica trusts what it read about an instance's heartbeat. */
const LIVENESS_CACHE_MS = 500;

/** A short random pause before the next compare-and-set attempt, growing with each one. */
function backoff(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(50, 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Another writer kept winning the race for an account's entry. */
export class LedgerContentionError extends Error {
  override name = 'LedgerContentionError';
}

function decode(value: Uint8Array | undefined): AccountConnections {
  if (!value || value.length === 0) return {};
  return JSON.parse(Buffer.from(value).toString('utf8')) as AccountConnections;
}

/**
 * Connection counts in JetStream KV, so they survive a restart of the limits service
 * and stay exact with several replicas: every change is a compare-and-set on the
 * account's entry. Gateway heartbeats live in a bucket whose entries expire after the
 * lease; an instance without a live heartbeat holds no connections.
 */
export class KvLedger implements ConnectionLedger {
  readonly #liveness = new Map<string, { alive: boolean; checked: number }>();
  readonly #queues = new Map<string, Promise<void>>();

  private constructor(
    private readonly connections: KV,
    private readonly gateways: KV,
  ) {}

  static async open(nc: NatsConnection, leaseMs: number): Promise<KvLedger> {
    const kvm = new Kvm(nc);
    const connections = await kvm.create(CONNECTIONS_BUCKET, { history: 1 });
    const gateways = await kvm.create(GATEWAYS_BUCKET, { history: 1, ttl: leaseMs });
    // `create` opens an existing bucket as it is; a changed GATEWAY_LEASE_MS must still apply.
    if ((await gateways.status()).ttl !== leaseMs) {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.update(`KV_${GATEWAYS_BUCKET}`, { max_age: nanos(leaseMs) });
    }
    return new KvLedger(connections, gateways);
  }

  acquire(lease: ConnectionLease, limit: number): Promise<AcquireResult> {
    return this.#serially(lease.account, async () => {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const entry = await this.connections.get(lease.account);
        const current = entry?.operation === 'PUT' ? decode(entry.value) : {};
        const alive = await this.#aliveSet(Object.keys(current));
        const { state, count } = admit(current, lease, limit, (gateway) => alive.has(gateway));
        if (!state) return { granted: false, count };
        if (await this.#write(lease.account, state, entry?.revision))
          return { granted: true, count };
        await backoff(attempt);
      }
      throw new LedgerContentionError(`too much contention on ${lease.account}`);
    });
  }

  release(lease: ConnectionLease): Promise<void> {
    return this.#serially(lease.account, async () => {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const entry = await this.connections.get(lease.account);
        if (!entry || entry.operation !== 'PUT') return;
        const current = decode(entry.value);
        if (!current[lease.gateway]?.includes(lease.connectionId)) return;
        const next = withoutConnection(current, lease);
        if (await this.#write(lease.account, next, entry.revision)) return;
        await backoff(attempt);
      }
      throw new LedgerContentionError(`too much contention on ${lease.account}`);
    });
  }

  /**
   * Runs one change of an account at a time in this replica: only other replicas can
   * then make a compare-and-set fail, which keeps retries rare under reconnect storms.
   */
  #serially<T>(account: string, change: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(account) ?? Promise.resolve();
    const next = previous.then(change, change);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.#queues.set(account, settled);
    void settled.then(() => {
      if (this.#queues.get(account) === settled) this.#queues.delete(account);
    });
    return next;
  }

  async heartbeat(gateway: string): Promise<boolean> {
    const before = await this.gateways.get(gateway);
    await this.gateways.put(gateway, Buffer.from(new Date().toISOString()));
    this.#liveness.set(gateway, { alive: true, checked: Date.now() });
    return before?.operation === 'PUT';
  }

  /** Writes only if nobody else wrote since `revision`; false when someone did. */
  async #write(
    account: string,
    state: AccountConnections,
    revision: number | undefined,
  ): Promise<boolean> {
    const value = Buffer.from(JSON.stringify(state));
    try {
      if (revision === undefined) await this.connections.create(account, value);
      else await this.connections.update(account, value, revision);
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw error;
    }
  }

  async #aliveSet(gateways: string[]): Promise<Set<string>> {
    const now = Date.now();
    const alive = new Set<string>();
    for (const gateway of gateways) {
      const cached = this.#liveness.get(gateway);
      let isAlive = cached && now - cached.checked < LIVENESS_CACHE_MS ? cached.alive : undefined;
      if (isAlive === undefined) {
        const beat = await this.gateways.get(gateway);
        // The bucket's max age (server time, so no clock skew) removes beats older than the lease.
        isAlive = beat?.operation === 'PUT';
        this.#liveness.set(gateway, { alive: isAlive, checked: now });
      }
      if (isAlive) alive.add(gateway);
    }
    return alive;
  }
}

/** JetStream's answer when the entry changed since the revision we read (or exists already). */
function isConflict(error: unknown): boolean {
  const text =
    error instanceof Error ? `${error.message} ${String((error as { code?: unknown }).code)}` : '';
  return /wrong last sequence|key exists|10071|10164/i.test(text);
}
