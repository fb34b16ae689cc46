module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'billing-pricing',
  rootDir: __dirname,
};
