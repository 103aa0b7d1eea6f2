import { createInbox, type Msg, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';

import { BusClosedError, BusNoRespondersError, BusTimeoutError } from './errors.ts';

/** A request waiting for its reply. */
class Pending {
  timer: NodeJS.Timeout | undefined = undefined;

  constructor(
    readonly subject: string,
    readonly resolve: (msg: Msg) => void,
    readonly reject: (error: Error) => void,
  ) {}
}

/** The NATS server's answer when a request's subject has no subscriber at all. */
function isNoResponders(msg: Msg): boolean {
  return msg.data.length === 0 && msg.headers?.code === 503;
}

/** The parts of a nats-core permission error the requests look at. */
interface PermissionError {
  readonly operation?: unknown;
  readonly subject?: unknown;
}

/**
 * Request-reply over one wildcard inbox subscription, as nats.js does it, without the
 * per-request costs of nats.js's version: it builds a `RequestError` (a stack trace) for
 * every request that succeeds, to reject an already settled promise with, plus a
 * deferred and a timer object of its own; together about a tenth of a gateway's CPU in
 * a connect storm. Here a request is a promise, a `Pending` and a timer.
 *
 * Replies come on `<inbox>.<token>`; nats.js subscribes the inbox again after a
 * reconnect like any other subscription. Errors: `BusTimeoutError`,
 * `BusNoRespondersError` (the server's 503 status), `BusClosedError`, and a permission
 * violation from the server for the request's subject or for the inbox itself.
 */
export class NatsRequests {
  readonly #pending = new Map<string, Pending>();
  #inbox: string | undefined;
  #lastToken = 0;

  constructor(private readonly nc: NatsConnection) {
    nc.closed().then(
      () => this.#failAll(() => new BusClosedError()),
      () => this.#failAll(() => new BusClosedError()),
    );
  }

  request(
    subject: string,
    data: Uint8Array,
    timeoutMs: number,
    headers: MsgHdrs | undefined,
  ): Promise<Msg> {
    if (this.nc.isClosed() || this.nc.isDraining()) return Promise.reject(new BusClosedError());
    const inbox = this.#inbox ?? this.#subscribe();
    const token = (++this.#lastToken).toString(36);
    return new Promise<Msg>((resolve, reject) => {
      const pending = new Pending(subject, resolve, reject);
      try {
        this.nc.publish(subject, data, { reply: inbox + token, headers });
      } catch (error) {
        return reject(error instanceof Error ? error : new Error(String(error)));
      }
      this.#pending.set(token, pending);
      pending.timer = setTimeout(this.#expire, timeoutMs, token);
    });
  }

  /**
   * A permission violation the server reported (they arrive as connection status): a
   * refused publish fails the requests sent on that subject, a refused inbox
   * subscription fails them all and the inbox is made again on the next request.
   */
  onPermissionError(error: Error): void {
    const { operation, subject } = error as PermissionError;
    if (operation === 'subscription' && this.#inbox && subject === `${this.#inbox}*`) {
      this.#inbox = undefined;
      this.#failAll(() => error);
      return;
    }
    if (operation !== 'publish') return;
    for (const [token, pending] of this.#pending) {
      if (pending.subject === subject) this.#settle(token, pending)?.reject(error);
    }
  }

  #subscribe(): string {
    const inbox = `${createInbox()}.`;
    this.nc.subscribe(`${inbox}*`, { callback: this.#onReply });
    this.#inbox = inbox;
    return inbox;
  }

  readonly #onReply = (error: Error | null, msg: Msg): void => {
    if (error) return this.#failAll(() => error);
    const inbox = this.#inbox;
    if (!inbox || !msg.subject.startsWith(inbox)) return;
    const token = msg.subject.slice(inbox.length);
    const pending = this.#settle(token, this.#pending.get(token));
    if (!pending) return;
    if (isNoResponders(msg)) pending.reject(new BusNoRespondersError(pending.subject));
    else pending.resolve(msg);
  };

  readonly #expire = (token: string): void => {
    const pending = this.#pending.get(token);
    if (!pending) return;
    this.#settle(token, pending)?.reject(new BusTimeoutError(pending.subject));
  };

  /** Forgets a request and stops its timer; returns it to be resolved or rejected once. */
  #settle(token: string, pending: Pending | undefined): Pending | undefined {
    if (!pending) return undefined;
    this.#pending.delete(token);
    clearTimeout(pending.timer);
    return pending;
  }

  #failAll(error: () => Error): void {
    for (const [token, pending] of [...this.#pending])
      this.#settle(token, pending)?.reject(error());
  }
}
