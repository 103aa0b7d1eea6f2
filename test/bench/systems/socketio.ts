import { createServer } from 'node:http';

import { Server } from 'socket.io';

import { announceReady, feedFromNats, readSettings } from './baseline-common.ts';

/**
 * Baseline: Socket.IO 4 as its docs suggest, WebSocket transport only, one room
 * per NATS subject, `io.to(room).emit`. The event JSON is parsed once per
 * broadcast because Socket.IO encodes the packet itself (once per broadcast).
 */
const settings = readSettings();
const decoder = new TextDecoder();
let acks = 0;

const server = createServer();
const io = new Server(server, {
  transports: ['websocket'],
  perMessageDeflate: false,
  httpCompression: false,
  serveClient: false,
  maxHttpBufferSize: 16 * 1024,
});

interface SubscribePayload {
  readonly room_id?: unknown;
}

io.on('connection', (socket) => {
  socket.on('subscribe', (payload: SubscribePayload) => {
    if (typeof payload?.room_id !== 'string') {
      socket.emit('error', { reason: 'room_id required' });
      return;
    }
    void socket.join(settings.roomPrefix + payload.room_id);
    socket.emit('subscription_success', { subscription_id: `sub_${++acks}` });
  });
});

server.listen(settings.port, settings.host, () => {
  feedFromNats(settings, 'bench-socketio', (subject, data) => {
    io.to(subject).emit('event', JSON.parse(decoder.decode(data)) as unknown);
  }).then(
    () => announceReady('socketio', settings.port),
    (err: unknown) => {
      process.stderr.write(`socketio: nats: ${String(err)}\n`);
      process.exit(1);
    },
  );
});
