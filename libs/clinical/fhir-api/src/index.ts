export * from './bundle';
export * from './capability-statement';
export * from './fhir-api.module';
export * from './fhir-api.options';
export * from './fhir.controller';
export * from './operation-outcome';
export * from './request-body';
