import { billingSenderOptionsFrom } from '@ancillary/billing-sender';
import { ConfigError, loadConfig } from '@ancillary/config';
import { billingTriggerEnvSchema } from './billing-trigger';

const required = {
  KAFKA_BROKERS: '127.0.0.1:19092',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:18081/apis/ccompat/v7',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/ancillary',
};

describe('billingTriggerEnvSchema', () => {
  it('defaults to the billing-trigger service, its group, port 8086, UTC and the library CDM', () => {
    const config = loadConfig(billingTriggerEnvSchema, required);
    expect(config).toMatchObject({
      SERVICE_NAME: 'billing-trigger',
      HTTP_PORT: 8086,
      CONSUMER_GROUP: 'billing-trigger',
      TIME_ZONE: 'UTC',
      BILLING_ENABLED: true,
      BILLING_REVERSAL_STYLE: 'credit',
    });
    expect(config.CHARGE_MASTER_DIR).toBeUndefined();
    // The sender's group is derived from the service name, apart from the decisions' group.
    expect(billingSenderOptionsFrom(config).consumerGroupPrefix).toBe('billing-trigger');
  });

  it('takes the hospital zone and the receiver settings', () => {
    const config = loadConfig(billingTriggerEnvSchema, {
      ...required,
      TIME_ZONE: 'America/New_York',
      BILLING_REVERSAL_STYLE: 'negative-charge',
      BILLING_HL7_VERSION: '2.3',
      CHARGE_MASTER_DIR: '/etc/cdm',
    });
    expect(config).toMatchObject({
      TIME_ZONE: 'America/New_York',
      BILLING_REVERSAL_STYLE: 'negative-charge',
      BILLING_HL7_VERSION: '2.3',
      CHARGE_MASTER_DIR: '/etc/cdm',
    });
  });

  it('refuses an unknown time zone and a missing database, naming the variables', () => {
    const load = () =>
      loadConfig(billingTriggerEnvSchema, {
        KAFKA_BROKERS: required.KAFKA_BROKERS,
        SCHEMA_REGISTRY_URL: required.SCHEMA_REGISTRY_URL,
        TIME_ZONE: 'Mars/Olympus_Mons',
      });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/TIME_ZONE/);
    expect(load).toThrow(/DATABASE_URL/);
  });
});
