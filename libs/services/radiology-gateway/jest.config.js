module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'radiology-gateway-service',
  rootDir: __dirname,
};
