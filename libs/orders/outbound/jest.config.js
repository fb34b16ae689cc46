module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'order-outbound',
  rootDir: __dirname,
};
