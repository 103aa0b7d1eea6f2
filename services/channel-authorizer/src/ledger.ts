import type { ConnectionLease } from '@switchboard/protocol';

export type AcquireResult = { readonly granted: boolean; readonly count: number };

/**
 * Where the open connections of every account are counted, across gateways. A
 * gateway instance that stops sending heartbeats loses its connections after the lease.
 */
export interface ConnectionLedger {
  /** Adds the connection if the account holds fewer than `limit`; idempotent per connection. */
  acquire(lease: ConnectionLease, limit: number): Promise<AcquireResult>;
  release(lease: ConnectionLease): Promise<void>;
  /** Records that the instance is alive; true when it already was (no gap since its last beat). */
  heartbeat(gateway: string): Promise<boolean>;
}

/** Connection ids of one account, by gateway instance. */
export type AccountConnections = Record<string, string[]>;

/**
 * The ledger rule shared by every store: drop instances that are no longer alive,
 * then add the connection if there is room. Returns the new state, or undefined when full.
 */
export function admit(
  state: AccountConnections,
  lease: ConnectionLease,
  limit: number,
  isAlive: (gateway: string) => boolean,
): { state: AccountConnections | undefined; count: number } {
  const live: AccountConnections = {};
  for (const [gateway, ids] of Object.entries(state)) {
    // The instance asking is alive by definition, even before its first heartbeat lands.
    if (gateway === lease.gateway || isAlive(gateway)) live[gateway] = ids;
  }

  const count = Object.values(live).reduce((n, ids) => n + ids.length, 0);
  if (live[lease.gateway]?.includes(lease.connectionId)) return { state: live, count };
  if (count >= limit) return { state: undefined, count };

  live[lease.gateway] = [...(live[lease.gateway] ?? []), lease.connectionId];
  return { state: live, count: count + 1 };
}

export function withoutConnection(
  state: AccountConnections,
  lease: ConnectionLease,
): AccountConnections {
  const ids = state[lease.gateway]?.filter((id) => id !== lease.connectionId) ?? [];
  const next = { ...state };
  if (ids.length > 0) next[lease.gateway] = ids;
  else delete next[lease.gateway];
  return next;
}

/** The standalone ledger: one process, so every instance it knows is alive. */
export class MemoryLedger implements ConnectionLedger {
  readonly #accounts = new Map<string, AccountConnections>();

  acquire(lease: ConnectionLease, limit: number): Promise<AcquireResult> {
    const { state, count } = admit(
      this.#accounts.get(lease.account) ?? {},
      lease,
      limit,
      () => true,
    );
    if (state) this.#accounts.set(lease.account, state);
    return Promise.resolve({ granted: state !== undefined, count });
  }

  release(lease: ConnectionLease): Promise<void> {
    const state = this.#accounts.get(lease.account);
    if (state) this.#accounts.set(lease.account, withoutConnection(state, lease));
    return Promise.resolve();
  }

  heartbeat(): Promise<boolean> {
    return Promise.resolve(true);
  }
}
