/** Message headers as plain strings (trace context, authorization). */
export type BusHeaders = Readonly<Record<string, string>>;

export interface BusMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers?: BusHeaders;
}

/**
 * Receives the messages of one subscription. The subscription is passed along so that
 * one handler can serve many subscriptions without a closure of its own for each.
 */
export type BusHandler = (message: BusMessage, subscription: BusSubscription) => void;

/** A request handler; its resolved bytes are the reply. */
export type RequestHandler = (message: BusMessage) => Promise<Uint8Array> | Uint8Array;

export interface BusSubscription {
  readonly subject: string;
  unsubscribe(): void;
}

export interface RequestOptions {
  readonly timeoutMs: number;
  readonly headers?: BusHeaders;
}

/** A request-reply endpoint; replicas of one endpoint share its requests. */
export interface EndpointSpec {
  /** Service name, e.g. `auth`; replicas with one name form one queue group. */
  readonly service: string;
  readonly name: string;
  readonly subject: string;
  readonly version?: string;
  readonly description?: string;
}

/** Status changes a bus reports; the owner decides what to log. */
export type BusStatus =
  | { readonly type: 'disconnected' }
  | { readonly type: 'reconnected' }
  | { readonly type: 'error'; readonly error: Error }
  | { readonly type: 'handler_error'; readonly subject: string; readonly error: unknown };

/**
 * The messaging seam between services: NATS in distributed mode, an in-process
 * implementation in standalone mode. Subjects use NATS syntax, `*` and `>` included.
 */
export interface Bus {
  readonly kind: 'nats' | 'memory';
  /** Largest message the bus carries (NATS: the server's max_payload). */
  readonly maxPayloadBytes: number;
  publish(subject: string, data: Uint8Array, headers?: BusHeaders): void;
  subscribe(subject: string, handler: BusHandler): BusSubscription;
  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<BusMessage>;
  /** Resolves once the endpoint receives requests (with NATS: the server has its subscription). */
  serve(endpoint: EndpointSpec, handler: RequestHandler): Promise<void>;
  /** Resolves once the server has processed everything sent before (e.g. new subscriptions). */
  flush(): Promise<void>;
  onStatus(listener: (status: BusStatus) => void): void;
  /** Stops receiving, lets in-flight work finish and closes. */
  drain(): Promise<void>;
}
