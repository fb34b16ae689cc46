module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'lab-normalization',
  rootDir: __dirname,
};
