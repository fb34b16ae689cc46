/**
 * ehr-writer: the clinical repository and its FHIR R4 API, filled from the canonical topics
 * (configuration: libs/services/ehr-writer).
 */
import { startEhrWriter } from '@ancillary/ehr-writer-service';
import { runMain } from '@ancillary/service-kit';

runMain('ehr-writer', (env) => startEhrWriter(env));
