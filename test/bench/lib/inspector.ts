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

  close(): void {
    this.#socket.close();
  }
}

/** Forces a full GC and reads the heap. */
export async function collectAndMeasureHeap(inspectorUrl: string): Promise<HeapUsage> {
  const session = await InspectorSession.open(inspectorUrl);
  try {
    await session.call('HeapProfiler.collectGarbage');
    await session.call('HeapProfiler.collectGarbage');
    const usage = await session.call('Runtime.getHeapUsage');
    return { usedBytes: Number(usage.usedSize ?? 0), totalBytes: Number(usage.totalSize ?? 0) };
  } finally {
    session.close();
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
