/**
 * Completed clinical work, normalised: the one shape the charge decision reads, whatever
 * completion topic it came from (docs/adr/0004-billing-trigger.md, "Input").
 *
 * | kind     | billable when                                     | date of service              | triggers (first priced wins) | quantity      |
 * | -------- | ------------------------------------------------- | ---------------------------- | ---------------------------- | ------------- |
 * | LAB      | FINAL or CORRECTED (OBR-25 F/C) and a filler no.  | effectiveAt (OBR-7) else issuedAt (OBR-22) | LOINC of the order, then its LOCAL code | 1 |
 * | IMAGING  | FINAL or CORRECTED and a filler no. or accession  | effectiveAt (OBR-7) else issuedAt | CPT of the procedure      | 1             |
 * | PHARMACY | COMPLETED (a dispense handed over)                | dispensedAt (RXD-3)          | NDC, then RxNorm             | quantityValue |
 *
 * Preliminary, partial, cancelled and unknown results, and in-progress dispenses, are not
 * billable: the charge waits for the final result (HL7 v2.5 table 0123: F final, C corrected;
 * FHIR MedicationDispense.status `completed`). A cancelled or entered-in-error dispense is not
 * work but a reversal: see {@link dispenseReversal}.
 */
import type {
  ChargeEvent,
  ImagingReport,
  LabResult,
  MedicationDispensed,
} from '@ancillary/contracts';
import type { ChargeTrigger } from '@ancillary/charge-master';
import { LOINC_SYSTEM, NDC_SYSTEM, RXNORM_SYSTEM } from '@ancillary/terminology';

export type ChargeSourceKind = ChargeEvent['sourceKind'];
export type BillingPatient = ChargeEvent['patient'];
export type BillingProvider = NonNullable<ChargeEvent['orderingProvider']>;

/** What the charge decision needs of one completed item. */
export interface BillableWork {
  readonly kind: ChargeSourceKind;
  /** eventId of the completion (LabResult, ImagingReport, MedicationDispensed). */
  readonly sourceEventId: string;
  readonly patient: BillingPatient;
  /** PID-18, from the completion's `visit`. */
  readonly accountNumber: string | null;
  /** PV1-19. */
  readonly visitNumber: string | null;
  /** PV1-2, table 0004. */
  readonly patientClass: string | null;
  readonly placerOrderNumber: string | null;
  /** FT1-23; for imaging the accession number when OBR-3 is empty. */
  readonly fillerOrderNumber: string | null;
  /** The pharmacy's dispense id (pharmacy only): the charge key of a dispense. */
  readonly dispenseId: string | null;
  /** Epoch milliseconds: FT1-4. */
  readonly dateOfService: number;
  /** Charge-master triggers, most specific first (ChargeMaster.chargeForAny). */
  readonly triggers: readonly ChargeTrigger[];
  /** In the trigger's unit (1 for a panel or study, the dispensed quantity for a drug). */
  readonly quantity: number;
  /** FT1-29, 11 digits 5-4-2 as the completion carried it (pharmacy only). */
  readonly ndc: string | null;
  /** FT1-20: the interpreting radiologist, the dispensing pharmacist; null for lab. */
  readonly performingProvider: BillingProvider | null;
  /** FT1-21 as the completion knows it (a lab's ORC-12/OBR-16); the order context overrides it. */
  readonly orderingProvider: BillingProvider | null;
  /** The completion's status, for logs (FINAL, CORRECTED, COMPLETED). */
  readonly status: string;
}

/**
 * A completion with a billable status that cannot be charged as sent (no date of service):
 * permanent, so the event is dead-lettered with this reason rather than skipped.
 */
export class UnbillableWorkError extends Error {
  readonly retriable = false;
  constructor(
    readonly sourceEventId: string,
    reason: string,
  ) {
    super(`completed work ${sourceEventId} cannot be charged: ${reason}`);
    this.name = 'UnbillableWorkError';
  }
}

const BILLABLE_RESULT_STATUSES: ReadonlySet<string> = new Set(['FINAL', 'CORRECTED']);

