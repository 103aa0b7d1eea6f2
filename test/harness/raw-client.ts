import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/** A frame as a raw client sees it: text, or the close frame's code. */
export type RawFrame = { readonly text: string } | { readonly closeCode: number };

const OPCODE_TEXT = 0x1;
const OPCODE_CLOSE = 0x8;

/**
 * A minimal WebSocket client over a plain TCP socket that can stop reading, so the
 * server sees a consumer whose kernel buffers are full (a slow consumer).
 */
export class RawClient {
  readonly frames: RawFrame[] = [];
  readonly #socket: Socket;
  #buffer = Buffer.alloc(0);
  #upgraded = false;
  #onFrame?: () => void;
  #markUpgraded!: () => void;
  readonly #upgradedOrClosed: Promise<void>;
  readonly ended: Promise<void>;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    this.ended = new Promise((resolve) => socket.once('close', () => resolve()));
    this.#upgradedOrClosed = new Promise<void>((resolve, reject) => {
      this.#markUpgraded = resolve;
      socket.once('close', () => reject(new Error('closed before the upgrade')));
    });
  }

  /** Connects to `url` (ws://host:port/path?query) and completes the handshake. */
  static async open(url: string): Promise<RawClient> {
    const target = new URL(url);
    const socket = connect(Number(target.port), target.hostname);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new RawClient(socket);
    socket.write(
      [
        `GET ${target.pathname}${target.search} HTTP/1.1`,
        `Host: ${target.host}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
        'Sec-WebSocket-Version: 13',
        '',
        '',
      ].join('\r\n'),
    );
    // RFC 6455 §4.1: no frames before the server's 101.
    await client.#upgradedOrClosed;
    return client;
  }

  /** Sends one masked text frame, as RFC 6455 requires of clients. */
  sendText(text: string): void {
    const payload = Buffer.from(text);
    const mask = randomBytes(4);
    const header =
      payload.length < 126
        ? Buffer.from([0x80 | OPCODE_TEXT, 0x80 | payload.length])
        : Buffer.from([0x80 | OPCODE_TEXT, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
    const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
    this.#socket.write(Buffer.concat([header, mask, masked]));
  }

  /** The next text frame matching `predicate`, read while the client is reading. */
  async nextText(predicate: (text: string) => boolean, timeoutMs = 5_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(
        (f): f is { text: string } => 'text' in f && predicate(f.text),
      );
      if (found) return found.text;
      if (Date.now() > deadline) throw new Error('no matching frame arrived in time');
      await new Promise<void>((resolve) => {
        this.#onFrame = resolve;
        setTimeout(resolve, deadline - Date.now()).unref();
      });
    }
  }

  /** Stops reading: the kernel's buffers fill, then the server's backlog grows. */
  stopReading(): void {
    this.#socket.pause();
  }

  /** Reads everything the server sent until it closed the connection. */
  async readToEnd(): Promise<RawFrame[]> {
    this.#socket.resume();
    await this.ended;
    return this.frames;
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #receive(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    if (!this.#upgraded) {
      const end = this.#buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const status = this.#buffer.subarray(0, end).toString().split('\r\n')[0] ?? '';
      if (!status.includes(' 101 ')) throw new Error(`upgrade refused: ${status}`);
      this.#upgraded = true;
      this.#buffer = this.#buffer.subarray(end + 4);
      this.#markUpgraded();
    }
    while (this.#parseFrame());
    this.#onFrame?.();
  }

  #parseFrame(): boolean {
    const b = this.#buffer;
    if (b.length < 2) return false;
    const opcode = b[0]! & 0x0f;
    let length = b[1]! & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (b.length < 4) return false;
      length = b.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (b.length < 10) return false;
      length = Number(b.readBigUInt64BE(2));
      offset = 10;
    }
    if (b.length < offset + length) return false;

    const payload = b.subarray(offset, offset + length);
    if (opcode === OPCODE_TEXT) this.frames.push({ text: payload.toString('utf8') });
    if (opcode === OPCODE_CLOSE)
      this.frames.push({ closeCode: payload.length >= 2 ? payload.readUInt16BE(0) : 1005 });
    this.#buffer = b.subarray(offset + length);
    return true;
  }
}
