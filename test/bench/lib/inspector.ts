import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

import WebSocket from 'ws';

/** Heap numbers V8 reports after a full GC. */
export interface HeapUsage {
  readonly usedBytes: number;
  readonly totalBytes: number;
}

interface Reply {
  readonly id?: number;
  readonly result?: Record<string, unknown>;
  readonly error?: { readonly message: string };
  /** Set on events, which carry `params` instead of a result. */
  readonly method?: string;
  readonly params?: Record<string, unknown>;
}

/**
 * A DevTools-protocol session with a process started with `--inspect`. It works
 * the same for every Node server under test, so none of them needs an admin route.
 */
export class InspectorSession {
  readonly #socket: WebSocket;
  #nextId = 0;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
  }

  static async open(url: string): Promise<InspectorSession> {
    const socket = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1024 * 1024 * 1024 });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return new InspectorSession(socket);
  }

  call(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = ++this.#nextId;
    return new Promise((resolve, reject) => {
      const onMessage = (raw: WebSocket.RawData): void => {
        const msg = JSON.parse((raw as Buffer).toString('utf8')) as Reply;
        if (msg.id !== id) return;
        this.#socket.off('message', onMessage);
        if (msg.error) reject(new Error(`${method}: ${msg.error.message}`));
        else resolve(msg.result ?? {});
      };
      this.#socket.on('message', onMessage);
      this.#socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Calls `listener` with the parameters of each `method` event until the returned function is called. */
  on(method: string, listener: (params: Record<string, unknown>) => void): () => void {
    const onMessage = (raw: WebSocket.RawData): void => {
      const msg = JSON.parse((raw as Buffer).toString('utf8')) as Reply;
      if (msg.method === method) listener(msg.params ?? {});
    };
    this.#socket.on('message', onMessage);
    return () => this.#socket.off('message', onMessage);
  }

  close(): void {
    this.#socket.close();
  }
}

/**
 * V8's most thorough collection (`CollectAllAvailableGarbage`: several rounds that also
 * compact fragmented pages and give freed pages back), which the inspector's
 * `collectGarbage` is not. It is reached through the `gc` function V8 gives a new
 * context once `--expose-gc` is set, the same in every Node server.
 */
async function collectAllAvailableGarbage(session: InspectorSession): Promise<void> {
  const expression = `(() => {
    const v8 = process.getBuiltinModule('v8');
    v8.setFlagsFromString('--expose-gc');
    const gc = process.getBuiltinModule('vm').runInNewContext('gc');
    v8.setFlagsFromString('--no-expose-gc');
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    return true;
  })()`;
  const reply = await session.call('Runtime.evaluate', { expression, returnByValue: true });
  const result = reply.result as { value?: unknown } | undefined;
  if (result?.value !== true) throw new Error(`last-resort GC failed: ${JSON.stringify(reply)}`);
}

/**
 * Forces V8's most thorough GC and reads the heap. The inspector's `collectGarbage` alone
 * leaves the pages a busy period added to the young generation committed until V8's memory
 * reducer gives them back, some 8 s later or not at all before a reading: 14-17 MB of the
 * gateway's RSS at 19,000 connections, in some runs and not others.
 */
export async function collectAndMeasureHeap(inspectorUrl: string): Promise<HeapUsage> {
  const session = await InspectorSession.open(inspectorUrl);
  try {
    await session.call('HeapProfiler.collectGarbage');
    await collectAllAvailableGarbage(session);
    const usage = await session.call('Runtime.getHeapUsage');
    return { usedBytes: Number(usage.usedSize ?? 0), totalBytes: Number(usage.totalSize ?? 0) };
  } finally {
    session.close();
  }
}

/**
 * Writes a V8 heap snapshot (a `.heapsnapshot` file, for Chrome DevTools or
 * `heap-summary.ts`) to `path`. Taking it runs a full GC first, so it holds live objects only.
 */
export async function writeHeapSnapshot(inspectorUrl: string, path: string): Promise<void> {
  const session = await InspectorSession.open(inspectorUrl);
  const file = createWriteStream(path);
  // Chunks arrive as events before the call's reply; a slow disk must not lose any.
  const stop = session.on('HeapProfiler.addHeapSnapshotChunk', (params) => {
    if (typeof params.chunk === 'string') file.write(params.chunk);
  });
  try {
    await session.call('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  } finally {
    stop();
    session.close();
    file.end();
    await once(file, 'close');
  }
}

/** Samples the CPU while `during` runs; returns the `.cpuprofile` JSON. */
export async function profileDuring(
  inspectorUrl: string,
  during: () => Promise<unknown>,
): Promise<string> {
  const session = await InspectorSession.open(inspectorUrl);
  try {
    await session.call('Profiler.enable');
    await session.call('Profiler.setSamplingInterval', { interval: 200 });
    await session.call('Profiler.start');
    await during();
    const { profile } = await session.call('Profiler.stop');
    return JSON.stringify(profile);
  } finally {
    session.close();
  }
}
