module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'mllp-gateway',
  rootDir: __dirname,
};