export function billableWork(event: LabResult, kind: 'LAB'): BillableWork | undefined;
export function billableWork(event: ImagingReport, kind: 'IMAGING'): BillableWork | undefined;
export function billableWork(
  event: MedicationDispensed,
  kind: 'PHARMACY',
): BillableWork | undefined;
/**
 * The billable work of a completion; undefined when the completion is not (yet) billable, and
 * the caller skips it. @throws UnbillableWorkError when it is billable but has no date of service.
 */
export function billableWork(
  event: LabResult | ImagingReport | MedicationDispensed,
  kind: ChargeSourceKind,
): BillableWork | undefined {
  switch (kind) {
    case 'LAB':
      return labWork(event as LabResult);
    case 'IMAGING':
      return imagingWork(event as ImagingReport);
    case 'PHARMACY':
      return dispenseWork(event as MedicationDispensed);
  }
}

function labWork(result: LabResult): BillableWork | undefined {
  const filler = blankToNull(result.order.fillerOrderNumber);
  // Without the filler order number there is no charge key: a result the lab has not
  // accessioned is not completed work of that lab (and FT1-23 would be empty).
  if (!BILLABLE_RESULT_STATUSES.has(result.status) || filler === null) return undefined;
  const triggers: ChargeTrigger[] = [];
  const { code, localCode } = result.order;
  if (code.system === LOINC_SYSTEM && code.code !== '') {
    triggers.push({ kind: 'lab', system: 'LOINC', code: code.code });
  }
  if (localCode && localCode.code !== '') {
    triggers.push({ kind: 'lab', system: 'LOCAL', code: localCode.code });
  }
  if (triggers.length === 0) {
    // Still priced (and refused) by the charge master, so the dead letter names the code.
    triggers.push({ kind: 'lab', system: 'LOCAL', code: code.code });
  }
  return {
    kind: 'LAB',
    sourceEventId: result.eventId,
    patient: result.patient,
    ...visitOf(result),
    placerOrderNumber: blankToNull(result.order.placerOrderNumber),
    fillerOrderNumber: filler,
    dispenseId: null,
    dateOfService: dateOfService(result.eventId, result.effectiveAt, result.issuedAt),
    triggers,
    quantity: 1,
    ndc: null,
    performingProvider: null,
    orderingProvider: providerFromName(result.order.orderingProvider),
    status: result.status,
  };
}

function imagingWork(report: ImagingReport): BillableWork | undefined {
  const filler = blankToNull(report.fillerOrderNumber) ?? blankToNull(report.accessionNumber);
  if (!BILLABLE_RESULT_STATUSES.has(report.status) || filler === null) return undefined;
  // Imaging is charged by CPT only (the charge master's imaging rows are CPT-triggered). A
  // procedure the terminology did not map to CPT still goes to the charge master, which refuses
  // it naming the code, so the dead letter says what to map.
  const triggers: ChargeTrigger[] = [
    { kind: 'imaging', system: 'CPT', code: report.procedure.code },
  ];
  return {
    kind: 'IMAGING',
    sourceEventId: report.eventId,
    patient: report.patient,
    ...visitOf(report),
    placerOrderNumber: blankToNull(report.placerOrderNumber),
    fillerOrderNumber: filler,
    dispenseId: null,
    dateOfService: dateOfService(report.eventId, report.effectiveAt, report.issuedAt),
    triggers,
    quantity: 1,
    ndc: null,
    performingProvider: providerFromName(report.interpreter),
    orderingProvider: null,
    status: report.status,
  };
}

function dispenseWork(dispense: MedicationDispensed): BillableWork | undefined {
  if (dispense.status !== 'COMPLETED') return undefined;
  const triggers: ChargeTrigger[] = [];
  if (dispense.ndc.code !== '' && (dispense.ndc.system ?? NDC_SYSTEM) === NDC_SYSTEM) {
    triggers.push({ kind: 'pharmacy', system: 'NDC', code: dispense.ndc.code });
  }
  if (dispense.rxnorm && dispense.rxnorm.code !== '') {
    const system = dispense.rxnorm.system ?? RXNORM_SYSTEM;
    if (system === RXNORM_SYSTEM) {
      triggers.push({ kind: 'pharmacy', system: 'RXNORM', code: dispense.rxnorm.code });
    }
  }
  if (triggers.length === 0) {
    triggers.push({ kind: 'pharmacy', system: 'NDC', code: dispense.ndc.code });
  }
  return {
    kind: 'PHARMACY',
    sourceEventId: dispense.eventId,
    patient: dispense.patient,
    ...visitOf(dispense),
    placerOrderNumber: blankToNull(dispense.placerOrderNumber),
    fillerOrderNumber: blankToNull(dispense.fillerOrderNumber),
    dispenseId: dispense.dispenseId,
    dateOfService: dispense.dispensedAt,
    triggers,
    quantity: dispense.quantityValue,
    ndc: blankToNull(dispense.ndc.code),
    performingProvider: providerFromName(dispense.dispenser),
    orderingProvider: null,
    status: dispense.status,
  };
}

