module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'hl7-mllp',
  rootDir: __dirname,
};
