/**
 * What a completion does not carry but its charge needs, taken from the order (OrderEvent on
 * clinical.orders.v1 / clinical.orders-stat.v1): the reasons as ICD-10-CM diagnoses (FT1-19),
 * the requester (FT1-21), and whether the order was cancelled. Kept by the caller per placer
 * order number (ORC-2), which both the order and the ancillary's completion carry.
 */
import type { OrderEvent } from '@ancillary/contracts';
import { ICD10CM_SYSTEM } from '@ancillary/terminology';
import type { BillingProvider } from './billable-work';

export type BillingDiagnosis = { code: string; display: string | null };

export interface OrderContext {
  /** ORC-2: the key the caller stores this under and looks completions up by. */
  readonly placerOrderNumber: string;
  readonly fillerOrderNumber: string | null;
  /** FT1-19: the order's ICD-10-CM reasons, in order, without duplicates. */
  readonly diagnoses: readonly BillingDiagnosis[];
  /** FT1-21. */
  readonly orderingProvider: BillingProvider | null;
  /** The EHR cancelled the order (OrderEvent action CANCEL). */
  readonly cancelled: boolean;
  /** eventIds of the OrderEvents folded in (ChargeEvent.sourceEventIds). */
  readonly sourceEventIds: readonly string[];
}

/**
 * The order context after `event`, folding it into what was known (`previous`, same placer
 * order number). A CANCEL keeps the diagnoses and requester of the NEW it cancels when it
 * carries none itself, so a credit can still be explained; once cancelled, a later NEW of the
 * same order number (a replay) does not un-cancel it.
 */
export function orderContext(event: OrderEvent, previous?: OrderContext): OrderContext {
  if (previous && previous.placerOrderNumber !== event.placerOrderNumber) {
    throw new RangeError(
      `order context of ${previous.placerOrderNumber} cannot take an event of ${event.placerOrderNumber}`,
    );
  }
  const diagnoses = icd10Diagnoses(event);
  const orderingProvider = providerOf(event.requester);
  return {
    placerOrderNumber: event.placerOrderNumber,
    fillerOrderNumber: event.fillerOrderNumber ?? previous?.fillerOrderNumber ?? null,
    diagnoses: diagnoses.length > 0 ? diagnoses : (previous?.diagnoses ?? []),
    orderingProvider: orderingProvider ?? previous?.orderingProvider ?? null,
    cancelled: event.action === 'CANCEL' || (previous?.cancelled ?? false),
    sourceEventIds: [
      ...(previous?.sourceEventIds ?? []).filter((id) => id !== event.eventId),
      event.eventId,
    ],
  };
}

/**
 * ICD-10-CM codings of ServiceRequest.reasonCode / MedicationRequest.reasonCode: FT1-19 is a
 * diagnosis code list for the claim, and claims carry ICD-10-CM (SNOMED CT reasons are left
 * out; CMS-1500 item 21 and UB-04 FL 67 take ICD-10-CM only).
 */
function icd10Diagnoses(event: OrderEvent): BillingDiagnosis[] {
  const seen = new Set<string>();
  const out: BillingDiagnosis[] = [];
  for (const reason of event.reasons) {
    const code = reason.code.trim();
    if (reason.system !== ICD10CM_SYSTEM || code === '' || seen.has(code)) continue;
    seen.add(code);
    out.push({ code, display: reason.display });
  }
  return out;
}

function providerOf(requester: OrderEvent['requester']): BillingProvider | null {
  if (!requester) return null;
  const familyName =
    requester.familyName ?? (requester.givenName === null ? requester.display : null);
  if (requester.identifier === null && familyName === null && requester.givenName === null) {
    return null;
  }
  return { id: requester.identifier, familyName, givenName: requester.givenName };
}
