module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'order-normalization',
  rootDir: __dirname,
};
