// The whole suite: unit specs (*.spec.ts) and integration specs (*.int-spec.ts) of every
// project. Integration specs talk to the real stack, which the global setup brings up
// (testcontainers where a Docker engine answers, otherwise tools/stack/stack.sh).
const { globSync } = require('node:fs');

module.exports = {
  projects: globSync(
    [
      'libs/*/jest.config.js',
      'libs/*/*/jest.config.js',
      'apps/*/jest.config.js',
      'tools/jest.config.js',
      'tests/*/jest.config.js',
      'bench/*/jest.config.js',
    ],
    {
      cwd: __dirname,
    },
  ).map((p) => `<rootDir>/${p}`),
  globalSetup: '<rootDir>/tools/jest/global-setup.js',
  globalTeardown: '<rootDir>/tools/jest/global-teardown.js',
  // Integration tests wait on a real broker (group joins, session expiry), bounded by waitFor().
  testTimeout: 90_000,
};
