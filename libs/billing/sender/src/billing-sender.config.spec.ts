import { billingSenderEnvSchema, billingSenderOptionsFrom } from './billing-sender.config';

const DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/ancillary';

describe('billingSenderEnvSchema', () => {
  it('defaults to the billing simulator, v2.5, credit reversals and AR/CE/CR permanent', () => {
    const env = billingSenderEnvSchema.parse({ DATABASE_URL });
    expect(env).toMatchObject({
      BILLING_ENABLED: true,
      BILLING_MLLP_HOST: '127.0.0.1',
      BILLING_MLLP_PORT: 2593,
      BILLING_HL7_VERSION: '2.5',
      BILLING_REVERSAL_STYLE: 'credit',
      BILLING_PERMANENT_ACK_CODES: ['AR', 'CE', 'CR'],
      BILLING_RECEIVING_APPLICATION: 'SIMBILL',
      BILLING_RECEIVING_FACILITY: 'NWH-BILL',
    });
    const options = billingSenderOptionsFrom({ ...env, SERVICE_NAME: 'billing-trigger' });
    expect(options).toMatchObject({
      enabled: true,
      consumerGroupPrefix: 'billing-trigger',
      port: 2593,
      version: '2.5',
      reversalStyle: 'credit',
      databaseUrl: DATABASE_URL,
      ackPolicy: { permanent: ['AR', 'CE', 'CR'], transient: ['AE'] },
      retry: { maxDelayMs: 30_000 },
    });
  });

  it('reads a receiver that wants negative charges, v2.3, and only AR as final', () => {
    const env = billingSenderEnvSchema.parse({
      DATABASE_URL,
      BILLING_ENABLED: 'false',
      BILLING_MLLP_PORT: '6000',
      BILLING_HL7_VERSION: '2.3',
      BILLING_REVERSAL_STYLE: 'negative-charge',
      BILLING_PERMANENT_ACK_CODES: ' ar ,',
      BILLING_CONSUMER_GROUP_PREFIX: 'bt-east',
      BILLING_RETRY_MAX_DELAY_MS: '2000',
    });
    const options = billingSenderOptionsFrom({ ...env, SERVICE_NAME: 'billing-trigger' });
    expect(options).toMatchObject({
      enabled: false,
      consumerGroupPrefix: 'bt-east',
      port: 6000,
      version: '2.3',
      reversalStyle: 'negative-charge',
      ackPolicy: { permanent: ['AR'], transient: ['AE', 'CE', 'CR'] },
      retry: { maxDelayMs: 2_000 },
    });
  });

  it.each([
    ['BILLING_HL7_VERSION', '2.7'],
    ['BILLING_REVERSAL_STYLE', 'refund'],
    ['BILLING_PERMANENT_ACK_CODES', 'AR,AA'],
    ['BILLING_MLLP_PORT', '70000'],
    ['DATABASE_URL', 'mysql://x'],
  ])('refuses %s=%s, naming the variable', (name, value) => {
    const result = billingSenderEnvSchema.safeParse({ DATABASE_URL, [name]: value });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toContain(name);
  });

  it('requires DATABASE_URL', () => {
    const result = billingSenderEnvSchema.safeParse({});
    expect(result.error?.issues.map((i) => i.path.join('.'))).toEqual(['DATABASE_URL']);
  });
});
