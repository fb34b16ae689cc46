/** Loopback ports for tests. */
import { createServer } from 'node:net';

/**
 * A loopback port nothing listens on right now (the OS picked it and it was released): for a
 * server a test starts later, or for a peer that must not answer.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}
