import { ConfigError, loadConfig } from '@ancillary/config';
import { z } from 'zod';
import {
  orderOutboundEnvSchema,
  orderOutboundEnvSchemaFor,
  orderOutboundOptionsFrom,
} from './order-outbound.config';

const identity = z.object({ SERVICE_NAME: z.string(), SOURCE_SYSTEM: z.string() });
const labSchema = identity.extend(
  orderOutboundEnvSchemaFor({ mllpPort: 2590, facility: 'NWH-LAB' }).shape,
);
const base = { SERVICE_NAME: 'lab-gateway', SOURCE_SYSTEM: 'lis-main' };

describe('orderOutboundEnvSchema / orderOutboundOptionsFrom', () => {
  it('gives a gateway its defaults: MLLP ORM^O01 v2.5.1, destination = SOURCE_SYSTEM, groups = SERVICE_NAME', () => {
    const config = loadConfig(labSchema, base);
    expect(config.ORDERS_ENABLED).toBe(true);
    expect(orderOutboundOptionsFrom(config)).toEqual({
      destination: 'lis-main',
      consumerGroupPrefix: 'lab-gateway',
      facility: 'NWH-LAB',
      sendingApplication: 'ANCILLARY-HUB',
      sendingFacility: 'NWH',
      transport: {
        kind: 'mllp',
        host: '127.0.0.1',
        port: 2590,
        format: 'ORM^O01',
        version: '2.5.1',
        ackTimeoutMs: 10_000,
        connectTimeoutMs: 5_000,
      },
      ackPolicy: { permanent: ['AR', 'CE', 'CR'], transient: ['AE'] },
      retry: { maxDelayMs: 30_000 },
    });
  });

  it('reads every variable', () => {
    const config = loadConfig(labSchema, {
      ...base,
      ORDERS_ENABLED: 'false',
      ORDER_DESTINATION: 'lis-east',
      ORDERS_MLLP_HOST: 'lis.example.internal',
      ORDERS_MLLP_PORT: '6000',
      ORDERS_MESSAGE_FORMAT: 'OML^O21',
      ORDERS_HL7_VERSION: '2.5',
      ORDERS_ACK_TIMEOUT_MS: '2500',
      ORDERS_SENDING_APPLICATION: 'HUB',
      ORDERS_SENDING_FACILITY: 'EAST',
      ORDERS_FACILITY: 'EAST-LAB',
      ORDERS_PERMANENT_ACK_CODES: 'ar, cr',
      ORDERS_CONSUMER_GROUP_PREFIX: 'lab-east',
      ORDERS_RETRY_MAX_DELAY_MS: '2000',
    });
    expect(config.ORDERS_ENABLED).toBe(false);
    expect(orderOutboundOptionsFrom(config)).toMatchObject({
      destination: 'lis-east',
      consumerGroupPrefix: 'lab-east',
      facility: 'EAST-LAB',
      sendingApplication: 'HUB',
      sendingFacility: 'EAST',
      transport: {
        host: 'lis.example.internal',
        port: 6000,
        format: 'OML^O21',
        version: '2.5',
        ackTimeoutMs: 2500,
      },
      ackPolicy: { permanent: ['AR', 'CR'], transient: ['AE', 'CE'] },
      retry: { maxDelayMs: 2000 },
    });
  });

  it('switches to the FHIR transport with its URL', () => {
    const schema = identity.extend(
      orderOutboundEnvSchemaFor({
        transport: 'fhir',
        facility: 'NWH-RX',
        fhirUrl: 'http://127.0.0.1:8092/fhir',
      }).shape,
    );
    expect(orderOutboundOptionsFrom(loadConfig(schema, base)).transport).toEqual({
      kind: 'fhir',
      baseUrl: 'http://127.0.0.1:8092/fhir',
      timeoutMs: 10_000,
    });
  });

  it('names what is missing or wrong', () => {
    const generic = identity.extend(orderOutboundEnvSchema.shape);
    expect(() => orderOutboundOptionsFrom(loadConfig(generic, base))).toThrow(ConfigError);
    expect(() => orderOutboundOptionsFrom(loadConfig(generic, base))).toThrow(
      /ORDERS_FACILITY: required[\s\S]*ORDERS_MLLP_PORT: required/,
    );
    expect(() =>
      orderOutboundOptionsFrom(
        loadConfig(generic, { ...base, ORDERS_FACILITY: 'NWH-RX', ORDERS_TRANSPORT: 'fhir' }),
      ),
    ).toThrow(/ORDERS_FHIR_URL: required/);
    expect(() =>
      orderOutboundOptionsFrom(
        loadConfig(labSchema, {
          ...base,
          ORDERS_MESSAGE_FORMAT: 'OML^O21',
          ORDERS_HL7_VERSION: '2.3',
        }),
      ),
    ).toThrow(/OML\^O21 needs 2\.5/);
    expect(() => loadConfig(labSchema, { ...base, ORDERS_PERMANENT_ACK_CODES: 'AA,AR' })).toThrow(
      /ORDERS_PERMANENT_ACK_CODES/,
    );
    expect(() => loadConfig(labSchema, { ...base, ORDERS_MESSAGE_FORMAT: 'ORU^R01' })).toThrow(
      /ORDERS_MESSAGE_FORMAT/,
    );
    expect(() => loadConfig(labSchema, { ...base, ORDERS_HL7_VERSION: '3.0' })).toThrow(
      /ORDERS_HL7_VERSION/,
    );
  });
});
