/**
 * radiology-gateway: MLLP listener for the radiology information system. Configuration comes from
 * the environment (see libs/services/radiology-gateway); everything else from the libs.
 */
import { startRadiologyGateway } from '@ancillary/radiology-gateway-service';
import { runMain } from '@ancillary/service-kit';

runMain('radiology-gateway', (env) => startRadiologyGateway(env));
