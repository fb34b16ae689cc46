module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'normalizer-service',
  rootDir: __dirname,
};
