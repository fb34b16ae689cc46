/**
 * lab-gateway: the laboratory information system's connection — results and order status in
 * over MLLP, the EHR's lab orders out to the LIS. Configuration comes from the environment (see
 * libs/services/lab-gateway); everything else from the libs.
 */
import { startLabGateway } from '@ancillary/lab-gateway-service';
import { runMain } from '@ancillary/service-kit';

runMain('lab-gateway', (env) => startLabGateway(env));
