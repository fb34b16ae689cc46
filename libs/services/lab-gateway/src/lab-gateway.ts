/**
 * The lab gateway: the LIS connects here over MLLP and every message it sends — results
 * (ORU^R01), unsolicited order status (ORM^O01 / OML^O21 with ORC-1 SC) and order responses
 * (ORR^O02, ORL^O22) — is on `lab.hl7-inbound.v1` before it is acknowledged; the EHR's lab
 * orders go the other way, to the LIS's own port, as ORM^O01 v2.5.1 (@ancillary/order-outbound,
 * when ORDERS_ENABLED). All behaviour lives in @ancillary/mllp-gateway and
 * @ancillary/order-outbound; this is the lab connection's configuration and wiring.
 */
import { Module, type DynamicModule } from '@nestjs/common';
import type { Environment } from '@ancillary/config';
import { Topics } from '@ancillary/contracts';
import {
  ancillaryGatewayEnvSchema,
  ancillaryGatewayImports,
  startAncillaryGateway,
  type AncillaryGatewayHandle,
} from '@ancillary/mllp-gateway';
import type { Logger } from '@ancillary/observability';
import type { StartFromEnvOptions } from '@ancillary/service-kit';
import type { z } from 'zod';

/**
 * Results, unsolicited order status and order responses. Orders we send go to the LIS's own
 * port, so an ORM^O01 / OML^O21 arriving here is always a status message from the LIS.
 */
export const LAB_ACCEPTED_MESSAGE_TYPES = [
  'ORU^R01',
  'ORM^O01',
  'OML^O21',
  'ORR^O02',
  'ORL^O22',
] as const;

export const labGatewayEnvSchema = ancillaryGatewayEnvSchema({
  serviceName: 'lab-gateway',
  httpPort: 8081,
  inbound: {
    sourceSystem: 'lis-main',
    mllpPort: 2575,
    acceptedMessageTypes: LAB_ACCEPTED_MESSAGE_TYPES,
  },
  // OBR-4 local^display^L^LOINC^display^LN, priority in TQ1-9; OML^O21 (with SPM) on request.
  orders: { mllpPort: 2590, messageFormat: 'ORM^O01', hl7Version: '2.5.1', facility: 'NWH-LAB' },
});

export type LabGatewayConfig = z.output<typeof labGatewayEnvSchema>;

@Module({})
export class LabGatewayModule {
  static forRoot(config: LabGatewayConfig, logger: Logger): DynamicModule {
    return {
      module: LabGatewayModule,
      imports: ancillaryGatewayImports(config, logger, Topics.labHl7Inbound),
    };
  }
}

export type LabGatewayHandle = AncillaryGatewayHandle<LabGatewayConfig>;

export function startLabGateway(
  env: Environment,
  options: StartFromEnvOptions = {},
): Promise<LabGatewayHandle> {
  return startAncillaryGateway(
    labGatewayEnvSchema,
    env,
    (c, l) => LabGatewayModule.forRoot(c, l),
    options,
  );
}
