// Stops containers started for this run. A local stack started by stack.sh is left running
// (starting it takes a while); `npm run stack:down` stops it, as .ci/run does at the end.
'use strict';

module.exports = async function globalTeardown() {
  const stack = globalThis.__ancillaryStack;
  if (stack) await stack.stop();
};
