module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'lab-gateway-service',
  rootDir: __dirname,
};
