const LOCAL_ORIGIN = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/;

/**
 * Which browser origins may open a socket, from ALLOWED_ORIGINS: exact origins,
 * `localhost` (any port on the loopback names), or `*`. A request without an Origin
 * header is not from a browser and is always allowed; tokens and keys still apply.
 */
export class OriginPolicy {
  readonly #exact: Set<string>;
  readonly #any: boolean;
  readonly #local: boolean;

  constructor(setting: string) {
    const entries = setting
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean);
    this.#any = entries.includes('*');
    this.#local = entries.includes('localhost');
    this.#exact = new Set(entries.filter((entry) => entry !== '*' && entry !== 'localhost'));
  }

  allows(origin: string): boolean {
    if (origin === '') return true;
    return this.#any || this.#exact.has(origin) || (this.#local && LOCAL_ORIGIN.test(origin));
  }

  /** True when no browser can connect at all (worth a start-up warning). */
  get refusesBrowsers(): boolean {
    return !this.#any && !this.#local && this.#exact.size === 0;
  }
}
