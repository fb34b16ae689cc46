module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'ehr-writer-service',
  rootDir: __dirname,
};
