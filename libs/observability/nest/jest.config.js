module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'observability-nest',
  rootDir: __dirname,
};
