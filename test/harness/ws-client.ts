import WebSocket, { type RawData } from 'ws';

/** A parsed server frame: a JSON object with a string `type`. */
export type Frame = Readonly<Record<string, unknown>> & { readonly type: string };

export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

export interface ClientOptions {
  /**
   * Whether ws answers the server's protocol-level pings by itself (default true).
   * A client that must look dead to the server turns this off.
   */
  readonly autoPong?: boolean;
}

/** What arrived from the server: a frame, or something no frame can be made of. */
type Arrival = { readonly frame: Frame } | { readonly problem: string };

interface Waiter {
  readonly predicate: (frame: Frame) => boolean;
  readonly resolve: (frame: Frame) => void;
  readonly reject: (error: Error) => void;
}

export const DEFAULT_FRAME_TIMEOUT_MS = 5_000;
const CLOSE_GRACE_MS = 2_000;

/** A WebSocket client for tests: it buffers every frame, answers nothing of its own. */
export class TestClient {
  readonly url: string;
  /** Socket errors seen after the connection opened (a reset, a bad frame). */
  readonly errors: Error[] = [];
  /** Resolves with the close code and reason, whoever closed. */
  readonly closed: Promise<CloseInfo>;
  readonly #ws: WebSocket;
  readonly #buffer: Arrival[] = [];
  readonly #waiters = new Set<Waiter>();
  #closeInfo: CloseInfo | undefined;

  constructor(url: string, ws: WebSocket) {
    this.url = url;
    this.#ws = ws;
    ws.on('message', (data, isBinary) => this.#arrive(parse(data, isBinary)));
    ws.on('error', (error) => this.errors.push(error));
    this.closed = new Promise((resolve) => {
      ws.once('close', (code, reason) => {
        this.#closeInfo = { code, reason: reason.toString('utf8') };
        openClients.delete(this);
        for (const waiter of this.#waiters) waiter.reject(this.#closedError());
        this.#waiters.clear();
        resolve(this.#closeInfo);
      });
    });
  }

  get isOpen(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  /** Sends `message` as one JSON text frame. */
  send(message: object): void {
    this.#ws.send(JSON.stringify(message));
  }

  /** Sends exactly these bytes or this text, as a text frame unless `binary`. */
  sendRaw(data: string | Buffer, options: { binary?: boolean } = {}): void {
    this.#ws.send(data, { binary: options.binary ?? false });
  }

  /** Sends an unsolicited protocol-level pong (RFC 6455 §5.5.3 allows it as a heartbeat). */
  sendProtocolPong(): void {
    this.#ws.pong();
  }

  /**
   * The oldest buffered frame that matches `predicate`, or the next one to arrive.
   * Frames that do not match stay buffered for later calls.
   */
  next(
    predicate: (frame: Frame) => boolean = () => true,
    timeoutMs = DEFAULT_FRAME_TIMEOUT_MS,
  ): Promise<Frame> {
    const found = this.#take(predicate);
    if (found) return found;
    if (this.#closeInfo) return Promise.reject(this.#closedError());

    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(
          new Error(
            `no matching frame within ${timeoutMs} ms from ${this.url}; ${this.#describeBuffer()}`,
          ),
        );
      }, timeoutMs);
      const waiter: Waiter = {
        predicate,
        resolve: (frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#waiters.add(waiter);
    });
  }

  /** Frames received and not yet taken by `next`. */
  pending(): readonly Frame[] {
    return this.#buffer.flatMap((a) => ('frame' in a ? [a.frame] : []));
  }

  /** Closes (code 1000) and waits for the close handshake; drops the socket if it stalls. */
  async close(): Promise<CloseInfo> {
    if (this.#closeInfo) return this.#closeInfo;
    this.#ws.close(1000);
    const stalled = setTimeout(() => this.#ws.terminate(), CLOSE_GRACE_MS);
    try {
      return await this.closed;
    } finally {
      clearTimeout(stalled);
    }
  }

  #take(predicate: (frame: Frame) => boolean): Promise<Frame> | undefined {
    for (const [index, arrival] of this.#buffer.entries()) {
      if ('problem' in arrival) return Promise.reject(new Error(`${this.url}: ${arrival.problem}`));
      if (!predicate(arrival.frame)) continue;
      this.#buffer.splice(index, 1);
      return Promise.resolve(arrival.frame);
    }
    return undefined;
  }

  #arrive(arrival: Arrival): void {
    if ('frame' in arrival) {
      for (const waiter of this.#waiters) {
        if (!waiter.predicate(arrival.frame)) continue;
        this.#waiters.delete(waiter);
        waiter.resolve(arrival.frame);
        return;
      }
    } else {
      for (const waiter of this.#waiters)
        waiter.reject(new Error(`${this.url}: ${arrival.problem}`));
      this.#waiters.clear();
    }
    this.#buffer.push(arrival);
  }

  #closedError(): Error {
    const info = this.#closeInfo;
    const closed = `connection closed (${info?.code} ${info?.reason ?? ''})`;
    return new Error(`${closed} before a matching frame; ${this.#describeBuffer()}`);
  }

  #describeBuffer(): string {
    const frames = this.pending();
    return frames.length === 0
      ? 'nothing unmatched was received'
      : `unmatched: ${JSON.stringify(frames)}`;
  }
}

function parse(data: RawData, isBinary: boolean): Arrival {
  const bytes = Buffer.isBuffer(data)
    ? data
    : Array.isArray(data)
      ? Buffer.concat(data)
      : Buffer.from(data);
  const text = bytes.toString('utf8');
  if (isBinary) return { problem: `server sent a binary frame: ${text.slice(0, 200)}` };

  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { problem: `server sent a frame that is not JSON: ${text.slice(0, 200)}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { problem: `server sent a frame that is not a JSON object: ${text.slice(0, 200)}` };
  }
  if (typeof (value as { type?: unknown }).type !== 'string') {
    return { problem: `server sent a frame without a string type: ${text.slice(0, 200)}` };
  }
  return { frame: value as Frame };
}

const openClients = new Set<TestClient>();

/** Opens a connection; rejects with the HTTP status when the server refuses the upgrade. */
export function connect(url: string, options: ClientOptions = {}): Promise<TestClient> {
  const ws = new WebSocket(url, { autoPong: options.autoPong ?? true });
  const client = new TestClient(url, ws);
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      openClients.add(client);
      resolve(client);
    });
    ws.once('unexpected-response', (_request, response) => {
      ws.terminate();
      reject(new Error(`${url} refused the upgrade with HTTP ${response.statusCode}`));
    });
    ws.once('error', (error) => reject(new Error(`cannot connect to ${url}`, { cause: error })));
  });
}

/** Closes every client still open; the conformance suites call it after each test. */
export async function closeAllClients(): Promise<void> {
  await Promise.all([...openClients].map((client) => client.close()));
}

/** Predicate: a frame of this `type`, optionally with this `request_id`. */
export function ofType(type: string, requestId?: string): (frame: Frame) => boolean {
  return (frame) =>
    frame.type === type && (requestId === undefined || frame.request_id === requestId);
}
