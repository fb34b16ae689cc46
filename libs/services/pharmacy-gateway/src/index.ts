export * from './fhir-inbound/fhir-inbound.gateway';
export * from './fhir-inbound/fhir-intake';
export * from './fhir-inbound/operation-outcome';
export * from './pharmacy-gateway';
