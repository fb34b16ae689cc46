/**
 * The outbound side of terminology: the codes an order is sent with, in the ancillary's own
 * terms. The EHR orders in standard codes (LOINC, CPT, RxNorm); the LIS, RIS and pharmacy each
 * expect their local code, with the standard one as the alternate identifier of the CE/CWE.
 */
import type { OrderEvent } from '@ancillary/contracts';
import {
  RXNORM_SYSTEM,
  type FormularyEntry,
  type OutboundCode,
  type Terminology,
} from '@ancillary/terminology';

/** What of the terminology the outbound mapping uses (a `Terminology` is one). */
export type OrderTerminology = Pick<
  Terminology,
  'labOrderCode' | 'imagingOrderCode' | 'formularyByRxnorm'
>;

/** The mapped codes of one order. */
export interface OrderCodes {
  /** OBR-4 / RXO-1: the ancillary's local code, with the standard code as the alternate. */
  readonly ordered: OutboundCode;
  /** Pharmacy orders: the formulary row (RXE-2 NDC, dispense unit, dose form); null otherwise. */
  readonly formulary: FormularyEntry | null;
}

/** Coding-system name for a facility's formulary codes: formulary.csv has no column for it. */
export const FORMULARY_LOCAL_SYSTEM = 'L';

/**
 * Maps an order's code for one facility: LOINC through the lab's orderables (else single
 * tests), CPT through the imaging procedures, RxNorm through the pharmacy's formulary.
 * @throws UnmappedCodeError when the facility has no row for the code: such an order can never
 *   be sent as it is.
 */
export function mapOrderCodes(
  order: OrderEvent,
  terminology: OrderTerminology,
  facility: string,
): OrderCodes {
  switch (order.category) {
    case 'LABORATORY':
      return { ordered: terminology.labOrderCode(facility, order.code.code), formulary: null };
    case 'IMAGING':
      return { ordered: terminology.imagingOrderCode(facility, order.code.code), formulary: null };
    case 'PHARMACY': {
      const row = terminology.formularyByRxnorm(facility, order.code.code);
      return {
        ordered: {
          localCode: row.localCode,
          localSystem: FORMULARY_LOCAL_SYSTEM,
          localDisplay: row.localDisplay,
          code: {
            system: RXNORM_SYSTEM,
            code: row.rxnormCode,
            display: row.rxnormDisplay,
          },
        },
        formulary: row,
      };
    }
  }
}
