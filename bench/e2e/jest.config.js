// bench/e2e's own tests (the root jest.config.js collects libs/, apps/ and tools/ only):
//   NODE_OPTIONS='--experimental-vm-modules …' npx jest -c bench/e2e/jest.config.js
module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'bench-e2e',
  rootDir: __dirname,
};
