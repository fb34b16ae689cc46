module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'messaging-nest',
  rootDir: __dirname,
};
