import { BusClosedError, BusNoRespondersError, BusTimeoutError } from './errors.ts';
import { subjectMatches } from './subject-match.ts';
import type {
  Bus,
  BusHandler,
  BusHeaders,
  BusMessage,
  BusStatus,
  BusSubscription,
  EndpointSpec,
  RequestHandler,
  RequestOptions,
} from './types.ts';

interface Entry {
  readonly subject: string;
  readonly handler: BusHandler;
  readonly subscription: BusSubscription;
  active: boolean;
}

/**
 * The in-process bus of standalone mode. Like NATS core it delivers asynchronously,
 * in publish order, at most once, and never re-enters the publisher.
 */
export class MemoryBus implements Bus {
  readonly kind = 'memory';
  readonly maxPayloadBytes = Number.POSITIVE_INFINITY;
  readonly #exact = new Map<string, Set<Entry>>();
  readonly #wildcard = new Set<Entry>();
  readonly #endpoints = new Map<string, RequestHandler>();
  readonly #listeners: Array<(status: BusStatus) => void> = [];
  #queue: Array<[Entry, BusMessage]> = [];
  #scheduled = false;
  #closed = false;

  publish(subject: string, data: Uint8Array, headers?: BusHeaders): void {
    if (this.#closed) throw new BusClosedError();
    const message: BusMessage = { subject, data, headers };
    for (const entry of this.#exact.get(subject) ?? []) this.#queue.push([entry, message]);
    for (const entry of this.#wildcard) {
      if (subjectMatches(entry.subject, subject)) this.#queue.push([entry, message]);
    }
    this.#schedule();
  }

  subscribe(subject: string, handler: BusHandler): BusSubscription {
    if (this.#closed) throw new BusClosedError();
    const wildcard = subject.includes('*') || subject.includes('>');
    const subscription: BusSubscription = {
      subject,
      unsubscribe: () => {
        entry.active = false;
        if (wildcard) return void this.#wildcard.delete(entry);
        const set = this.#exact.get(subject);
        set?.delete(entry);
        if (set?.size === 0) this.#exact.delete(subject);
      },
    };
    const entry: Entry = { subject, handler, subscription, active: true };
    if (wildcard) this.#wildcard.add(entry);
    else {
      const set = this.#exact.get(subject) ?? new Set<Entry>();
      set.add(entry);
      this.#exact.set(subject, set);
    }
    return subscription;
  }

  async request(subject: string, data: Uint8Array, options: RequestOptions): Promise<BusMessage> {
    if (this.#closed) throw new BusClosedError();
    const handler = this.#endpoints.get(subject);
    if (!handler) throw new BusNoRespondersError(subject);

    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new BusTimeoutError(subject)), options.timeoutMs);
    });
    try {
      // A macrotask hop, as a network round trip would be.
      await new Promise((resolve) => setImmediate(resolve));
      const reply = await Promise.race([
        handler({ subject, data, headers: options.headers }),
        timeout,
      ]);
      return { subject, data: reply };
    } finally {
      clearTimeout(timer);
    }
  }

  serve(endpoint: EndpointSpec, handler: RequestHandler): Promise<void> {
    if (this.#closed) return Promise.reject(new BusClosedError());
    this.#endpoints.set(endpoint.subject, handler);
    return Promise.resolve();
  }

  /** Subscriptions take effect at once in-process; nothing to wait for. */
  flush(): Promise<void> {
    return this.#closed ? Promise.reject(new BusClosedError()) : Promise.resolve();
  }

  onStatus(listener: (status: BusStatus) => void): void {
    this.#listeners.push(listener);
  }

  drain(): Promise<void> {
    this.#closed = true;
    this.#flush();
    this.#exact.clear();
    this.#wildcard.clear();
    this.#endpoints.clear();
    return Promise.resolve();
  }

  #schedule(): void {
    if (this.#scheduled || this.#queue.length === 0) return;
    this.#scheduled = true;
    setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    const batch = this.#queue;
    this.#queue = [];
    for (const [entry, message] of batch) {
      if (!entry.active) continue;
      try {
        entry.handler(message, entry.subscription);
      } catch (error) {
        for (const listener of this.#listeners) {
          listener({ type: 'handler_error', subject: message.subject, error });
        }
      }
    }
  }
}
