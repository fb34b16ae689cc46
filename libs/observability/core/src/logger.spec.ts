import { context, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { Writable } from 'node:stream';
import { createLogger, describeError } from './logger';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  return { lines, logger: createLogger({ service: 'svc', level: 'debug', destination }) };
}

describe('createLogger', () => {
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  });
  afterAll(() => {
    context.disable();
  });

  it('writes JSON lines with the service, level label and ISO time', () => {
    const { lines, logger } = capture();
    logger.info({ topic: 'lab.hl7-inbound.v1' }, 'stored');
    expect(lines[0]).toMatchObject({
      service: 'svc',
      level: 'info',
      msg: 'stored',
      topic: 'lab.hl7-inbound.v1',
    });
    expect(String(lines[0]!['time'])).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  });

  it('adds the active trace and span ids, so a log line leads to its trace', () => {
    const { lines, logger } = capture();
    const spanContext = {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.SAMPLED,
    };
    context.with(trace.setSpanContext(context.active(), spanContext), () => {
      logger.warn('inside a span');
    });
    logger.warn('outside');
    expect(lines[0]).toMatchObject({ trace_id: spanContext.traceId, span_id: spanContext.spanId });
    expect(lines[1]).not.toHaveProperty('trace_id');
  });

  it('redacts fields that may hold patient data, at the top level and one level down', () => {
    const { lines, logger } = capture();
    logger.error(
      {
        key: 'MRN-12345',
        payload: 'MSH|^~\\&|…PID|||12345||DOE^JANE',
        record: { patient: { name: 'DOE^JANE' } },
        offset: '42',
      },
      'failed',
    );
    const line = JSON.stringify(lines[0]);
    expect(line).not.toContain('MRN-12345');
    expect(line).not.toContain('DOE^JANE');
    expect(lines[0]).toMatchObject({ key: '[redacted]', payload: '[redacted]', offset: '42' });
  });
});

describe('describeError', () => {
  it('keeps class, message, code and retriability, nothing else', () => {
    const error = Object.assign(new Error('broker unavailable'), {
      code: 'X',
      retriable: true,
      data: 'PHI',
    });
    expect(describeError(error)).toEqual({
      errorClass: 'Error',
      errorMessage: 'broker unavailable',
      errorCode: 'X',
      retriable: true,
    });
  });
});