/** Why a dispense event takes back an earlier dispense, or undefined when it does not. */
export type DispenseReversalReason = 'dispense-cancelled' | 'dispense-entered-in-error';

/**
 * A dispense reported again as CANCELLED (a return: RDS ORC-5 CA/DC, FHIR `cancelled`/`stopped`/
 * `declined`) or ENTERED_IN_ERROR takes back the dispense of the same id: reverse its charge.
 */
export function dispenseReversal(
  dispense: MedicationDispensed,
): { chargeKey: string; reason: DispenseReversalReason } | undefined {
  switch (dispense.status) {
    case 'CANCELLED':
      return { chargeKey: dispenseChargeKey(dispense.dispenseId), reason: 'dispense-cancelled' };
    case 'ENTERED_IN_ERROR':
      return {
        chargeKey: dispenseChargeKey(dispense.dispenseId),
        reason: 'dispense-entered-in-error',
      };
    case 'COMPLETED':
    case 'IN_PROGRESS':
    case 'UNKNOWN':
      return undefined;
  }
}

/** The charge key of a dispense: its id is stable across resends (MedicationDispensed doc). */
export function dispenseChargeKey(dispenseId: string): string {
  return `dispense:${dispenseId}`;
}

function dateOfService(eventId: string, effectiveAt: number | null, issuedAt: number | null) {
  const at = effectiveAt ?? issuedAt;
  // Not receivedAt: a resend is received later, so its key would differ and charge twice.
  if (at === null)
    throw new UnbillableWorkError(eventId, 'no date of service (OBR-7 and OBR-22 empty)');
  return at;
}

interface VisitFields {
  accountNumber: string | null;
  visitNumber: string | null;
  patientClass: string | null;
}

/**
 * The completion's `visit` (PID-18, PV1-19, PV1-2). Read defensively: the field is optional in
 * the schema and older generated types (and events written before it) do not have it.
 */
function visitOf(event: object): VisitFields {
  const visit: unknown = 'visit' in event ? event.visit : null;
  if (typeof visit !== 'object' || visit === null) {
    return { accountNumber: null, visitNumber: null, patientClass: null };
  }
  const text = (name: string): string | null => {
    const value: unknown = (visit as Record<string, unknown>)[name];
    return typeof value === 'string' ? blankToNull(value) : null;
  };
  return {
    accountNumber: text('accountNumber'),
    visitNumber: text('visitNumber'),
    patientClass: text('patientClass'),
  };
}

/**
 * A provider from the readable name the normalizers write from an XCN
 * (`FAMILY, GIVEN MIDDLE (id)`, lab-normalization's personName): back to XCN-1, 2.1 and 3 for
 * FT1-20/21. A bare token with a digit is an id alone; any other text is kept as the family name.
 */
export function providerFromName(name: string | null): BillingProvider | null {
  const text = name?.trim() ?? '';
  if (text === '') return null;
  const match = /^(.*?)\s*\(([^()]+)\)$/.exec(text);
  const id = match?.[2]?.trim() ?? null;
  const person = (match ? (match[1] ?? '') : text).trim();
  if (person === '') return { id, familyName: null, givenName: null };
  if (!match && /^[A-Za-z0-9-]*\d[A-Za-z0-9-]*$/.test(person)) {
    return { id: person, familyName: null, givenName: null };
  }
  const comma = person.indexOf(',');
  if (comma < 0) return { id, familyName: person, givenName: null };
  return {
    id,
    familyName: blankToNull(person.slice(0, comma)),
    givenName: blankToNull(person.slice(comma + 1)),
  };
}

function blankToNull(value: string | null | undefined): string | null {
  const trimmed = value?.trim() ?? '';
  return trimmed === '' ? null : trimmed;
}
