/**
 * The EHR side of the order loop, as a client of the platform's FHIR API: registers synthetic
 * patients, places laboratory and imaging ServiceRequests and MedicationRequests, cancels them,
 * and tells what became of each order (completed with its result, rejected, cancelled, pending)
 * and how long it took from authoredOn to the result being readable in the chart.
 *
 * Used by the demo (tools/demo/orders.ts), the end-to-end suites and the benchmarks, so that all
 * three place orders the way an EHR would: POST with `If-None-Exist` on the placer number, so a
 * retried POST never places the order twice.
 */
import type { OrderingProvider, SyntheticPatient } from './synthetic-patients';

export const LOINC = 'http://loinc.org';
export const CPT = 'http://www.ama-assn.org/go/cpt';
export const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
export const ICD10CM = 'http://hl7.org/fhir/sid/icd-10-cm';
export const DEFAULT_PLACER_SYSTEM = 'urn:ancillary:placer-order';
/** The EHR's visit (encounter) numbers. */
export const VISIT_SYSTEM = 'urn:ancillary:visit';
const SNOMED = 'http://snomed.info/sct';

export type OrderPriority = 'routine' | 'urgent' | 'asap' | 'stat';
export type OrderKind = 'lab' | 'imaging' | 'pharmacy';

export interface EhrOrderClientOptions {
  /** The FHIR API, e.g. http://127.0.0.1:8083/fhir */
  baseUrl: string;
  /** Identifier system of placer order numbers (the ehr-writer's PLACER_ORDER_SYSTEM). */
  placerSystem?: string;
  timeoutMs?: number;
}

export interface Coded {
  code: string;
  display?: string;
}

interface CommonOrder {
  patientId: string;
  placerOrderNumber: string;
  priority?: OrderPriority;
  requester?: OrderingProvider;
  reasons?: Coded[];
  notes?: string[];
  /**
   * The visit the order belongs to (ServiceRequest/MedicationRequest.encounter, by identifier):
   * it travels as PV1-19 and PID-18, and billing posts the charge to it.
   */
  encounter?: string;
}

export interface LabOrder extends CommonOrder {
  /** LOINC code of the test or panel. */
  test: Coded;
  /** HL7 table 0487 specimen type, e.g. SER. */
  specimenType?: string;
}

export interface ImagingOrder extends CommonOrder {
  /** CPT code of the procedure. */
  procedure: Coded;
}

export interface MedicationOrder extends CommonOrder {
  /** RxNorm code of the medication. */
  medication: Coded;
  dose?: { value: number; unit: string };
  /** SNOMED route code and display, e.g. 26643006 Oral route. */
  route?: Coded;
  /** Timing code, e.g. BID. */
  frequency?: string;
  quantity?: { value: number; unit: string };
  daysSupply?: number;
  instructions?: string;
}

export interface PlacedOrder {
  kind: OrderKind;
  resourceType: 'ServiceRequest' | 'MedicationRequest';
  id: string;
  placerOrderNumber: string;
  priority: OrderPriority;
  /** Epoch ms of authoredOn. */
  authoredAt: number;
  /** 201 created, 200 an existing order with this placer number was returned. */
  httpStatus: number;
}

export type OrderState = 'pending' | 'accepted' | 'completed' | 'rejected' | 'cancelled';

export interface OrderOutcome {
  state: OrderState;
  /** The order's status in the chart. */
  status: string;
  /** The DiagnosticReport or MedicationDispense that fulfilled it. */
  resultReference?: string;
  /** Epoch ms when the result was first readable (its version 1's lastUpdated). */
  resultAt?: number;
  /** The rejection reason the chart shows. */
  rejection?: string;
}

type Json = Record<string, unknown>;

export class FhirRequestError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    message: string,
  ) {
    super(message);
    this.name = 'FhirRequestError';
  }
}

const REJECTION_EXTENSION =
  'http://ancillary-hub.example.org/fhir/StructureDefinition/order-rejection';

export class EhrOrderClient {
  private readonly baseUrl: string;
  private readonly placerSystem: string;
  private readonly timeoutMs: number;

