/**
 * The platform runs on the Node.js LTS pinned in package.json (the npm `node` package puts
 * it in node_modules/.bin). A service started by an older system Node would run with
 * different TLS, fetch and stream behaviour, so it refuses to start instead.
 */
export const MINIMUM_NODE_MAJOR = 24;

export class UnsupportedRuntimeError extends Error {
  override readonly name = 'UnsupportedRuntimeError';
}

export function assertSupportedNode(version: string = process.versions.node): void {
  const major = Number.parseInt(version.split('.')[0] ?? '', 10);
  if (!Number.isFinite(major) || major < MINIMUM_NODE_MAJOR) {
    throw new UnsupportedRuntimeError(
      `Node.js ${version} is not supported: the platform needs Node.js ${MINIMUM_NODE_MAJOR} or newer. ` +
        'Run it through npm (npm start, npm test, npx …) so that the pinned node from node_modules/.bin is used.',
    );
  }
}
