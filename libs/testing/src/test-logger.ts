import { createLogger, type Logger } from '@ancillary/observability';
import { Writable } from 'node:stream';

export interface CapturedLogger {
  logger: Logger;
  /** Every line logged so far, parsed. */
  lines(): Record<string, unknown>[];
}

/** A real pino logger whose JSON lines are kept in memory, so tests can assert on logging. */
export function captureLogger(service = 'test', level = 'debug'): CapturedLogger {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'));
      callback();
    },
  });
  const logger = createLogger({ service, level, destination });
  return {
    logger,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
