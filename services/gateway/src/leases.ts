import type { LimitsClient } from '@switchboard/channel-authorizer';
import type { ConnectionLease, LimitsReply } from '@switchboard/protocol';
import type { Logger } from '@switchboard/telemetry';

/** A limit no account reaches: used to put back connections the ledger forgot. */
const NO_LIMIT = Number.MAX_SAFE_INTEGER;

/**
 * The connection slots this gateway instance holds in the cluster-wide ledger. It keeps
 * the ledger right when calls fail: a release (or an acquire that timed out and may still
 * have landed) that could not be sent is retried on the next heartbeat, and after a gap
 * in heartbeats long enough for the ledger to drop this instance, its live connections
 * are registered again.
 */
export class LeaseKeeper {
  readonly #held = new Map<string, ConnectionLease>();
  readonly #toRelease = new Map<string, ConnectionLease>();
  #beaten = false;
  #beating: Promise<void> | undefined;

  constructor(
    private readonly client: LimitsClient,
    readonly instance: string,
    private readonly logger: Logger,
  ) {}

  /** Throws when the ledger cannot answer; the slot is then released later, in case it landed. */
  async acquire(lease: ConnectionLease, limit: number): Promise<LimitsReply> {
    // Other replicas must see this instance alive before it holds anything.
    if (!this.#beaten) await this.heartbeat();
    try {
      const reply = await this.client.acquire(lease, limit);
      if (reply.ok) this.#held.set(lease.connectionId, lease);
      return reply;
    } catch (error) {
      this.#toRelease.set(lease.connectionId, lease);
      throw error;
    }
  }

  release(lease: ConnectionLease): void {
    this.#held.delete(lease.connectionId);
    this.client.release(lease).catch((err: unknown) => {
      this.logger.warn(
        { err, account: lease.account },
        'connection release failed; retrying on the next heartbeat',
      );
      this.#toRelease.set(lease.connectionId, lease);
    });
  }

  /** Beats at most once at a time: a slow beat is not overlapped by the next tick. */
  heartbeat(): Promise<void> {
    this.#beating ??= this.#beat().finally(() => {
      this.#beating = undefined;
    });
    return this.#beating;
  }

  async #beat(): Promise<void> {
    const wasAlive = await this.client.heartbeat(this.instance);
    if (!wasAlive && this.#beaten && this.#held.size > 0) await this.#restore();
    this.#beaten = true;

    for (const [id, lease] of this.#toRelease) {
      if (this.#held.has(id)) continue;
      await this.client.release(lease);
      this.#toRelease.delete(id);
    }
  }

  /** The ledger dropped this instance during a gap in heartbeats: count its connections again. */
  async #restore(): Promise<void> {
    this.logger.warn(
      { connections: this.#held.size },
      'limits ledger had dropped this gateway; registering again',
    );
    for (const lease of this.#held.values()) await this.client.acquire(lease, NO_LIMIT);
  }
}
