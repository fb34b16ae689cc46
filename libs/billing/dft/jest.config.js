module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'billing-dft',
  rootDir: __dirname,
};
