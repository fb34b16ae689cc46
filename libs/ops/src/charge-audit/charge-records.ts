/**
 * What the missed-charge audit reads from the chart, as plain records: completed work
 * (ServiceRequest, MedicationDispense) and ChargeItems, parsed from the stored FHIR JSON. Pure
 * and defensive: the chart holds resources other systems wrote, so a missing or oddly shaped
 * field leaves a field of the record empty instead of failing the audit.
 *
 * The ChargeItem shape is the one the ehr-writer writes (the ChargeItem contract of issue #7):
 * identifiers `urn:ancillary:billing:charge-event|<ChargeEvent.eventId>`,
 * `urn:ancillary:billing:transaction|<FT1-2>`, `urn:ancillary:billing:charge-key|<key>` (the key
 * is `dispense:<dispense id>` for dispenses, `<filler>|<charge code>|<yyyy-mm-dd>` for orders),
 * and `supportingInformation[].identifier` = the placer order number.
 */

export const CHARGE_EVENT_SYSTEM = 'urn:ancillary:billing:charge-event';
export const CHARGE_TRANSACTION_SYSTEM = 'urn:ancillary:billing:transaction';
export const CHARGE_KEY_SYSTEM = 'urn:ancillary:billing:charge-key';
export const CHARGE_MASTER_SYSTEM = 'urn:ancillary:charge-master';
/** The prefix of a dispense's charge key (`dispense:<dispense id>`, @ancillary/billing-pricing). */
export const DISPENSE_KEY_PREFIX = 'dispense:';
/** Filler order numbers are stored under `urn:ancillary:filler-order:<source system>`. */
export const FILLER_ORDER_SYSTEM_PREFIX = 'urn:ancillary:filler-order:';

export type WorkType = 'ServiceRequest' | 'MedicationDispense';

/** A ServiceRequest or MedicationDispense as the audit judges it. */
export interface WorkRecord {
  resourceType: WorkType;
  id: string;
  /** Current status in the chart. */
  status: string;
  /**
   * When the work was completed: for a ServiceRequest the time the chart first stored it as
   * completed (its first completed version), for a MedicationDispense whenHandedOver.
   */
  completedAt?: Date;
  /** ServiceRequest: the identifier of the placer system (the EHR's order number). */
  placerOrderNumber?: string;
  /** ServiceRequest: filler order numbers (used when the order has no placer number). */
  fillerOrderNumbers: string[];
  /** MedicationDispense: the pharmacy's dispense identifier (the charge key's id). */
  dispenseId?: string;
  /** `Patient/<id>`. */
  subject?: string;
}

export type ChargeItemStatus =
  'planned' | 'billable' | 'not-billable' | 'aborted' | 'billed' | 'entered-in-error' | 'unknown';

export interface ChargeRecord {
  id: string;
  /** The status as stored (kept verbatim, even when not one of ChargeItemStatus). */
  status: string;
  chargeEventId?: string;
  transactionId?: string;
  chargeKey?: string;
  /** supportingInformation[].identifier.value: the placer order number(s). */
  placerOrderNumbers: string[];
  chargeCode?: string;
  /** occurrenceDateTime: the date of service. */
  occurrence?: Date;
  /** enteredDate: when billing-trigger decided the charge. */
  enteredDate?: Date;
  /** fhir.resource.last_updated of the current version. */
  lastUpdated: Date;
  subject?: string;
}

type Json = Record<string, unknown>;

