// Brings up the real stack once for the whole test run and tells the test workers where it
// is (ANCILLARY_STACK_ENV, inherited by the workers Jest starts after this).
'use strict';

const { startStack } = require('./stack-provider');

module.exports = async function globalSetup() {
  if (process.env.ANCILLARY_STACK === 'none') return; // unit tests only
  const stack = await startStack();
  process.env.ANCILLARY_STACK_ENV = stack.envFile;
  globalThis.__ancillaryStack = stack;
};