  constructor(options: EhrOrderClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/$/, '');
    this.placerSystem = options.placerSystem ?? DEFAULT_PLACER_SYSTEM;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** The chart's Patient for a synthetic patient, created once (conditional create on the MRN). */
  async ensurePatient(patient: SyntheticPatient): Promise<string> {
    const body = {
      resourceType: 'Patient',
      identifier: [
        {
          system: patient.assigningAuthority,
          value: patient.mrn,
          type: {
            coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }],
          },
        },
      ],
      name: [
        {
          family: patient.familyName,
          given: [patient.givenName, ...(patient.middleName ? [patient.middleName] : [])],
        },
      ],
      gender: { F: 'female', M: 'male', U: 'unknown' }[patient.sex],
      birthDate: `${patient.birthDate.slice(0, 4)}-${patient.birthDate.slice(4, 6)}-${patient.birthDate.slice(6, 8)}`,
    };
    const { json } = await this.send('POST', 'Patient', body, {
      'If-None-Exist': `identifier=${patient.assigningAuthority}|${patient.mrn}`,
    });
    return String(json['id']);
  }

  placeLabOrder(order: LabOrder): Promise<PlacedOrder> {
    return this.placeServiceRequest('lab', order, {
      category: [
        { coding: [{ system: SNOMED, code: '108252007', display: 'Laboratory procedure' }] },
      ],
      code: { coding: [{ system: LOINC, ...order.test }] },
      ...(order.specimenType
        ? {
            orderDetail: [
              {
                coding: [
                  {
                    system: 'http://terminology.hl7.org/CodeSystem/v2-0487',
                    code: order.specimenType,
                  },
                ],
              },
            ],
          }
        : {}),
    });
  }

  placeImagingOrder(order: ImagingOrder): Promise<PlacedOrder> {
    return this.placeServiceRequest('imaging', order, {
      category: [{ coding: [{ system: SNOMED, code: '363679005', display: 'Imaging' }] }],
      code: { coding: [{ system: CPT, ...order.procedure }] },
    });
  }

  async placeMedicationOrder(order: MedicationOrder): Promise<PlacedOrder> {
    const body: Json = {
      resourceType: 'MedicationRequest',
      ...this.common(order),
      medicationCodeableConcept: { coding: [{ system: RXNORM, ...order.medication }] },
      dosageInstruction: [
        {
          ...(order.instructions ? { text: order.instructions } : {}),
          ...(order.frequency
            ? { timing: { code: { text: order.frequency, coding: [{ code: order.frequency }] } } }
            : {}),
          ...(order.route ? { route: { coding: [{ system: SNOMED, ...order.route }] } } : {}),
          ...(order.dose
            ? {
                doseAndRate: [
                  {
                    doseQuantity: {
                      value: order.dose.value,
                      unit: order.dose.unit,
                      system: 'http://unitsofmeasure.org',
                      code: order.dose.unit,
                    },
                  },
                ],
              }
            : {}),
        },
      ],
      dispenseRequest: {
        ...(order.quantity
          ? { quantity: { value: order.quantity.value, unit: order.quantity.unit } }
          : {}),
        ...(order.daysSupply !== undefined
          ? {
              expectedSupplyDuration: {
                value: order.daysSupply,
                unit: 'days',
                system: 'http://unitsofmeasure.org',
                code: 'd',
              },
            }
          : {}),
      },
    };
    return this.place('pharmacy', 'MedicationRequest', order, body);
  }

  /** Cancels a placed order (ServiceRequest → revoked, MedicationRequest → cancelled). */
  async cancel(order: Pick<PlacedOrder, 'resourceType' | 'id'>): Promise<Json> {
    const current = await this.read(order.resourceType, order.id);
    const { meta: _meta, ...content } = current;
    const status = order.resourceType === 'ServiceRequest' ? 'revoked' : 'cancelled';
    const { json } = await this.send('PUT', `${order.resourceType}/${order.id}`, {
      ...content,
      status,
    });
    return json;
  }

  async read(type: string, id: string): Promise<Json> {
    const { json } = await this.send('GET', `${type}/${id}`);
    return json;
  }

  /** Resources of a search's first page (no paging: callers ask for small sets). */
  async search(type: string, query: string): Promise<Json[]> {
    const { json } = await this.send('GET', `${type}?${query}`);
    const entries = Array.isArray(json['entry']) ? (json['entry'] as Json[]) : [];
    return entries.map((e) => e['resource'] as Json).filter((r) => r['resourceType'] === type);
  }

  /**
   * What became of an order: completed (with the result that completed it and when it was first
   * readable), rejected (with the reason the chart shows), cancelled, accepted or still pending.
   */
  async outcome(order: PlacedOrder): Promise<OrderOutcome> {
    const resource = await this.read(order.resourceType, order.id);
    const status = String(resource['status']);
    const rejection = rejectionOf(resource);
    if (rejection !== undefined) return { state: 'rejected', status, rejection };
    if (status === 'revoked' || status === 'cancelled') return { state: 'cancelled', status };
    const result =
      order.resourceType === 'ServiceRequest'
        ? await this.search('DiagnosticReport', `based-on=ServiceRequest/${order.id}&_count=5`)
        : await this.search(
            'MedicationDispense',
            `prescription=MedicationRequest/${order.id}&_count=5`,
          );
    const first = result[0];
    const done =
      order.resourceType === 'ServiceRequest' ? status === 'completed' : first !== undefined;
    if (done && first) {
      const id = String(first['id']);
      const type = String(first['resourceType']);
      const v1 = await this.send('GET', `${type}/${id}/_history/1`).catch(() => undefined);
      const meta = (v1?.json['meta'] ?? first['meta']) as { lastUpdated?: string } | undefined;
      return {
        state: 'completed',
        status,
        resultReference: `${type}/${id}`,
        ...(meta?.lastUpdated ? { resultAt: Date.parse(meta.lastUpdated) } : {}),
      };
    }
    const accepted = Array.isArray(resource['identifier'])
      ? (resource['identifier'] as Json[]).some((i) => {
          const type = i['type'] as { coding?: { code?: string }[] } | undefined;
          return type?.coding?.some((c) => c.code === 'FILL') ?? false;
        })
      : false;
    return { state: accepted ? 'accepted' : 'pending', status };
  }

  private common(order: CommonOrder): Json {
    return {
      identifier: [
        {
          system: this.placerSystem,
          value: order.placerOrderNumber,
          type: {
            coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'PLAC' }],
          },
        },
      ],
      status: 'active',
      intent: 'order',
      priority: order.priority ?? 'routine',
      subject: { reference: `Patient/${order.patientId}` },
      ...(order.encounter
        ? { encounter: { identifier: { system: VISIT_SYSTEM, value: order.encounter } } }
        : {}),
      authoredOn: new Date().toISOString(),
      ...(order.requester
        ? {
            requester: {
              identifier: { system: 'http://hl7.org/fhir/sid/us-npi', value: order.requester.id },
              display: `${order.requester.givenName} ${order.requester.familyName}`,
            },
          }
        : {}),
      ...(order.reasons && order.reasons.length > 0
        ? { reasonCode: order.reasons.map((r) => ({ coding: [{ system: ICD10CM, ...r }] })) }
        : {}),
      ...(order.notes && order.notes.length > 0
        ? { note: order.notes.map((text) => ({ text })) }
        : {}),
    };
  }

  private placeServiceRequest(
    kind: OrderKind,
    order: CommonOrder,
    fields: Json,
  ): Promise<PlacedOrder> {
    return this.place(kind, 'ServiceRequest', order, {
      resourceType: 'ServiceRequest',
      ...this.common(order),
      ...fields,
    });
  }

  private async place(
    kind: OrderKind,
    resourceType: PlacedOrder['resourceType'],
    order: CommonOrder,
    body: Json,
  ): Promise<PlacedOrder> {
    const { status, json } = await this.send('POST', resourceType, body, {
      'If-None-Exist': `identifier=${this.placerSystem}|${order.placerOrderNumber}`,
    });
    return {
      kind,
      resourceType,
      id: String(json['id']),
      placerOrderNumber: order.placerOrderNumber,
      priority: order.priority ?? 'routine',
      authoredAt: Date.parse(String(json['authoredOn'] ?? body['authoredOn'])),
      httpStatus: status,
    };
  }

  private async send(
    method: string,
    path: string,
    body?: Json,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; json: Json }> {
    const response = await fetch(`${this.baseUrl}/${path}`, {
      method,
      headers: {
        accept: 'application/fhir+json',
        ...(body ? { 'content-type': 'application/fhir+json' } : {}),
        ...headers,
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await response.text();
    let json: Json;
    try {
      json = text ? (JSON.parse(text) as Json) : {};
    } catch {
      json = { text };
    }
    if (!response.ok) {
      throw new FhirRequestError(
        response.status,
        json,
        `${method} ${path}: HTTP ${response.status} ${issueText(json)}`,
      );
    }
    return { status: response.status, json };
  }
}

/** The diagnostics of an OperationOutcome, for error messages. */
function issueText(json: Json): string {
  const issues = Array.isArray(json['issue']) ? (json['issue'] as Json[]) : [];
  return issues
    .map((i) => textOf(i['diagnostics']) ?? textOf((i['details'] as Json | undefined)?.['text']))
    .filter((t): t is string => t !== undefined && t !== '')
    .join('; ');
}

function rejectionOf(resource: Json): string | undefined {
  const extensions = Array.isArray(resource['extension']) ? (resource['extension'] as Json[]) : [];
  const found = extensions.find((e) => e['url'] === REJECTION_EXTENSION);
  return found ? (textOf(found['valueString']) ?? '') : undefined;
}

function textOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
