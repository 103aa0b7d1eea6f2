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
  /**
   * Subscriptions as small objects in nats-core's own table (the default, see
   * `LeanSubscription`); false makes plain nats.js subscriptions, as the bus also does when
   * nats-core's internals do not have the expected shape.
   */
  readonly leanSubscriptions?: boolean;
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

/**
 * Hands a message to a bus handler, for both kinds of subscription: an error from NATS (a
 * permissions violation) or a throwing handler becomes a status, never an exception in
 * nats-core's parser.
 */
function dispatch(
  error: Error | null,
  msg: Msg,
  handler: BusHandler,
  subscription: BusSubscription,
  emit: (status: BusStatus) => void,
): void {
  if (error) return emit({ type: 'error', error });
  try {
    handler(toBusMessage(msg), subscription);
  } catch (cause) {
    emit({ type: 'handler_error', subject: msg.subject, error: cause });
  }
}

/**
 * The parts of nats-core 3.x's protocol handler (`NatsConnectionImpl.protocol`) that a
 * `LeanSubscription` relies on. Its `subscriptions` table maps subscription ids to
 * subscriptions: `processMsg` finds one there, adds to its `received` and calls its
 * `callback`; a (re)connect sends `SUB subject sid` for each of them; closing or draining
 * the connection calls their `close` or `drain`; `unsubscribe` sends UNSUB and `cancel`s.
 */
interface ProtocolInternals {
  readonly subscriptions: {
    readonly subs: Map<number, unknown>;
    get(sid: number): unknown;
    cancel(sub: unknown): void;
  };
  subscribe(sub: unknown): void;
  unsubscribe(sub: unknown): void;
  unsub(sub: unknown): void;
  flush(): Promise<void>;
}

/** The parts of nats-core 3.x's `NatsConnectionImpl` behind `subscribe`. */
interface ConnectionInternals {
  readonly protocol: ProtocolInternals;
  /** Throws when closed or draining, or for an invalid subject, as `subscribe` does. */
  _check(subject: string, sub: boolean, pub: boolean): void;
}

function hasMethods(target: unknown, names: readonly string[]): boolean {
  return (
    typeof target === 'object' &&
    target !== null &&
    names.every((name) => typeof (target as Record<string, unknown>)[name] === 'function')
  );
}

/** The connection's internals, when they have the shape `LeanSubscription` relies on. */
function connectionInternals(nc: NatsConnection): ConnectionInternals | undefined {
  const internals = nc as unknown as Partial<ConnectionInternals>;
  const table = internals.protocol?.subscriptions;
  const shaped =
    hasMethods(internals, ['_check']) &&
    hasMethods(internals.protocol, ['subscribe', 'unsubscribe', 'unsub', 'flush']) &&
    hasMethods(table, ['get', 'cancel']) &&
    table?.subs instanceof Map;
  return shaped ? (internals as ConnectionInternals) : undefined;
}

/** What the lean subscriptions of one bus share, so that each holds one reference to it. */
interface LeanContext {
  readonly connection: ConnectionInternals;
  readonly protocol: ProtocolInternals;
  readonly emit: (status: BusStatus) => void;
}

/**
 * A bus subscription that is its own nats-core subscription. A nats.js `SubscriptionImpl`
 * (about 270 bytes, with a further 50 for a wrapper and a map entry to find it) keeps an
 * async iterator's state that a callback subscription never uses; this one has five
 * fields. nats-core's protocol handler keeps it in its subscription table like its own
 * (see `ProtocolInternals` for what it reads) and resends its SUB after a reconnect.
 * `NatsBus` makes these only when the connection has the expected shape, and nats.js's
 * own subscriptions otherwise.
 */
class LeanSubscription implements BusSubscription {
  /** Set by the subscription table when added. */
  sid = 0;
  /** Counted by nats-core's `processMsg`. */
  received = 0;

  constructor(
    readonly subject: string,
    readonly handler: BusHandler,
    private readonly context: LeanContext,
  ) {}

  /** Called by nats-core with each message, or with an error (a permissions violation). */
  callback(error: Error | null, msg: Msg): void {
    dispatch(error, msg, this.handler, this, this.context.emit);
  }

  unsubscribe(): void {
    const { protocol } = this.context;
    // Once only, as nats.js would send another UNSUB for an id it no longer has.
    if (protocol.subscriptions.get(this.sid) === this) protocol.unsubscribe(this);
  }

  /** Called by nats-core when the subscription or the connection closes: nothing to release. */
  close(): void {}

  /** Called by nats-core's connection drain: stop interest, then leave once the server has. */
  drain(): Promise<void> {
    const { protocol } = this.context;
    protocol.unsub(this);
    const leave = (): void => protocol.subscriptions.cancel(this);
    return protocol.flush().then(leave, leave);
  }
}

/** A nats.js subscription for a bus whose connection has not the shape `LeanSubscription` needs. */
class NatsJsSubscription implements BusSubscription {
  constructor(readonly sub: Subscription) {}

  get subject(): string {
    return this.sub.getSubject();
  }

  unsubscribe(): void {
    this.sub.unsubscribe();
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
  /** Set when the connection has the shape lean subscriptions need. */
  readonly #lean: LeanContext | undefined;
  readonly #requests: NatsRequests;

  private constructor(nc: NatsConnection, lean: boolean) {
    this.#nc = nc;
    this.#requests = new NatsRequests(nc);
    const connection = lean ? connectionInternals(nc) : undefined;
    this.#lean = connection && {
      connection,
      protocol: connection.protocol,
      emit: (status) => this.#emit(status),
    };
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
    return new NatsBus(nc, options.leanSubscriptions ?? true);
  }

  /** Whether subscriptions are lean ones (false: nats.js's own; see `NatsBusOptions`). */
  get leanSubscriptions(): boolean {
    return this.#lean !== undefined;
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
    if (this.#lean) {
      // What `NatsConnection.subscribe` does before it makes a subscription.
      this.#lean.connection._check(subject, true, false);
      const subscription = new LeanSubscription(subject, handler, this.#lean);
      this.#lean.protocol.subscribe(subscription);
      return subscription;
    }
    const subscription: NatsJsSubscription = new NatsJsSubscription(
      this.#nc.subscribe(subject, {
        callback: (error, msg) =>
          dispatch(error, msg, handler, subscription, (status) => this.#emit(status)),
      }),
    );
    return subscription;
  }

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
