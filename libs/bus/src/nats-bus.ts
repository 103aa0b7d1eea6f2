import { readFileSync } from 'node:fs';

import {
  connect,
  credsAuthenticator,
  headers as natsHeaders,
  PermissionViolationError,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';
import { Svcm, type Service } from '@nats-io/services';

import { NatsRequests } from './nats-requests.ts';
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

export interface NatsBusOptions {
  /** Comma-separated server URLs, e.g. `nats://a:4222,nats://b:4222`. */
  readonly servers: string;
  /** Connection name shown by the server (`nats server report connections`). */
  readonly name: string;
  readonly connectTimeoutMs?: number;
  /**
   * A `.creds` file (user JWT and NKey seed). TLS is used whenever the server requires or
   * offers it; client certificates are not configurable yet.
   */
  readonly credsFile?: string;
}

function toNatsHeaders(headers: BusHeaders | undefined): MsgHdrs | undefined {
  if (!headers) return undefined;
  const h = natsHeaders();
  for (const [key, value] of Object.entries(headers)) h.set(key, value);
  return h;
}

/** The parts of a NATS message the bus reads (shared by both nats-core builds in the tree). */
interface IncomingMsg {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers?: Iterable<[string, string[]]>;
}

function fromNatsHeaders(
  headers: Iterable<[string, string[]]> | undefined,
): BusHeaders | undefined {
  if (!headers) return undefined;
  const out: Record<string, string> = {};
  for (const [key, values] of headers)
    if (values[0] !== undefined) out[key.toLowerCase()] = values[0];
  return out;
}

function toBusMessage(msg: IncomingMsg): BusMessage {
  return {
    subject: msg.subject,
    data: msg.data,
    headers: msg.headers && fromNatsHeaders(msg.headers),
  };
}

/** The parts of a nats-core 3.x subscription that a callback subscription never uses. */
interface IteratorState {
  readonly noIterator?: unknown;
  signal?: unknown;
  iterClosed?: unknown;
  closed?: unknown;
  yields?: unknown;
}

/** A deferred that has settled: resolving or rejecting it again does nothing. */
const SETTLED_DEFERRED = Object.assign(Promise.resolve(), {
  resolve: () => undefined,
  reject: () => undefined,
});

/** Frozen, so that a nats-core change that starts queueing here fails loudly, not silently. */
const NO_YIELDS: readonly unknown[] = Object.freeze([]);

/**
 * nats.js gives every subscription three deferreds (a promise with its resolve and
 * reject functions, about 200 bytes each) and a queue array: what its async iterator
 * waits on and reads, and `closed`, read only by nats.js's own request subscriptions
 * and by users. Nothing waits on them for a callback subscription the bus makes, where
 * messages go straight to the callback and closing only resolves the deferreds, so it
 * shares one settled deferred and one empty queue instead. This relies on nats-core
 * internals and is skipped when their shape is not the expected one.
 */
function shedIteratorState(sub: Subscription): void {
  const fields = sub as unknown as IteratorState;
  const expected = ['signal', 'iterClosed', 'closed', 'yields'].every((name) => name in fields);
  if (fields.noIterator !== true || !expected || !Array.isArray(fields.yields)) return;
  if (fields.yields.length > 0) return;
  fields.signal = SETTLED_DEFERRED;
  fields.iterClosed = SETTLED_DEFERRED;
  fields.closed = SETTLED_DEFERRED;
  fields.yields = NO_YIELDS;
}

/** A NATS subscription as the bus hands it out; a class, so it holds no closure of its own. */
class NatsBusSubscription implements BusSubscription {
  readonly #sub: Subscription;
  readonly #bySid: Map<number, NatsBusSubscription>;

  constructor(
    readonly handler: BusHandler,
    sub: Subscription,
    bySid: Map<number, NatsBusSubscription>,
  ) {
    this.#sub = sub;
    this.#bySid = bySid;
  }

  get subject(): string {
    return this.#sub.getSubject();
  }

  unsubscribe(): void {
    this.#bySid.delete(this.#sub.getID());
    this.#sub.unsubscribe();
  }
}

/** How long `drain` waits for requests that are still being handled. */
const IN_FLIGHT_GRACE_MS = 3_000;

/** The NATS implementation of the bus: core NATS subjects and NATS service endpoints. */
export class NatsBus implements Bus {
  readonly kind = 'nats';
  readonly #nc: NatsConnection;
  readonly #services = new Map<string, Promise<Service>>();
  readonly #listeners: Array<(status: BusStatus) => void> = [];
  readonly #inFlight = new Set<Promise<void>>();
  /** The bus's subscriptions by NATS subscription id, for the one callback they share. */
  readonly #bySid = new Map<number, NatsBusSubscription>();
  readonly #requests: NatsRequests;

  private constructor(nc: NatsConnection) {
    this.#nc = nc;
    this.#requests = new NatsRequests(nc);
    void this.#watchStatus();
  }

  static async connect(options: NatsBusOptions): Promise<NatsBus> {
    const nc = await connect({
      servers: options.servers.split(',').map((s) => s.trim()),
      name: options.name,
      timeout: options.connectTimeoutMs ?? 5_000,
      maxReconnectAttempts: -1,
      waitOnFirstConnect: false,
      // Otherwise every nats.js request (JetStream and KV calls; the bus has its own, see
      // NatsRequests) allocates two errors with stack traces up front, in case it fails.
      noAsyncTraces: true,
      authenticator: options.credsFile
        ? credsAuthenticator(new Uint8Array(readFileSync(options.credsFile)))
        : undefined,
    });
    return new NatsBus(nc);
  }

  get maxPayloadBytes(): number {
    return this.#nc.info?.max_payload ?? 1024 * 1024;
  }

  /** The underlying connection, for JetStream and KV users (the bus itself is core NATS). */
  get connection(): NatsConnection {
    return this.#nc;
  }

  publish(subject: string, data: Uint8Array, headers?: BusHeaders): void {
    this.#nc.publish(subject, data, { headers: toNatsHeaders(headers) });
  }

  subscribe(subject: string, handler: BusHandler): BusSubscription {
    const sub = this.#nc.subscribe(subject, { callback: this.#dispatch });
    shedIteratorState(sub);
    const subscription = new NatsBusSubscription(handler, sub, this.#bySid);
    this.#bySid.set(sub.getID(), subscription);
    return subscription;
  }

  /**
   * The callback of every subscription, which finds its handler by the message's
   * subscription id: a closure per subscription would cost some 100 bytes each.
   */
  readonly #dispatch = (error: Error | null, msg: Msg): void => {
    if (error) return this.#emit({ type: 'error', error });
    const subscription = this.#bySid.get(msg.sid);
    if (!subscription) return;
    try {
      subscription.handler(toBusMessage(msg), subscription);
    } catch (cause) {
      this.#emit({ type: 'handler_error', subject: msg.subject, error: cause });
    }
  };

  async request(subject: string, data: Uint8Array, options: RequestOptions): Promise<BusMessage> {
    const msg = await this.#requests.request(
      subject,
      data,
      options.timeoutMs,
      toNatsHeaders(options.headers),
    );
    return toBusMessage(msg);
  }

  async serve(endpoint: EndpointSpec, handler: RequestHandler): Promise<void> {
    const service = await this.#service(endpoint);
    service.addEndpoint(endpoint.name, {
      subject: endpoint.subject,
      handler: (error, msg) => {
        if (error) return this.#emit({ type: 'error', error });
        const running = Promise.resolve()
          .then(() => handler(toBusMessage(msg)))
          .then((reply) => {
            msg.respond(reply);
          })
          .catch((cause: unknown) => {
            this.#emit({ type: 'handler_error', subject: msg.subject, error: cause });
            msg.respondError(500, 'internal error');
          })
          .finally(() => this.#inFlight.delete(running));
        this.#inFlight.add(running);
      },
    });
    // Resolve only once the server has the endpoint's subscription, so a request sent right
    // after `serve` (from this or any other connection) reaches it.
    await this.#nc.flush();
  }

  /**
   * A PING/PONG round trip: the server has then registered every earlier SUB. In a
   * cluster, interest reaches the other servers shortly after, not within this call.
   */
  flush(): Promise<void> {
    return this.#nc.flush();
  }

  onStatus(listener: (status: BusStatus) => void): void {
    this.#listeners.push(listener);
  }

  async drain(): Promise<void> {
    if (this.#nc.isClosed()) return;
    await Promise.all([...this.#services.values()].map(async (s) => (await s).stop()));
    // Requests already being handled still get their answer, for a while.
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, IN_FLIGHT_GRACE_MS)));
    await Promise.race([Promise.all(this.#inFlight), grace]);
    clearTimeout(timer);
    await this.#nc.drain();
  }

  /** One NATS micro service per service name; replicas share its queue group. */
  #service(endpoint: EndpointSpec): Promise<Service> {
    let service = this.#services.get(endpoint.service);
    if (!service) {
      // @nats-io/services pins its own nats-core build; the connection object is the same shape.
      const svcm = new Svcm(this.#nc as unknown as ConstructorParameters<typeof Svcm>[0]);
      service = svcm.add({
        name: `switchboard-${endpoint.service}`,
        version: endpoint.version ?? '0.1.0',
        description: endpoint.description,
        queue: `switchboard-${endpoint.service}`,
      });
      this.#services.set(endpoint.service, service);
    }
    return service;
  }

  #emit(status: BusStatus): void {
    for (const listener of this.#listeners) listener(status);
  }

  async #watchStatus(): Promise<void> {
    for await (const status of this.#nc.status()) {
      if (status.type === 'disconnect') this.#emit({ type: 'disconnected' });
      else if (status.type === 'reconnect') this.#emit({ type: 'reconnected' });
      else if (status.type === 'error') {
        if (status.error instanceof PermissionViolationError)
          this.#requests.onPermissionError(status.error);
        this.#emit({ type: 'error', error: status.error });
      }
    }
  }
}
