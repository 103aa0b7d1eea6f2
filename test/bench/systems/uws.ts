import uWS from 'uWebSockets.js';

import {
  announceReady,
  AUTH_SUCCESS,
  feedFromNats,
  parseSubscribe,
  readSettings,
  subscriptionSuccess,
} from './baseline-common.ts';

/**
 * Baseline: the least a uWebSockets.js fan-out server can do. Each room is a uWS
 * topic named by its NATS subject, and each NATS message is published as is.
 */
const settings = readSettings();
const decoder = new TextDecoder();
let acks = 0;

const app = uWS.App().ws('/*', {
  compression: uWS.DISABLED,
  maxPayloadLength: 16 * 1024,
  idleTimeout: 0,
  maxBackpressure: settings.maxBackpressureBytes,
  open: (ws) => {
    ws.send(AUTH_SUCCESS, false, false);
  },
  message: (ws, message) => {
    const request = parseSubscribe(decoder.decode(message));
    if (!request) return;
    ws.subscribe(settings.roomPrefix + request.roomId);
    ws.send(subscriptionSuccess(request, ++acks), false, false);
  },
});

app.listen(settings.host, settings.port, (listenSocket) => {
  if (!listenSocket) {
    process.stderr.write(`uws: cannot listen on ${settings.host}:${settings.port}\n`);
    process.exit(1);
  }
  feedFromNats(settings, 'bench-uws', (subject, data) => {
    app.publish(subject, data, false, false);
  }).then(
    () => announceReady('uws', settings.port),
    (err: unknown) => {
      process.stderr.write(`uws: nats: ${String(err)}\n`);
      process.exit(1);
    },
  );
});
