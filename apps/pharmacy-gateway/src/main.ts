/**
 * pharmacy-gateway: MLLP listener for the pharmacy system and FHIR MedicationDispense endpoint
 * for pharmacy platforms. Configuration comes from the environment (see
 * libs/services/pharmacy-gateway); everything else from the libs.
 */
import { startPharmacyGateway } from '@ancillary/pharmacy-gateway-service';
import { runMain } from '@ancillary/service-kit';

runMain('pharmacy-gateway', (env) => startPharmacyGateway(env));
