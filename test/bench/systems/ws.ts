import { createServer } from 'node:http';

import { WebSocketServer, type WebSocket } from 'ws';

import {
  announceReady,
  AUTH_SUCCESS,
  feedFromNats,
  parseSubscribe,
  readSettings,
  subscriptionSuccess,
} from './baseline-common.ts';

/**
 * Baseline: `ws` written with care. bufferutil and utf-8-validate are installed
 * (ws loads them itself), one Buffer per broadcast, a Set per room, and a slow
 * client past the backpressure limit is dropped rather than buffered without bound.
 */
const settings = readSettings();
const rooms = new Map<string, Set<WebSocket>>();
const SEND_OPTIONS = { binary: false, compress: false } as const;
let acks = 0;

const server = createServer();
const wss = new WebSocketServer({
  server,
  perMessageDeflate: false,
  clientTracking: false,
  maxPayload: 16 * 1024,
});

wss.on('connection', (ws) => {
  const joined: string[] = [];
  ws.send(AUTH_SUCCESS);
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    const request = parseSubscribe((data as Buffer).toString('utf8'));
    if (!request) return;
    const key = settings.roomPrefix + request.roomId;
    let members = rooms.get(key);
    if (!members) rooms.set(key, (members = new Set()));
    members.add(ws);
    joined.push(key);
    ws.send(subscriptionSuccess(request, ++acks));
  });
  ws.on('close', () => {
    for (const key of joined) rooms.get(key)?.delete(ws);
  });
  ws.on('error', (err) => process.stderr.write(`ws: client error: ${err.message}\n`));
});

function broadcast(subject: string, data: Uint8Array): void {
  const members = rooms.get(subject);
  if (!members) return;
  // The NATS read buffer is reused, and ws may still hold the data after send returns.
  const frame = Buffer.from(data);
  for (const ws of members) {
    if (ws.bufferedAmount > settings.maxBackpressureBytes) {
      ws.terminate();
      continue;
    }
    ws.send(frame, SEND_OPTIONS);
  }
}

server.listen(settings.port, settings.host, () => {
  feedFromNats(settings, 'bench-ws', broadcast).then(
    () => announceReady('ws', settings.port),
    (err: unknown) => {
      process.stderr.write(`ws: nats: ${String(err)}\n`);
      process.exit(1);
    },
  );
});
