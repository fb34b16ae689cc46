module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'terminology-nest',
  rootDir: __dirname,
};
