/**
 * Sends MedicationRequests to a FHIR pharmacy over REST, idempotently:
 * - a new order is a conditional create (`POST [base]/MedicationRequest` with
 *   `If-None-Exist: identifier=<placer system>|<placer number>`), so a resend after a lost
 *   response finds the first one instead of creating a second;
 * - a cancellation is a conditional update (`PUT [base]/MedicationRequest?identifier=…`) of the
 *   same order with `status: cancelled`.
 * The answer is classified like an HL7 ACK: 2xx accepted; 400/404/409/412/422 rejected with the
 * OperationOutcome's text; 408, 429, 5xx, network failures and timeouts transient. Any other
 * status (401, 403, 405, 415…) says our request or credentials are wrong, the same for every
 * order: transient, so orders wait for the configuration to be fixed instead of being revoked.
 * @see https://hl7.org/fhir/R4/http.html#ccreate conditional create
 * @see https://hl7.org/fhir/R4/http.html#cond-update conditional update
 */
import type { OrderEvent } from '@ancillary/contracts';
import type { FhirMedicationRequest } from './fhir-medication-request.mapper';
import { IDENTIFIER_TYPE_SYSTEM } from './fhir-medication-request.mapper';

export interface FhirOrderTransportOptions {
  /** The pharmacy's FHIR base URL, e.g. `http://127.0.0.1:8092/fhir`. */
  baseUrl: string;
  /** Upper bound for one request, response body included. */
  timeoutMs: number;
}

export interface FhirOrderOutcome {
  outcome: 'accepted' | 'rejected' | 'transient';
  /** HTTP status; null when no response arrived. */
  status: number | null;
  /** OperationOutcome text, or what went wrong; null for a plain success. */
  reason: string | null;
  /** The pharmacy's identifier of type FILL, else its resource id; null when unknown. */
  fillerOrderNumber: string | null;
}

const PERMANENT_STATUSES = new Set([400, 404, 409, 412, 422]);
const FHIR_JSON = 'application/fhir+json';

export class FhirOrderTransport {
  private readonly base: string;

  constructor(private readonly options: FhirOrderTransportOptions) {
    this.base = options.baseUrl.replace(/\/+$/, '');
  }

  /**
   * Sends one order and classifies the answer; never throws for what the pharmacy or the network
   * did (those are outcomes). `requestId` (our control id) goes out as `X-Request-Id`.
   */
  async send(
    order: OrderEvent,
    resource: FhirMedicationRequest,
    requestId?: string,
  ): Promise<FhirOrderOutcome> {
    const search = `identifier=${encodeURIComponent(order.placerSystem)}|${encodeURIComponent(order.placerOrderNumber)}`;
    const cancel = order.action === 'CANCEL';
    const url = cancel
      ? `${this.base}/MedicationRequest?${search}`
      : `${this.base}/MedicationRequest`;
    const headers: Record<string, string> = {
      'content-type': FHIR_JSON,
      accept: FHIR_JSON,
      ...(cancel ? {} : { 'if-none-exist': search }),
      ...(requestId ? { 'x-request-id': requestId } : {}),
    };
    let response: Response;
    let body: unknown;
    try {
      response = await fetch(url, {
        method: cancel ? 'PUT' : 'POST',
        headers,
        body: JSON.stringify(resource),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      const text = await response.text();
      body = parseJson(text);
    } catch (error) {
      // A DOMException (from AbortSignal.timeout), not necessarily an Error of this realm.
      const timedOut =
        typeof error === 'object' &&
        error !== null &&
        'name' in error &&
        error.name === 'TimeoutError';
      return {
        outcome: 'transient',
        status: null,
        reason: timedOut
          ? `no answer from ${this.base} within ${this.options.timeoutMs} ms`
          : `${this.base} unreachable: ${describe(error)}`,
        fillerOrderNumber: null,
      };
    }
    return classifyFhirResponse(response.status, body);
  }
}

/** Classifies a FHIR server's answer to an order (see the module comment). */
export function classifyFhirResponse(status: number, body: unknown): FhirOrderOutcome {
  if (status >= 200 && status < 300) {
    return { outcome: 'accepted', status, reason: null, fillerOrderNumber: fillerOf(body) };
  }
  const reason = operationOutcomeText(body) ?? `HTTP ${status}`;
  if (PERMANENT_STATUSES.has(status)) {
    return { outcome: 'rejected', status, reason, fillerOrderNumber: null };
  }
  return { outcome: 'transient', status, reason, fillerOrderNumber: null };
}

/** issue[].diagnostics, else issue[].details.text, each distinct text once. */
function operationOutcomeText(body: unknown): string | null {
  if (!isRecord(body) || body['resourceType'] !== 'OperationOutcome') return null;
  const issues = Array.isArray(body['issue']) ? (body['issue'] as unknown[]) : [];
  const texts = issues
    .filter(isRecord)
    .map((issue) => {
      const details = issue['details'];
      const diagnostics = issue['diagnostics'];
      if (typeof diagnostics === 'string' && diagnostics.trim()) return diagnostics.trim();
      if (isRecord(details) && typeof details['text'] === 'string') return details['text'].trim();
      return '';
    })
    .filter((t) => t !== '');
  return texts.length > 0 ? [...new Set(texts)].join('; ') : null;
}

/** The filler number the pharmacy gave: an identifier typed FILL, else the resource id. */
function fillerOf(body: unknown): string | null {
  if (!isRecord(body)) return null;
  const identifiers = Array.isArray(body['identifier']) ? (body['identifier'] as unknown[]) : [];
  for (const id of identifiers.filter(isRecord)) {
    const type = id['type'];
    const codings = isRecord(type) && Array.isArray(type['coding']) ? type['coding'] : [];
    const isFiller = (codings as unknown[]).some(
      (c) => isRecord(c) && c['code'] === 'FILL' && c['system'] === IDENTIFIER_TYPE_SYSTEM,
    );
    if (isFiller && typeof id['value'] === 'string' && id['value'] !== '') return id['value'];
  }
  return typeof body['id'] === 'string' && body['id'] !== '' ? body['id'] : null;
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}
