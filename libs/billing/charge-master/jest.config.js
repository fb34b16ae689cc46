module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'charge-master',
  rootDir: __dirname,
};
