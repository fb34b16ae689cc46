/**
 * A charge line (ChargeEvent, billing.charges.v1) as a FHIR R4 ChargeItem
 * (https://hl7.org/fhir/R4/chargeitem.html), and the rule that decides its status. One
 * ChargeItem per CHARGE line, its id derived from the line's event id; a CREDIT line has no
 * ChargeItem of its own: it makes the one of the charge it reverses `entered-in-error`.
 *
 * The status is derived, never stored as a transition: from the row of fhir.charge_status
 * (what the billing engine last answered, whether a credit reversed it), so the engine's answer
 * or a credit that is consumed before the charge itself changes nothing about the outcome.
 * Pure functions; the writer resolves the patient, the order and the dispense.
 */
import type { ChargeEvent } from '@ancillary/contracts';
import { InvalidClinicalEventError } from './errors';
import { CPT_SYSTEM, instant, NDC_SYSTEM, nonEmpty, reference } from './event.mapper';
import type {
  ChargeItem,
  ChargeItemReference,
  ChargeItemStatus,
  CodeableConcept,
  Coding,
} from './fhir.types';
import { nameBasedId } from './ids';

/** The ChargeEvent id of the CHARGE line a ChargeItem stands for. */
export const CHARGE_EVENT_SYSTEM = 'urn:ancillary:billing:charge-event';
/** FT1-2, the transaction id the billing engine knows the line by. */
export const CHARGE_TRANSACTION_SYSTEM = 'urn:ancillary:billing:transaction';
/** What makes the charge unique: `<filler>|<charge code>|<day>`, or `dispense:<dispense id>`. */
export const CHARGE_KEY_SYSTEM = 'urn:ancillary:billing:charge-key';
/** The hospital's charge description master (FT1-7). */
export const CHARGE_MASTER_SYSTEM = 'urn:ancillary:charge-master';
/** HCPCS Level II (a letter and four digits, e.g. J1100); CPT otherwise. */
export const HCPCS_SYSTEM = 'urn:oid:2.16.840.1.113883.6.285';
export const ICD10CM_SYSTEM = 'http://hl7.org/fhir/sid/icd-10-cm';

const HCPCS_LEVEL_II = /^[A-V][0-9]{4}$/;

/**
 * The event id of the CHARGE line a line is about: its own for a CHARGE, the reversed one's for
 * a CREDIT (validated by {@link validateChargeLine}). That line's ChargeItem is the one written.
 */
export function chargedEventId(line: ChargeEvent): string {
  return line.action === 'CREDIT' ? (line.reversesEventId as string) : line.eventId;
}

/** Deterministic: a replayed or resent charge line lands on the same ChargeItem. */
export function chargeItemId(chargeEventId: string): string {
  return nameBasedId('ChargeItem', chargeEventId);
}

/** One row of fhir.charge_status (what decides the status of one CHARGE line's ChargeItem). */
export interface ChargeStatusRow {
  /** The billing engine's latest answer: billed (AA/CA) or aborted (AR/CE); null before any. */
  engineStatus: 'billed' | 'aborted' | null;
  engineDecidedAt: Date | null;
  /** Event id of the CREDIT line that reversed the charge, if one did. */
  reversedBy: string | null;
}

/** entered-in-error once reversed (final), else the engine's latest answer, else billable. */
export function chargeItemStatus(row: ChargeStatusRow | undefined): ChargeItemStatus {
  if (row?.reversedBy) return 'entered-in-error';
  return row?.engineStatus ?? 'billable';
}

/**
 * Folds one engine answer into the row: the later answer wins (an AR, then a replay after the
 * fix that the engine accepts, ends billed); an equal or older one changes nothing.
 */
export function withEngineAnswer(
  row: ChargeStatusRow | undefined,
  status: 'billed' | 'aborted',
  decidedAt: Date,
): ChargeStatusRow {
  const current = row ?? { engineStatus: null, engineDecidedAt: null, reversedBy: null };
  if (current.engineDecidedAt && current.engineDecidedAt.getTime() > decidedAt.getTime()) {
    return current;
  }
  if (
    current.engineDecidedAt?.getTime() === decidedAt.getTime() &&
    current.engineStatus === 'billed'
  ) {
    return current; // a tie keeps billed: the engine has it
  }
  return { ...current, engineStatus: status, engineDecidedAt: decidedAt };
}

export interface ChargeItemLinks {
  patientId: string;
  /** The ehr-writer's placer order number system (supportingInformation.identifier.system). */
  placerOrderSystem: string;
  /** The EHR's order, when the chart has it. */
  order?: { resourceType: 'ServiceRequest' | 'MedicationRequest'; id: string };
  /** The MedicationDispense charged for, when the chart has it. */
  dispenseId?: string;
}

const invalid = (message: string): Error => new InvalidClinicalEventError(message);

