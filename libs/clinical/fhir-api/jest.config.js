module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'fhir-api',
  rootDir: __dirname,
};
