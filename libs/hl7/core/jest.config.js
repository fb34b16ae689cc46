module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'hl7-core',
  rootDir: __dirname,
};
