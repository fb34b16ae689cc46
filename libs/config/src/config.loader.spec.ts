import { z } from 'zod';
import {
  booleanFlag,
  ConfigError,
  databaseEnvSchema,
  kafkaEnvSchema,
  loadConfig,
  serviceEnvSchema,
} from './config.loader';
import { assertSupportedNode, UnsupportedRuntimeError } from './node-version';

describe('loadConfig', () => {
  const schema = serviceEnvSchema.extend(kafkaEnvSchema.shape).extend(databaseEnvSchema.shape);

  it('parses a complete environment into a typed object', () => {
    const config = loadConfig(schema, {
      SERVICE_NAME: 'normalizer',
      HTTP_PORT: '9100',
      KAFKA_BROKERS: '127.0.0.1:19092, 10.0.0.2:9092',
      SCHEMA_REGISTRY_URL: 'http://127.0.0.1:18081/apis/ccompat/v7',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/ancillary',
    });
    expect(config.HTTP_PORT).toBe(9100);
    expect(config.KAFKA_BROKERS).toEqual(['127.0.0.1:19092', '10.0.0.2:9092']);
    expect(config.LOG_LEVEL).toBe('info');
  });

  it('names every missing or malformed variable in one error', () => {
    let error: unknown;
    try {
      loadConfig(schema, { SERVICE_NAME: 'x', KAFKA_BROKERS: 'not-a-broker', HTTP_PORT: '99999' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('KAFKA_BROKERS: expected a comma-separated list of host:port');
    expect(message).toMatch(/SCHEMA_REGISTRY_URL: .*\(not set\)/);
    expect(message).toMatch(/DATABASE_URL: .*\(not set\)/);
    expect(message).toContain('HTTP_PORT');
    expect((error as ConfigError).problems).toHaveLength(4);
  });

  it('reads boolean flags literally', () => {
    const flags = z.object({ A: booleanFlag, B: booleanFlag });
    expect(loadConfig(flags, { A: 'false', B: '1' })).toEqual({ A: false, B: true });
    expect(() => loadConfig(flags, { A: 'maybe', B: 'true' })).toThrow(/A: /);
  });
});

describe('assertSupportedNode', () => {
  it('accepts the pinned LTS and refuses an older Node with a clear message', () => {
    expect(() => {
      assertSupportedNode('24.21.0');
    }).not.toThrow();
    expect(() => {
      assertSupportedNode('20.20.2');
    }).toThrow(UnsupportedRuntimeError);
    expect(() => {
      assertSupportedNode('20.20.2');
    }).toThrow(/Node.js 20.20.2 is not supported/);
  });

  it('is running on Node 24 or newer itself', () => {
    expect(() => {
      assertSupportedNode();
    }).not.toThrow();
  });
});
