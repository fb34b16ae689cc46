export * from './dft-p03.builder';
