import { ConfigError, loadConfig } from '@ancillary/config';
import { orderOutboundOptionsFrom } from '@ancillary/order-outbound';
import { pharmacyGatewayEnvSchema } from './pharmacy-gateway';

const required = {
  KAFKA_BROKERS: '127.0.0.1:19092',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:18081/apis/ccompat/v7',
};

describe('pharmacyGatewayEnvSchema', () => {
  it('defaults to the pharmacy connection of the local demo', () => {
    const config = loadConfig(pharmacyGatewayEnvSchema, required);
    expect(config).toMatchObject({
      SERVICE_NAME: 'pharmacy-gateway',
      HTTP_PORT: 8085,
      SOURCE_SYSTEM: 'pharmacy-main',
      MLLP_PORT: 2577,
      ACCEPTED_MESSAGE_TYPES: ['RDS^O13', 'RRE^O12', 'ORR^O02', 'ORM^O01'],
      FHIR_INBOUND_ENABLED: true,
      FHIR_MAX_BODY_BYTES: 262_144,
      ORDERS_ENABLED: true,
      ORDERS_TRANSPORT: 'mllp',
      ORDERS_MLLP_PORT: 2592,
      ORDERS_MESSAGE_FORMAT: 'RDE^O11',
      ORDERS_HL7_VERSION: '2.5.1',
      ORDERS_FACILITY: 'NWH-RX',
    });
    expect(orderOutboundOptionsFrom(config)).toMatchObject({
      destination: 'pharmacy-main',
      consumerGroupPrefix: 'pharmacy-gateway',
      facility: 'NWH-RX',
      transport: { kind: 'mllp', host: '127.0.0.1', port: 2592, format: 'RDE^O11' },
    });
  });

  it('sends FHIR MedicationRequests to the pharmacy platform when told to', () => {
    const config = loadConfig(pharmacyGatewayEnvSchema, { ...required, ORDERS_TRANSPORT: 'fhir' });
    expect(orderOutboundOptionsFrom(config).transport).toEqual({
      kind: 'fhir',
      baseUrl: 'http://127.0.0.1:8092/fhir',
      timeoutMs: 10_000,
    });
  });

  it('refuses settings it cannot honour, naming the variable', () => {
    const attempt = () =>
      loadConfig(pharmacyGatewayEnvSchema, {
        ...required,
        FHIR_MAX_BODY_BYTES: '5000000',
        ACCEPTED_MESSAGE_TYPES: 'RDS-O13',
      });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/FHIR_MAX_BODY_BYTES/);
    expect(attempt).toThrow(/ACCEPTED_MESSAGE_TYPES: expected a comma-separated list/);
  });
});
