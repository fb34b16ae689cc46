/**
 * OrderEvent → FHIR R4 MedicationRequest, for pharmacies that take orders over FHIR REST
 * instead of RDE^O11. The pharmacy knows nothing of our repository's ids, so the request is
 * self-contained: the patient is a contained resource (identifiers and demographics), the
 * prescriber and the reasons are carried by value, and the placer order number is the
 * business identifier the pharmacy de-duplicates on (`If-None-Exist`) and cancels by.
 * @see https://hl7.org/fhir/R4/medicationrequest.html
 */
import type { OrderEvent } from '@ancillary/contracts';
import { NDC_SYSTEM, RXNORM_SYSTEM, UCUM_SYSTEM, type Terminology } from '@ancillary/terminology';
import type { OrderTerminology } from './order-codes';

/** HL7 v2 table 0203 identifier types, as FHIR uses them for order numbers. */
export const IDENTIFIER_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v2-0203';
/** FHIR timing abbreviations (BID, TID, QD, Q8H…) for `dosageInstruction.timing.code`. */
export const TIMING_ABBREVIATION_SYSTEM =
  'http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation';

interface FhirCoding {
  system?: string;
  code: string;
  display?: string;
}
interface FhirCodeableConcept {
  coding?: FhirCoding[];
  text?: string;
}
interface FhirIdentifier {
  type?: FhirCodeableConcept;
  system?: string;
  value: string;
}
interface FhirQuantity {
  value: number;
  unit?: string;
  system?: string;
  code?: string;
}

/** The MedicationRequest we send (the subset of R4 this platform fills). */
export interface FhirMedicationRequest {
  resourceType: 'MedicationRequest';
  contained: [FhirContainedPatient];
  identifier: FhirIdentifier[];
  status: 'active' | 'cancelled';
  intent: 'order';
  priority: 'routine' | 'urgent' | 'asap' | 'stat';
  medicationCodeableConcept: FhirCodeableConcept;
  subject: { reference: '#patient'; display?: string };
  encounter?: { identifier: FhirIdentifier };
  authoredOn: string;
  requester?: { identifier?: FhirIdentifier; display?: string };
  reasonCode?: FhirCodeableConcept[];
  note?: { text: string }[];
  dosageInstruction?: {
    text?: string;
    timing?: { code: FhirCodeableConcept };
    route?: FhirCodeableConcept;
    doseAndRate?: { doseQuantity: FhirQuantity }[];
  }[];
  dispenseRequest?: {
    quantity?: FhirQuantity;
    numberOfRepeatsAllowed?: number;
    expectedSupplyDuration?: FhirQuantity;
  };
}

export interface FhirContainedPatient {
  resourceType: 'Patient';
  id: 'patient';
  identifier: FhirIdentifier[];
  name?: { use: 'official'; family?: string; given?: string[] }[];
  birthDate?: string;
  gender?: 'male' | 'female' | 'other' | 'unknown';
}

const PRIORITIES = new Set(['routine', 'urgent', 'asap', 'stat']);

/**
 * The FHIR MedicationRequest of an order: `status` active (NEW) or cancelled (CANCEL). The drug
 * is coded RxNorm (as ordered), NDC and the pharmacy's local code (from its formulary).
 * @throws UnmappedCodeError when the RxNorm is not in the pharmacy's formulary.
 */
