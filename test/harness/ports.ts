import { connect, createServer, type AddressInfo } from 'node:net';

/**
 * A TCP port that was free a moment ago on 127.0.0.1. Another process may still take
 * it before the caller binds; the window is short enough for a test machine.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve, reject) =>
    server.close((err) => (err ? reject(err) : resolve())),
  );
  return port;
}

/** Opens one TCP connection to `host:port` and closes it; rejects when it is refused. */
export async function assertAcceptsTcp(host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', (cause) =>
      reject(new Error(`${host}:${port} refused a connection`, { cause })),
    );
  });
}
