module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'fhir-store',
  rootDir: __dirname,
};