export function toFhirMedicationRequest(
  order: OrderEvent,
  terminology: OrderTerminology & Pick<Terminology, 'facility'>,
  facility: string,
): FhirMedicationRequest {
  const row = terminology.formularyByRxnorm(facility, order.code.code);
  const localSystem = terminology.facility(facility)?.localSystemUri;
  const m = order.medication;
  const p = order.patient;
  const priority = order.priority.trim().toLowerCase();

  const identifier: FhirIdentifier[] = [
    {
      type: { coding: [{ system: IDENTIFIER_TYPE_SYSTEM, code: 'PLAC' }] },
      system: order.placerSystem,
      value: order.placerOrderNumber,
    },
  ];
  if (order.fillerOrderNumber) {
    identifier.push({
      type: { coding: [{ system: IDENTIFIER_TYPE_SYSTEM, code: 'FILL' }] },
      value: order.fillerOrderNumber,
    });
  }

  const patient: FhirContainedPatient = {
    resourceType: 'Patient',
    id: 'patient',
    identifier: p.identifiers.map((id) => ({
      ...(id.type ? { type: { coding: [{ system: IDENTIFIER_TYPE_SYSTEM, code: id.type }] } } : {}),
      ...(id.system ? { system: id.system } : {}),
      value: id.value,
    })),
    ...(p.familyName || p.givenNames.length > 0
      ? {
          name: [
            {
              use: 'official' as const,
              ...(p.familyName ? { family: p.familyName } : {}),
              ...(p.givenNames.length > 0 ? { given: p.givenNames } : {}),
            },
          ],
        }
      : {}),
    ...(p.birthDate ? { birthDate: p.birthDate } : {}),
    ...(p.administrativeSex ? { gender: genderOf(p.administrativeSex) } : {}),
  };

  const dosage: NonNullable<FhirMedicationRequest['dosageInstruction']>[number] = {
    ...(m?.instructions ? { text: m.instructions } : {}),
    ...(m?.frequency
      ? {
          timing: {
            code: {
              coding: [{ system: TIMING_ABBREVIATION_SYSTEM, code: m.frequency }],
              text: m.frequency,
            },
          },
        }
      : {}),
    ...(m?.route ? { route: { coding: [coding(m.route)] } } : {}),
    ...(m?.doseValue !== null && m?.doseValue !== undefined
      ? { doseAndRate: [{ doseQuantity: ucum(m.doseValue, m.doseUnit) }] }
      : {}),
  };
  const dispense: NonNullable<FhirMedicationRequest['dispenseRequest']> = {
    ...(m?.quantityValue !== null && m?.quantityValue !== undefined
      ? { quantity: { value: m.quantityValue, unit: m.quantityUnit ?? row.dispenseUnit } }
      : {}),
    ...(m?.refills !== null && m?.refills !== undefined
      ? { numberOfRepeatsAllowed: m.refills }
      : {}),
    ...(m?.daysSupply !== null && m?.daysSupply !== undefined
      ? {
          expectedSupplyDuration: {
            value: m.daysSupply,
            unit: 'days',
            system: UCUM_SYSTEM,
            code: 'd',
          },
        }
      : {}),
  };

  return {
    resourceType: 'MedicationRequest',
    contained: [patient],
    identifier,
    status: order.action === 'CANCEL' ? 'cancelled' : 'active',
    intent: 'order',
    priority: (PRIORITIES.has(priority)
      ? priority
      : 'routine') as FhirMedicationRequest['priority'],
    medicationCodeableConcept: {
      coding: [
        { system: RXNORM_SYSTEM, code: row.rxnormCode, display: row.rxnormDisplay },
        { system: NDC_SYSTEM, code: row.ndc, display: row.ndcDisplay },
        ...(localSystem
          ? [{ system: localSystem, code: row.localCode, display: row.localDisplay }]
          : []),
      ],
      text: order.code.display ?? row.rxnormDisplay,
    },
    subject: { reference: '#patient' },
    ...(order.encounterId ? { encounter: { identifier: { value: order.encounterId } } } : {}),
    authoredOn: new Date(order.orderedAt).toISOString(),
    ...(order.requester
      ? {
          requester: {
            ...(order.requester.identifier
              ? { identifier: { value: order.requester.identifier } }
              : {}),
            ...(displayOf(order.requester) ? { display: displayOf(order.requester) } : {}),
          },
        }
      : {}),
    ...(order.reasons.length > 0
      ? { reasonCode: order.reasons.map((r) => ({ coding: [coding(r)] })) }
      : {}),
    ...(order.notes.length > 0 ? { note: order.notes.map((text) => ({ text })) } : {}),
    ...(Object.keys(dosage).length > 0 ? { dosageInstruction: [dosage] } : {}),
    ...(Object.keys(dispense).length > 0 ? { dispenseRequest: dispense } : {}),
  };
}

function coding(c: { system: string | null; code: string; display: string | null }): FhirCoding {
  return {
    ...(c.system ? { system: c.system } : {}),
    code: c.code,
    ...(c.display ? { display: c.display } : {}),
  };
}

function ucum(value: number, unit: string | null): FhirQuantity {
  return unit ? { value, unit, system: UCUM_SYSTEM, code: unit } : { value };
}

/** HL7 table 0001 → FHIR administrative-gender. */
function genderOf(sex: string): NonNullable<FhirContainedPatient['gender']> {
  switch (sex.toUpperCase()) {
    case 'M':
      return 'male';
    case 'F':
      return 'female';
    case 'U':
      return 'unknown';
    default:
      return 'other';
  }
}

function displayOf(r: NonNullable<OrderEvent['requester']>): string | undefined {
  if (r.display) return r.display;
  const name = [r.givenName, r.familyName].filter(Boolean).join(' ');
  return name || undefined;
}
