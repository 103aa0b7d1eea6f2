/** Share of the per-minute limit at which a client is warned. */
const WARN_AT = 0.8;
const WINDOW_MS = 60_000;
/** Refused messages per window before the connection is closed (at least this many). */
const MIN_REFUSALS_BEFORE_CLOSE = 5;

export type RateVerdict =
  | { readonly kind: 'ok' }
  | { readonly kind: 'warn'; readonly remaining: number; readonly resetAt: number }
  | { readonly kind: 'refuse'; readonly resetAt: number }
  | { readonly kind: 'close' };

/**
 * Counts one connection's messages in fixed one-minute windows. Counting is local to
 * the gateway: no network call per message. Over the limit a message is refused; a
 * client that keeps sending past the limit is closed.
 */
export class MessageRate {
  #windowStart = 0;
  #count = 0;
  #refused = 0;

  check(limit: number | null, now: number = Date.now()): RateVerdict {
    if (limit === null) return { kind: 'ok' };
    if (now - this.#windowStart >= WINDOW_MS) {
      this.#windowStart = now;
      this.#count = 0;
      this.#refused = 0;
    }

    this.#count++;
    const resetAt = this.#windowStart + WINDOW_MS;
    if (this.#count > limit) {
      this.#refused++;
      const allowed = Math.max(MIN_REFUSALS_BEFORE_CLOSE, Math.ceil(limit / 10));
      return this.#refused > allowed ? { kind: 'close' } : { kind: 'refuse', resetAt };
    }
    if (this.#count === Math.ceil(limit * WARN_AT)) {
      return { kind: 'warn', remaining: limit - this.#count, resetAt };
    }
    return { kind: 'ok' };
  }
}
