interface Bucket {
  tokens: number;
  updated: number;
}

/**
 * A token bucket per remote address for new connections, so one address flooding
 * the gateway with connects cannot crowd out everyone else.
 */
export class AddressRate {
  readonly #buckets = new Map<string, Bucket>();

  /** `perSecond` 0 disables the limit; the burst is twice the rate. */
  constructor(private readonly perSecond: number) {}

  get enabled(): boolean {
    return this.perSecond > 0;
  }

  allow(address: string, now: number = Date.now()): boolean {
    if (this.perSecond === 0) return true;
    const burst = this.perSecond * 2;
    const bucket = this.#buckets.get(address) ?? { tokens: burst, updated: now };
    bucket.tokens = Math.min(
      burst,
      bucket.tokens + ((now - bucket.updated) / 1000) * this.perSecond,
    );
    bucket.updated = now;
    this.#buckets.set(address, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens--;
    return true;
  }

  /** Forgets addresses whose bucket has refilled; call now and then. */
  prune(now: number = Date.now()): void {
    const fullAfterMs = 2_000;
    for (const [address, bucket] of this.#buckets) {
      if (now - bucket.updated > fullAfterMs) this.#buckets.delete(address);
    }
  }
}
