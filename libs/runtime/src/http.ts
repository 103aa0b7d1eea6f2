import uWS, { type HttpResponse, type TemplatedApp, type us_listen_socket } from 'uWebSockets.js';

/** uSockets flag; the enum is only in the typings, not exported at run time. */
const LIBUS_LISTEN_EXCLUSIVE_PORT = 1;

type ListenWithOptions = (
  host: string,
  port: number,
  options: number,
  cb: (socket: us_listen_socket | false) => void,
) => TemplatedApp;

/**
 * Starts listening; resolves with the listen socket and the port actually bound.
 * The port is taken exclusively: uSockets otherwise sets SO_REUSEPORT, and a second
 * process on the same port would silently share it.
 */
export function listen(
  app: TemplatedApp,
  host: string,
  port: number,
): Promise<{ socket: us_listen_socket; port: number }> {
  // The native listen takes (host, port, options, cb); the published typings omit it.
  const listenExclusive = app.listen.bind(app) as unknown as ListenWithOptions;
  return new Promise((resolve, reject) => {
    listenExclusive(host, port, LIBUS_LISTEN_EXCLUSIVE_PORT, (socket) => {
      if (!socket)
        return reject(new Error(`cannot listen on ${host}:${port} (in use or not permitted)`));
      resolve({ socket, port: uWS.us_socket_local_port(socket) });
    });
  });
}

/** Stops accepting connections; open ones are left to their owner. */
export function stopListening(socket: us_listen_socket): void {
  uWS.us_listen_socket_close(socket);
}

export function sendText(res: HttpResponse, status: string, body: string): void {
  res.cork(() => {
    res.writeStatus(status).writeHeader('content-type', 'text/plain; charset=utf-8').end(body);
  });
}

/**
 * Health routes and the catch-all 404. Mount after every other route: uWebSockets.js
 * matches the most specific route, and `/*` catches what nothing else did.
 */
export function mountHealthAndFallback(app: TemplatedApp, isReady: () => boolean): void {
  app.get('/healthz', (res) => sendText(res, '200 OK', 'ok\n'));
  app.get('/readyz', (res) =>
    isReady()
      ? sendText(res, '200 OK', 'ready\n')
      : sendText(res, '503 Service Unavailable', 'not ready\n'),
  );
  app.any('/*', (res) => sendText(res, '404 Not Found', 'not found\n'));
}
