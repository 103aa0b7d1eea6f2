import { createServer } from 'node:net';

/** Raised when a port the bench needs is taken. */
export class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Fails with the port's name and the variable to change when any of them is taken. */
export async function requireFreePorts(ports: Record<string, number>): Promise<void> {
  for (const [what, port] of Object.entries(ports)) {
    if (!(await isFree(port))) {
      throw new PortInUseError(
        `port ${port} (${what}) is in use; pick other ports with BENCH_PORT_BASE`,
      );
    }
  }
}
