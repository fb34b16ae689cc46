module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'billing-trigger-service',
  rootDir: __dirname,
};