function objects(value: unknown): Json[] {
  return Array.isArray(value)
    ? value.filter((v): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v))
    : [];
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/** A FHIR instant/dateTime as a Date; a bare date is midnight UTC; anything else undefined. */
export function fhirInstant(value: unknown): Date | undefined {
  const raw = text(value);
  if (raw === undefined || !/^\d{4}(-\d{2}(-\d{2})?)?/.test(raw)) return undefined;
  const date = new Date(raw.length === 4 ? `${raw}-01-01` : raw.length === 7 ? `${raw}-01` : raw);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function reference(value: unknown): string | undefined {
  return typeof value === 'object' && value !== null
    ? text((value as Json)['reference'])
    : undefined;
}

function identifierValue(identifiers: unknown, system: string): string | undefined {
  return objects(identifiers)
    .filter((i) => i['system'] === system)
    .map((i) => text(i['value']))
    .find((v) => v !== undefined);
}

function isFillerIdentifier(identifier: Json): boolean {
  const system = text(identifier['system']);
  if (system?.startsWith(FILLER_ORDER_SYSTEM_PREFIX)) return true;
  const type = identifier['type'];
  if (typeof type !== 'object' || type === null) return false;
  return objects((type as Json)['coding']).some((c) => c['code'] === 'FILL');
}

/** A ServiceRequest of the chart; `completedAt` comes from its history (see ChargeChart). */
export function serviceRequestRecord(
  id: string,
  content: Json,
  placerOrderSystem: string,
  completedAt?: Date,
): WorkRecord {
  const identifiers = content['identifier'];
  const placer = identifierValue(identifiers, placerOrderSystem);
  const subject = reference(content['subject']);
  return {
    resourceType: 'ServiceRequest',
    id,
    status: text(content['status']) ?? 'unknown',
    ...(completedAt ? { completedAt } : {}),
    ...(placer !== undefined ? { placerOrderNumber: placer } : {}),
    fillerOrderNumbers: objects(identifiers)
      .filter(isFillerIdentifier)
      .flatMap((i) => text(i['value']) ?? []),
    ...(subject !== undefined ? { subject } : {}),
  };
}

/** A MedicationDispense of the chart: its first identifier is the pharmacy's dispense id. */
export function medicationDispenseRecord(id: string, content: Json): WorkRecord {
  const dispenseId = objects(content['identifier'])
    .map((i) => text(i['value']))
    .find((v) => v !== undefined);
  const handedOver = fhirInstant(content['whenHandedOver']);
  const subject = reference(content['subject']);
  return {
    resourceType: 'MedicationDispense',
    id,
    status: text(content['status']) ?? 'unknown',
    ...(handedOver ? { completedAt: handedOver } : {}),
    fillerOrderNumbers: [],
    ...(dispenseId !== undefined ? { dispenseId } : {}),
    ...(subject !== undefined ? { subject } : {}),
  };
}

export function chargeRecord(id: string, content: Json, lastUpdated: Date): ChargeRecord {
  const identifiers = content['identifier'];
  const chargeEventId = identifierValue(identifiers, CHARGE_EVENT_SYSTEM);
  const transactionId = identifierValue(identifiers, CHARGE_TRANSACTION_SYSTEM);
  const chargeKey = identifierValue(identifiers, CHARGE_KEY_SYSTEM);
  const code = content['code'];
  const chargeCode =
    typeof code === 'object' && code !== null
      ? objects((code as Json)['coding'])
          .filter((c) => c['system'] === CHARGE_MASTER_SYSTEM)
          .map((c) => text(c['code']))
          .find((v) => v !== undefined)
      : undefined;
  const occurrence = fhirInstant(content['occurrenceDateTime']);
  const enteredDate = fhirInstant(content['enteredDate']);
  const subject = reference(content['subject']);
  const placers = objects(content['supportingInformation']).flatMap((s) => {
    const identifier = s['identifier'];
    return typeof identifier === 'object' && identifier !== null
      ? (text((identifier as Json)['value']) ?? [])
      : [];
  });
  return {
    id,
    status: text(content['status']) ?? 'unknown',
    ...(chargeEventId !== undefined ? { chargeEventId } : {}),
    ...(transactionId !== undefined ? { transactionId } : {}),
    ...(chargeKey !== undefined ? { chargeKey } : {}),
    placerOrderNumbers: [...new Set(placers)],
    ...(chargeCode !== undefined ? { chargeCode } : {}),
    ...(occurrence ? { occurrence } : {}),
    ...(enteredDate ? { enteredDate } : {}),
    lastUpdated,
    ...(subject !== undefined ? { subject } : {}),
  };
}

/** `dispense:<id>` → `<id>`; undefined for an order's key. */
export function dispenseIdOfKey(chargeKey: string | undefined): string | undefined {
  return chargeKey?.startsWith(DISPENSE_KEY_PREFIX)
    ? chargeKey.slice(DISPENSE_KEY_PREFIX.length) || undefined
    : undefined;
}

/** The filler order number of an order's key `<filler>|<charge code>|<date>`. */
export function fillerOfKey(chargeKey: string | undefined): string | undefined {
  if (chargeKey === undefined || chargeKey.startsWith(DISPENSE_KEY_PREFIX)) return undefined;
  const filler = chargeKey.split('|')[0];
  return filler ? filler : undefined;
}

/** A charge that still stands (not reversed): billable, billed or rejected (aborted). */
export function isLiveCharge(charge: ChargeRecord): boolean {
  return charge.status !== 'entered-in-error' && charge.status !== 'not-billable';
}

/** `ServiceRequest/<id>` or `MedicationDispense/<id>`. */
export function workReference(work: WorkRecord): string {
  return `${work.resourceType}/${work.id}`;
}

/** How an operator names the work: the placer number, filler number or dispense id. */
export function workLabel(work: WorkRecord): string {
  if (work.resourceType === 'MedicationDispense') {
    return work.dispenseId !== undefined ? `dispense ${work.dispenseId}` : '(no dispense id)';
  }
  if (work.placerOrderNumber !== undefined) return `placer ${work.placerOrderNumber}`;
  const filler = work.fillerOrderNumbers[0];
  return filler !== undefined ? `filler ${filler}` : '(no order number)';
}
