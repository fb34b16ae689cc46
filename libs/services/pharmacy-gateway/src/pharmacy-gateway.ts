/**
 * The pharmacy gateway: the pharmacy system connects over MLLP and every dispense (RDS^O13),
 * order response (RRE^O12, ORR^O02) or status message (ORM^O01) it sends is on
 * `pharmacy.hl7-inbound.v1` before it is acknowledged; API-first pharmacy platforms POST
 * FHIR MedicationDispense resources instead, stored on `pharmacy.fhir-inbound.v1` before the
 * 202. The MLLP side is @ancillary/mllp-gateway; the FHIR side is ./fhir-inbound.
 */
import { Module, type DynamicModule } from '@nestjs/common';
import { booleanFlag, positiveInt, type Environment } from '@ancillary/config';
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
import {
  FHIR_INBOUND_OPTIONS,
  MedicationDispenseController,
  type FhirInboundOptions,
} from './fhir-inbound/medication-dispense.controller';

/** Dispenses, order responses and unsolicited order status from the pharmacy system. */
export const PHARMACY_ACCEPTED_MESSAGE_TYPES = [
  'RDS^O13',
  'RRE^O12',
  'ORR^O02',
  'ORM^O01',
] as const;

export const pharmacyGatewayEnvSchema = ancillaryGatewayEnvSchema({
  serviceName: 'pharmacy-gateway',
  httpPort: 8085,
  inbound: {
    sourceSystem: 'pharmacy-main',
    mllpPort: 2577,
    acceptedMessageTypes: PHARMACY_ACCEPTED_MESSAGE_TYPES,
  },
  // ORDERS_TRANSPORT=fhir sends FHIR MedicationRequests to ORDERS_FHIR_URL instead.
  orders: {
    mllpPort: 2592,
    messageFormat: 'RDE^O11',
    hl7Version: '2.5.1',
    facility: 'NWH-RX',
    fhirUrl: 'http://127.0.0.1:8092/fhir',
  },
}).extend({
  /**
   * `POST /fhir/MedicationDispense` on the HTTP port. It has no authentication of its own:
   * turn it off where no FHIR pharmacy needs it, or put an authenticating proxy in front.
   */
  FHIR_INBOUND_ENABLED: booleanFlag.default(true),
  /** Larger bodies are refused with 413 (a MedicationDispense is a few kB). */
  FHIR_MAX_BODY_BYTES: positiveInt.max(900_000).default(262_144),
});

export type PharmacyGatewayConfig = z.output<typeof pharmacyGatewayEnvSchema>;

/** Topics other than the catalogue's, for tests that must not share the real ones. */
export interface PharmacyGatewayTopics {
  hl7Inbound?: TopicDefinition;
  fhirInbound?: TopicDefinition;
}

@Module({})
export class PharmacyGatewayModule {
  static forRoot(
    config: PharmacyGatewayConfig,
    logger: Logger,
    topics: PharmacyGatewayTopics = {},
  ): DynamicModule {
    const fhirInbound: FhirInboundOptions = {
      sourceSystem: config.SOURCE_SYSTEM,
      topic: topics.fhirInbound ?? Topics.pharmacyFhirInbound,
      maxBodyBytes: config.FHIR_MAX_BODY_BYTES,
    };
    return {
      module: PharmacyGatewayModule,
      imports: ancillaryGatewayImports(
        config,
        logger,
        topics.hl7Inbound ?? Topics.pharmacyHl7Inbound,
      ),
      controllers: config.FHIR_INBOUND_ENABLED ? [MedicationDispenseController] : [],
      providers: [{ provide: FHIR_INBOUND_OPTIONS, useValue: fhirInbound }],
    };
  }
}

export type PharmacyGatewayHandle = AncillaryGatewayHandle<PharmacyGatewayConfig>;

export interface StartPharmacyGatewayOptions extends StartFromEnvOptions {
  topics?: PharmacyGatewayTopics;
}

export function startPharmacyGateway(
  env: Environment,
  options: StartPharmacyGatewayOptions = {},
): Promise<PharmacyGatewayHandle> {
  const { topics, ...start } = options;
  return startAncillaryGateway(
    pharmacyGatewayEnvSchema,
    env,
    (c, l) => PharmacyGatewayModule.forRoot(c, l, topics),
    // The FHIR endpoint reads its bodies itself: exact bytes, its own limit and answers.
    { ...start, bodyParser: false },
  );
}
