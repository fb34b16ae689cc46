export * from './terminology.config';
export * from './terminology.controller';
export * from './terminology.module';
