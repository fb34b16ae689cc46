/**
 * Structured JSON logs (pino) that carry the active trace and span ids, so that a log line
 * leads to its trace. Logs never carry patient data: messages are logged by their control id,
 * topic, partition and offset, never by content, and the redaction list below is a second
 * line of defence for fields that must not appear even by mistake.
 */
import { trace } from '@opentelemetry/api';
import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

/** Field names that may hold PHI (message bodies, Kafka keys = patient identifiers, demographics). */
export const PHI_FIELDS = [
  'payload',
  'body',
  'value',
  'key',
  'patient',
  'name',
  'birthDate',
  'address',
  'telecom',
  'phone',
  'ssn',
  'identifier',
  'identifiers',
] as const;

const redactPaths = PHI_FIELDS.flatMap((f) => [f, `*.${f}`]);

export interface LoggerOptions {
  service: string;
  level?: string;
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: 'msg',
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: redactPaths, censor: '[redacted]' },
      mixin() {
        const span = trace.getActiveSpan();
        if (!span) return {};
        const { traceId, spanId } = span.spanContext();
        return { trace_id: traceId, span_id: spanId };
      },
    },
    options.destination ?? pino.destination({ sync: false }),
  );
}

/** Error details that are safe to log: class, message, code, retriability; never the cause's data. */
export function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    const withExtras = error as Error & { code?: unknown; retriable?: unknown };
    return {
      errorClass: error.name,
      errorMessage: error.message,
      ...(withExtras.code !== undefined ? { errorCode: withExtras.code } : {}),
      ...(typeof withExtras.retriable === 'boolean' ? { retriable: withExtras.retriable } : {}),
    };
  }
  return { errorClass: typeof error, errorMessage: String(error) };
}
