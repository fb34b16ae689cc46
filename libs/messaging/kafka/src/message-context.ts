/**
 * The context a record carries from the first receipt to the last write: trace, correlation
 * id, HL7 message control id and source system (ARCHITECTURE.md, "Headers"). buildHeaders()
 * is the one function that writes them; readContext() the one that reads them back.
 */
import {
  context,
  propagation,
  type Context,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';
import { MessageHeaders } from '@ancillary/contracts';
import { randomUUID } from 'node:crypto';

export interface MessageContext {
  correlationId: string;
  /** MSH-10 of the HL7 message this record descends from, when there is one. */
  messageControlId?: string;
  /** The ancillary connection the original message came from. */
  sourceSystem?: string;
}

/** Kafka headers as kafkajs hands them over: values may be buffers, strings, arrays or absent. */
export type RawHeaders = Record<string, Buffer | string | (Buffer | string)[] | undefined>;

export type StringHeaders = Record<string, string>;

const setter: TextMapSetter<StringHeaders> = {
  set(carrier, key, value) {
    carrier[key] = value;
  },
};

const getter: TextMapGetter<StringHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

export function newMessageContext(partial: Partial<MessageContext> = {}): MessageContext {
  return { correlationId: partial.correlationId ?? randomUUID(), ...stripUndefined(partial) };
}

/**
 * Headers for an outgoing record: the message context, the producing service, and the W3C
 * trace context of `ctx` (the active context by default) so the consumer continues the trace.
 */
export function buildHeaders(
  messageContext: MessageContext,
  producer: string,
  ctx: Context = context.active(),
): StringHeaders {
  const headers: StringHeaders = {
    [MessageHeaders.correlationId]: messageContext.correlationId,
    [MessageHeaders.producer]: producer,
  };
  if (messageContext.messageControlId !== undefined) {
    headers[MessageHeaders.messageControlId] = messageContext.messageControlId;
  }
  if (messageContext.sourceSystem !== undefined) {
    headers[MessageHeaders.sourceSystem] = messageContext.sourceSystem;
  }
  propagation.inject(ctx, headers, setter);
  return headers;
}

/** Normalises kafkajs headers to strings (the first value of a repeated header wins). */
export function headersToStrings(raw: RawHeaders | undefined): StringHeaders {
  const out: StringHeaders = {};
  for (const [key, value] of Object.entries(raw ?? {})) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[key] = first.toString();
  }
  return out;
}

/** The message context of an incoming record; a record without a correlation id gets a new one. */
export function readContext(headers: StringHeaders): MessageContext {
  return newMessageContext({
    ...(headers[MessageHeaders.correlationId]
      ? { correlationId: headers[MessageHeaders.correlationId] }
      : {}),
    ...(headers[MessageHeaders.messageControlId]
      ? { messageControlId: headers[MessageHeaders.messageControlId] }
      : {}),
    ...(headers[MessageHeaders.sourceSystem]
      ? { sourceSystem: headers[MessageHeaders.sourceSystem] }
      : {}),
  });
}

/** The trace context the producer of a record injected into its headers. */
export function extractTraceContext(headers: StringHeaders): Context {
  return propagation.extract(context.active(), headers, getter);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
