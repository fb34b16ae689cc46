/**
 * OpenTelemetry for a service. startTracing() must run before any other module is imported
 * in main.ts (see apps' tracing.ts), so that instrumented libraries are patched on load and
 * every span, log line and Kafka header shares one context.
 */
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  BatchSpanProcessor,
  NoopSpanProcessor,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { trace, type Tracer } from '@opentelemetry/api';

export interface TracingOptions {
  serviceName: string;
  serviceVersion?: string;
  /** OTLP/HTTP traces endpoint; when absent spans are created (for log correlation and propagation) but not exported. */
  otlpTracesEndpoint?: string;
  /** Extra processors, e.g. a SimpleSpanProcessor over an InMemorySpanExporter in tests. */
  spanProcessors?: SpanProcessor[];
}

export interface TracingHandle {
  shutdown(): Promise<void>;
}

export function startTracing(options: TracingOptions): TracingHandle {
  const processors: SpanProcessor[] = [...(options.spanProcessors ?? [])];
  if (options.otlpTracesEndpoint) {
    processors.push(
      new BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url: options.otlpTracesEndpoint }),
      }),
    );
  }
  if (processors.length === 0) {
    // With no processor the SDK registers no tracer provider at all, and spans would have no ids.
    processors.push(new NoopSpanProcessor());
  }
  const sdk = new NodeSDK({
    serviceName: options.serviceName,
    spanProcessors: processors,
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();
  activeProcessors = processors;
  return {
    shutdown: () => {
      activeProcessors = [];
      return sdk.shutdown();
    },
  };
}

let activeProcessors: SpanProcessor[] = [];

/**
 * Exports the spans still buffered (BatchSpanProcessor waits up to 5 s): called at the end of a
 * service's graceful shutdown, so the spans of its last messages reach the collector.
 */
export async function flushTracing(): Promise<void> {
  await Promise.all(activeProcessors.map((p) => p.forceFlush()));
}

/** The tracer for one library or service area; spans are named after what they do. */
export function getTracer(name: string): Tracer {
  return trace.getTracer(name);
}
