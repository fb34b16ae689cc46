/**
 * The radiology gateway: the RIS connects here over MLLP and every report (ORU^R01) or order
 * status message (ORM^O01 with ORC-1 SC, ORR^O02) it sends is on `radiology.hl7-inbound.v1`
 * before it is acknowledged; the EHR's imaging orders go to the RIS as ORM^O01 v2.3. All the
 * behaviour lives in @ancillary/mllp-gateway and @ancillary/order-outbound; this is the RIS
 * connection's configuration.
 */
import { Module, type DynamicModule } from '@nestjs/common';
import type { Environment } from '@ancillary/config';
import { Topics, type TopicDefinition } from '@ancillary/contracts';
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
 * Reports, unsolicited order status (ORM^O01 with ORC-1 SC) and order responses. Orders we
 * send go the other way (to the RIS's own port), so an ORM^O01 arriving here is always a status.
 */
export const RADIOLOGY_ACCEPTED_MESSAGE_TYPES = ['ORU^R01', 'ORM^O01', 'ORR^O02'] as const;

export const radiologyGatewayEnvSchema = ancillaryGatewayEnvSchema({
  serviceName: 'radiology-gateway',
  httpPort: 8084,
  inbound: {
    sourceSystem: 'ris-main',
    mllpPort: 2576,
    acceptedMessageTypes: RADIOLOGY_ACCEPTED_MESSAGE_TYPES,
  },
  // Many RIS still speak v2.3 ORM: OBR-4 local^display^L^CPT^display^C4, priority in OBR-5/27.
  orders: { mllpPort: 2591, messageFormat: 'ORM^O01', hl7Version: '2.3', facility: 'NWH-RAD' },
});

export type RadiologyGatewayConfig = z.output<typeof radiologyGatewayEnvSchema>;

/** Topics other than the catalogue's, for tests that must not share the real ones. */
export interface RadiologyGatewayTopics {
  inbound?: TopicDefinition;
}

@Module({})
export class RadiologyGatewayModule {
  static forRoot(
    config: RadiologyGatewayConfig,
    logger: Logger,
    topics: RadiologyGatewayTopics = {},
  ): DynamicModule {
    return {
      module: RadiologyGatewayModule,
      imports: ancillaryGatewayImports(
        config,
        logger,
        topics.inbound ?? Topics.radiologyHl7Inbound,
      ),
    };
  }
}

export type RadiologyGatewayHandle = AncillaryGatewayHandle<RadiologyGatewayConfig>;

export interface StartRadiologyGatewayOptions extends StartFromEnvOptions {
  topics?: RadiologyGatewayTopics;
}

export function startRadiologyGateway(
  env: Environment,
  options: StartRadiologyGatewayOptions = {},
): Promise<RadiologyGatewayHandle> {
  const { topics, ...start } = options;
  return startAncillaryGateway(
    radiologyGatewayEnvSchema,
    env,
    (c, l) => RadiologyGatewayModule.forRoot(c, l, topics),
    start,
  );
}
