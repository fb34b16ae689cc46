/**
 * lab-gateway: MLLP listener for the laboratory information system. Configuration comes from
 * the environment (see libs/services/lab-gateway); everything else from the libs.
 */
import { startLabGateway } from '@ancillary/lab-gateway-service';
import { runMain } from '@ancillary/service-kit';

runMain('lab-gateway', (env) => startLabGateway(env));
