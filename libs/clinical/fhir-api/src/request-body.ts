/**
 * Request bodies and conditional headers of the write interactions, read by the API itself:
 * its own media types (application/fhir+json, application/json), its own size limit, and its
 * own OperationOutcome answers for a malformed body (400), an oversized one (413) or another
 * media type (415). Nothing of the body reaches a log: diagnostics give positions, not content.
 * https://hl7.org/fhir/R4/http.html#mime-type
 */
import type { IdentifierCriteria } from '@ancillary/fhir-store';
import type { Request } from 'express';
import { FhirHttpError } from './operation-outcome';

/** Default largest body accepted: orders and patients are a few kilobytes. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

const JSON_MEDIA_TYPES = new Set([
  'application/fhir+json',
  'application/json',
  'application/json+fhir',
]);

function mediaType(req: Request): { type: string; charset: string | undefined } | undefined {
  const header = req.get('content-type');
  if (!header) return undefined;
  const [type, ...params] = header.split(';').map((p) => p.trim().toLowerCase());
  const charset = params.find((p) => p.startsWith('charset='))?.slice('charset='.length);
  return { type: type ?? '', charset: charset?.replace(/^"|"$/g, '') };
}

function checkMediaType(req: Request): void {
  const media = mediaType(req);
  if (!media || !JSON_MEDIA_TYPES.has(media.type)) {
    throw FhirHttpError.of(
      415,
      'not-supported',
      `Content-Type ${media ? `'${media.type}' ` : ''}is not supported: send application/fhir+json (or application/json)`,
    );
  }
  if (media.charset !== undefined && media.charset !== 'utf-8' && media.charset !== 'utf8') {
    throw FhirHttpError.of(
      415,
      'not-supported',
      `charset '${media.charset}' is not supported: send UTF-8`,
    );
  }
}

function tooLarge(limit: number): FhirHttpError {
  return new FhirHttpError(
    413,
    [
      {
        severity: 'error',
        code: 'too-long',
        diagnostics: `the request body is larger than ${limit} bytes`,
      },
    ],
    { Connection: 'close' },
  );
}

function readRaw(req: Request, limit: number): Promise<Buffer> {
  const declared = Number(req.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    req.resume(); // discard what the client still sends; the answer is 413 anyway
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.resume();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(
        FhirHttpError.of(400, 'structure', `the request body could not be read: ${error.message}`),
      );
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/**
 * The JSON body of a create or update. A platform body parser that already read it (Nest's
 * default JSON parser, for application/json) is respected; the services that serve this API
 * turn it off so every media type gets the same limit and answers.
 */
export async function readJsonBody(req: Request, limit: number): Promise<unknown> {
  checkMediaType(req);
  const parsed: unknown = (req as { body?: unknown }).body;
  if (parsed !== undefined && req.readableEnded) return parsed;
  const raw = await readRaw(req, limit);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw FhirHttpError.of(400, 'structure', 'the request body is not valid UTF-8');
  }
  if (text.trim().length === 0) {
    throw FhirHttpError.of(400, 'structure', 'the request has no body: send the resource as JSON');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    // The parser's message quotes the body; only the position goes back (and into logs).
    const position = /position (\d+)/.exec(error instanceof Error ? error.message : '')?.[1];
    throw FhirHttpError.of(
      400,
      'structure',
      `the request body is not valid JSON${position !== undefined ? ` (at position ${position})` : ''}`,
    );
  }
}

/**
 * `If-None-Exist` of a conditional create (https://hl7.org/fhir/R4/http.html#ccreate). This
 * server supports the criterion EHRs use to make a create idempotent: one business identifier,
 * `identifier=<system>|<value>` (URL-encoded or not).
 */
export function parseIfNoneExist(header: string): IdentifierCriteria {
  const params = [...new URLSearchParams(header.trim().replace(/^\?/, '')).entries()];
  const refuse = (why: string): FhirHttpError =>
    new FhirHttpError(400, [
      {
        severity: 'error',
        code: 'not-supported',
        diagnostics: `If-None-Exist ${why}: this server supports identifier=<system>|<value>`,
        expression: ['If-None-Exist'],
      },
    ]);
  const [first, ...rest] = params;
  if (!first || rest.length > 0 || first[0] !== 'identifier') {
    throw refuse('must hold exactly one search parameter, identifier');
  }
  const value = first[1];
  const bar = value.indexOf('|');
  const system = bar > 0 ? value.slice(0, bar) : '';
  const code = bar > 0 ? value.slice(bar + 1) : '';
  if (system.length === 0 || code.length === 0 || code.includes('|')) {
    throw refuse('needs both an identifier system and a value');
  }
  return { system, value: code };
}

/** The version an `If-Match` ETag names (`W/"3"` or `"3"`), https://hl7.org/fhir/R4/http.html#concurrency */
export function parseIfMatch(header: string): number {
  const match = /^(?:W\/)?"([1-9]\d{0,8})"$/.exec(header.trim());
  if (!match?.[1]) {
    throw new FhirHttpError(400, [
      {
        severity: 'error',
        code: 'invalid',
        diagnostics: 'If-Match must be the ETag of a version, e.g. W/"3"',
        expression: ['If-Match'],
      },
    ]);
  }
  return Number(match[1]);
}
