import { connect, type Socket } from 'node:net';

/** Called once per request with the response status, or the error that ended it. */
type Done = (status: number | undefined, error?: Error) => void;

const HEAD_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:\s*(\d+)/i;

/** One keep-alive connection with at most one request in flight. */
class Connection {
  readonly socket: Socket;
  #pending: Buffer = Buffer.alloc(0);
  #done: Done | undefined;

  constructor(
    host: string,
    port: number,
    onIdle: (conn: Connection) => void,
    onClose: (conn: Connection) => void,
  ) {
    this.socket = connect({ host, port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => {
      this.#pending = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
      const status = this.#complete();
      if (status === undefined) return;
      const done = this.#done;
      this.#done = undefined;
      done?.(status);
      onIdle(this);
    });
    this.socket.on('error', (err) => this.#fail(err));
    this.socket.on('close', () => {
      this.#fail(new Error('connection closed'));
      onClose(this);
    });
  }

  send(request: string, done: Done): void {
    this.#done = done;
    this.socket.write(request);
  }

  /** The status of a whole response at the front of the buffer, which is then consumed. */
  #complete(): number | undefined {
    const headEnd = this.#pending.indexOf(HEAD_END);
    if (headEnd < 0) return undefined;
    const head = this.#pending.toString('latin1', 0, headEnd);
    const length = Number(CONTENT_LENGTH.exec(head)?.[1] ?? 0);
    const end = headEnd + HEAD_END.length + length;
    if (this.#pending.length < end) return undefined;
    this.#pending = this.#pending.subarray(end);
    return Number(head.slice(9, 12));
  }

  #fail(err: Error): void {
    const done = this.#done;
    this.#done = undefined;
    done?.(undefined, err);
  }
}

/**
 * A minimal HTTP/1.1 client for the ingress bench: up to `size` keep-alive connections,
 * one request in flight on each (no pipelining), later requests queued in order. Cheaper
 * per request than `node:http`, so the load core has more left for the system measured.
 * Responses must carry Content-Length (uWebSockets.js always sends it).
 */
export class HttpPool {
  readonly #host: string;
  readonly #port: number;
  readonly #head: string;
  readonly #connections: Connection[] = [];
  readonly #idle: Connection[] = [];
  readonly #queue: Array<{ body: string; done: Done }> = [];
  #closed = false;

  constructor(
    url: string,
    private readonly size: number,
    headers: Readonly<Record<string, string>>,
  ) {
    const { hostname, port, pathname } = new URL(url);
    this.#host = hostname;
    this.#port = Number(port || 80);
    const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
    this.#head = `POST ${pathname} HTTP/1.1\r\nhost: ${hostname}:${this.#port}\r\n${lines.join('')}`;
  }

  post(body: string, done: Done): void {
    const conn = this.#idleConnection();
    if (conn) conn.send(this.#request(body), done);
    else this.#queue.push({ body, done });
  }

  close(): void {
    this.#closed = true;
    for (const conn of [...this.#connections]) conn.socket.destroy();
  }

  #request(body: string): string {
    return `${this.#head}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  }

  #idleConnection(): Connection | undefined {
    const idle = this.#idle.pop();
    if (idle || this.#connections.length >= this.size) return idle;
    const conn = new Connection(
      this.#host,
      this.#port,
      (c) => this.#onIdle(c),
      (c) => this.#onClose(c),
    );
    this.#connections.push(conn);
    return conn;
  }

  /** A closed connection makes room for a new one, which takes the next queued request. */
  #onClose(conn: Connection): void {
    const drop = (list: Connection[]): void => {
      const at = list.indexOf(conn);
      if (at >= 0) list.splice(at, 1);
    };
    drop(this.#connections);
    drop(this.#idle);
    const next = this.#queue.length > 0 && !this.#closed ? this.#idleConnection() : undefined;
    if (next) this.#onIdle(next);
  }

  #onIdle(conn: Connection): void {
    const next = this.#queue.shift();
    if (next) conn.send(this.#request(next.body), next.done);
    else this.#idle.push(conn);
  }
}
