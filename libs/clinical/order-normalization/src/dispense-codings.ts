import type { MedicationDispensed } from '@ancillary/contracts';
import { NDC_SYSTEM, RXNORM_SYSTEM, type Terminology } from '@ancillary/terminology';

export type DispenseCoding = MedicationDispensed['ndc'];
export type DispenseStatus = MedicationDispensed['status'];

/** What a dispense names its product with, as sent (the NDC already normalised to 5-4-2). */
export interface SentProduct {
  readonly ndc: string;
  readonly ndcDisplay: string | null;
  /** The pharmacy's own code, when it sent one. */
  readonly local: DispenseCoding | null;
  /** An RxNorm the sender put beside the NDC (FHIR), used when the formulary has no row. */
  readonly rxnorm?: DispenseCoding | null;
}

/**
 * The product codings of a dispense, the same for RDS^O13 and FHIR: the NDC as dispensed, the
 * RxNorm the pharmacy's formulary maps it to (the EHR orders RxNorm; "RxNorm where mapped"),
 * else the sender's own RxNorm, else none; the local code as sent, else the formulary's.
 * @throws UnmappedCodeError only when the facility is not in the terminology.
 */
export function dispenseCodings(
  terminology: Terminology,
  facility: string,
  sent: SentProduct,
): Pick<MedicationDispensed, 'ndc' | 'localCode' | 'rxnorm'> {
  const entry = terminology.formularyByNdc(facility, sent.ndc);
  return {
    ndc: {
      system: NDC_SYSTEM,
      code: sent.ndc,
      display: sent.ndcDisplay ?? entry?.ndcDisplay ?? null,
    },
    rxnorm: entry
      ? { system: RXNORM_SYSTEM, code: entry.rxnormCode, display: entry.rxnormDisplay }
      : (sent.rxnorm ?? null),
    localCode:
      sent.local ??
      (entry
        ? {
            system: terminology.facility(facility)?.localSystemUri ?? null,
            code: entry.localCode,
            display: entry.localDisplay,
          }
        : null),
  };
}
