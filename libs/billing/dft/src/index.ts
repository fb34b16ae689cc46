export * from './dft-ids';
export * from './dft-p03.builder';
export * from './dft-p03.parser';
