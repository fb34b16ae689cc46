module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'terminology',
  rootDir: __dirname,
};
