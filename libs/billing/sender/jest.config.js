module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'billing-sender',
  rootDir: __dirname,
};
