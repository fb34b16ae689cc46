module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'pharmacy-gateway-service',
  rootDir: __dirname,
};
