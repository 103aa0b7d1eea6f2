/**
 * One shared copy per distinct key, so that many connections with equal values (one
 * credential's principal, a channel's name) hold one object rather than a copy each.
 * Forgets everything once it holds `max` keys, which only costs the sharing.
 */
export class Interned<T> {
  readonly #known = new Map<string, T>();

  constructor(private readonly max: number) {}

  get(key: string, value: T): T {
    const known = this.#known.get(key);
    if (known !== undefined) return known;
    if (this.#known.size >= this.max) this.#known.clear();
    this.#known.set(key, value);
    return value;
  }
}
