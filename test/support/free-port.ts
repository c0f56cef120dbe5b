// Free loopback TCP ports for server processes started by tests and benchmarks.
import { createServer } from 'node:net';

/** A TCP port on 127.0.0.1 that is free when asked (another process may take it before the caller binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}

/**
 * Runs `start` on a free port, and again on another one (three tries in all) when it fails because
 * the port was taken between freePort() and the bind: only that race is worth a retry.
 */
export async function onFreePort<T>(start: (port: number) => Promise<T>): Promise<T> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await start(await freePort());
    } catch (error) {
      lastError = error;
      if (!/EADDRINUSE|address already in use/i.test(String(error))) break;
    }
  }
  throw lastError;
}