/** Validates what a ChargeItem cannot be written without. */
export function validateChargeLine(charge: ChargeEvent): void {
  if (!nonEmpty(charge.eventId)) throw invalid('charge eventId is empty');
  if (!nonEmpty(charge.chargeCode)) throw invalid(`charge ${charge.eventId}: chargeCode is empty`);
  if (!Number.isFinite(charge.quantity) || charge.quantity < 0) {
    throw invalid(`charge ${charge.eventId}: quantity ${charge.quantity} is not a number ≥ 0`);
  }
  if (charge.action === 'CREDIT' && !nonEmpty(charge.reversesEventId)) {
    throw invalid(`credit ${charge.eventId} names no charge it reverses (reversesEventId)`);
  }
}

/**
 * The ChargeItem of a CHARGE line. `line` is the CHARGE itself, or — when a credit is consumed
 * before its charge (a rebuilt chart, a lost record) — the credit, which carries the same
 * fields; the ChargeItem is then identified by the charge the credit names.
 */
export function mapChargeItem(
  line: ChargeEvent,
  links: ChargeItemLinks,
  status: ChargeItemStatus,
): ChargeItem {
  validateChargeLine(line);
  const chargeEventId = chargedEventId(line);
  const transactionId =
    line.action === 'CREDIT' ? nonEmpty(line.reversesTransactionId) : line.transactionId;
  const codings: Coding[] = [
    { system: CHARGE_MASTER_SYSTEM, code: line.chargeCode, display: line.description },
  ];
  const procedure = nonEmpty(line.cptHcpcs);
  if (procedure) {
    codings.push({
      system: HCPCS_LEVEL_II.test(procedure) ? HCPCS_SYSTEM : CPT_SYSTEM,
      code: procedure,
    });
  }
  const code: CodeableConcept = { coding: codings, text: line.description };
  const placer = nonEmpty(line.placerOrderNumber);
  const supportingInformation: ChargeItemReference[] = placer
    ? [
        {
          ...(links.order ? reference(links.order.resourceType, links.order.id) : {}),
          type:
            links.order?.resourceType ??
            (line.sourceKind === 'PHARMACY' ? 'MedicationRequest' : 'ServiceRequest'),
          identifier: { system: links.placerOrderSystem, value: placer },
        },
      ]
    : [];
  const performers = [
    performer('performing', line.performingProvider),
    performer('ordering', line.orderingProvider),
  ].filter((p): p is NonNullable<typeof p> => p !== undefined);
  const reasons = line.diagnoses
    .filter((d) => nonEmpty(d.code))
    .map((d) => ({
      coding: [
        {
          system: ICD10CM_SYSTEM,
          code: d.code.trim(),
          ...(nonEmpty(d.display) ? { display: d.display as string } : {}),
        },
      ],
    }));
  const ndc = nonEmpty(line.ndc);
  const modifiers = line.modifiers.map((m) => m.trim()).filter((m) => m.length > 0);
  const extended = (line.extendedPriceCents / 100).toFixed(2);
  return {
    resourceType: 'ChargeItem',
    id: chargeItemId(chargeEventId),
    identifier: [
      { system: CHARGE_EVENT_SYSTEM, value: chargeEventId },
      ...(transactionId ? [{ system: CHARGE_TRANSACTION_SYSTEM, value: transactionId }] : []),
      { system: CHARGE_KEY_SYSTEM, value: line.chargeKey },
    ],
    status,
    code,
    subject: reference('Patient', links.patientId),
    occurrenceDateTime: instant(line.dateOfService, 'dateOfService', invalid),
    ...(performers.length > 0 ? { performer: performers } : {}),
    costCenter: { display: line.department },
    quantity: { value: line.quantity },
    priceOverride: { value: line.unitPriceCents / 100, currency: 'USD' },
    enteredDate: instant(line.createdAt, 'createdAt', invalid),
    ...(reasons.length > 0 ? { reason: reasons } : {}),
    ...(links.dispenseId ? { service: [reference('MedicationDispense', links.dispenseId)] } : {}),
    ...(ndc ? { productCodeableConcept: { coding: [{ system: NDC_SYSTEM, code: ndc }] } } : {}),
    ...(supportingInformation.length > 0 ? { supportingInformation } : {}),
    note: [
      {
        text:
          `Revenue code ${line.revenueCode}; extended price ${extended} USD` +
          (modifiers.length > 0 ? `; modifiers ${modifiers.join(', ')}` : '') +
          `; charge master ${line.chargeMasterVersion}`,
      },
    ],
  };
}

function performer(
  role: 'performing' | 'ordering',
  provider: ChargeEvent['orderingProvider'],
): { function: CodeableConcept; actor: ChargeItemReference } | undefined {
  if (!provider) return undefined;
  const id = nonEmpty(provider.id);
  const name = [nonEmpty(provider.givenName), nonEmpty(provider.familyName)]
    .filter((n): n is string => n !== undefined)
    .join(' ');
  if (!id && !name) return undefined;
  return {
    function: { text: role },
    actor: {
      ...(id ? { identifier: { value: id } } : {}),
      ...(name ? { display: name } : {}),
    },
  };
}
