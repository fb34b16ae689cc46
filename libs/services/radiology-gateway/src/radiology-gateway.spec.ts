import { loadConfig } from '@ancillary/config';
import { orderOutboundOptionsFrom } from '@ancillary/order-outbound';
import { radiologyGatewayEnvSchema } from './radiology-gateway';

const required = {
  KAFKA_BROKERS: '127.0.0.1:19092',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:18081/apis/ccompat/v7',
};

describe('radiologyGatewayEnvSchema', () => {
  it('defaults to the RIS connection of the local demo', () => {
    const config = loadConfig(radiologyGatewayEnvSchema, required);
    expect(config).toMatchObject({
      SERVICE_NAME: 'radiology-gateway',
      HTTP_PORT: 8084,
      SOURCE_SYSTEM: 'ris-main',
      MLLP_HOST: '127.0.0.1',
      MLLP_PORT: 2576,
      ACCEPTED_MESSAGE_TYPES: ['ORU^R01', 'ORM^O01', 'ORR^O02'],
      TERMINOLOGY_WATCH: true,
    });
    expect(orderOutboundOptionsFrom(config)).toMatchObject({
      destination: 'ris-main',
      consumerGroupPrefix: 'radiology-gateway',
      facility: 'NWH-RAD',
      transport: { kind: 'mllp', port: 2591, format: 'ORM^O01', version: '2.3' },
    });
  });

  it('takes another connection from the environment', () => {
    const config = loadConfig(radiologyGatewayEnvSchema, {
      ...required,
      SOURCE_SYSTEM: 'ris-east',
      ACCEPTED_MESSAGE_TYPES: 'ORU^R01, ORR^O02',
      ORDER_DESTINATION: 'ris-east-orders',
      ORDERS_HL7_VERSION: '2.4',
    });
    expect(config.ACCEPTED_MESSAGE_TYPES).toEqual(['ORU^R01', 'ORR^O02']);
    expect(orderOutboundOptionsFrom(config)).toMatchObject({
      destination: 'ris-east-orders',
      transport: { version: '2.4' },
    });
  });
});
