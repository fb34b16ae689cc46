/**
 * Rows of the terminology tables, as loaded. Every field is named after its CSV column
 * (camelCase); blank cells are null. docs/terminology.md describes the files.
 */

/** HL7 v2 value types (table 0125) a lab code's results are sent as. */
export const LAB_VALUE_TYPES = ['NM', 'SN', 'CE', 'CWE', 'ST', 'TX', 'FT'] as const;
export type LabValueType = (typeof LAB_VALUE_TYPES)[number];

/** Where a row was read from, for messages that send an analyst to the right line. */
export interface RowSource {
  readonly file: string;
  readonly line: number;
}

/** facilities.csv: a sending facility (MSH-4) and its local code system. */
export interface FacilityEntry {
  /** MSH-4.1 (HD namespace id), e.g. `NWH-LAB`. */
  readonly facility: string;
  readonly name: string;
  /** MSH-3.1 the facility's LIS sends, e.g. `SIMLIS` (informational; simulators use it). */
  readonly sendingApplication: string;
  /** URI written as `Coding.system` for the facility's local codes (`L`, `99xxx`, none). */
  readonly localSystemUri: string;
  readonly source: RowSource;
}

/** lab-codes.csv: one local test code (OBX-3) of one facility and its LOINC. */
export interface LabCodeEntry {
  readonly facility: string;
  readonly localCode: string;
  /** OBX-3.3 the facility sends with the code, e.g. `L` or `99EAST`. */
  readonly localSystem: string;
  readonly localDisplay: string;
  readonly loincCode: string;
  readonly loincDisplay: string;
  /** OBX-2 the facility sends results of this test as. */
  readonly valueType: LabValueType;
  /** OBX-6 as the facility sends it (null: no unit); maps to `ucumUnit` through units.csv. */
  readonly localUnit: string | null;
  readonly ucumUnit: string | null;
  /** Typical adult reference range, in `ucumUnit` (simulators draw values around it). */
  readonly refLow: number | null;
  readonly refHigh: number | null;
  /** Decimal places the facility reports numeric results with. */
  readonly decimals: number | null;
  readonly source: RowSource;
}

/** orderables.csv: one orderable test or panel (OBR-4) of one facility and its LOINC. */
export interface OrderableEntry {
  readonly facility: string;
  readonly localCode: string;
  readonly localSystem: string;
  readonly localDisplay: string;
  readonly loincCode: string;
  readonly loincDisplay: string;
  /** HL7 table 0487 specimen type the panel is run on (`SER`, `BLD`, `UR`, `PPP`, `PLAS`). */
  readonly specimenType: string | null;
  /** Local lab codes (lab-codes.csv, same facility) a result of this panel carries, in order. */
  readonly components: readonly string[];
  readonly source: RowSource;
}

/** units.csv: a unit string as senders write it and its UCUM code. */
export interface UnitEntry {
  readonly localUnit: string;
  readonly ucumUnit: string;
  readonly description: string;
  readonly source: RowSource;
}

/** flags.csv: an HL7 table 0078 abnormal flag (OBX-8) and its v3 ObservationInterpretation code. */
export interface FlagEntry {
  readonly flag: string;
  readonly interpretationCode: string;
  readonly interpretationDisplay: string;
  /** Whether the flag alone makes the result a critical (panic) value. */
  readonly critical: boolean;
  readonly description: string;
  readonly source: RowSource;
}

/**
 * critical-ranges.csv: the panic limits of one LOINC in one UCUM unit. A value strictly below
 * `criticalLow` or strictly above `criticalHigh` is critical; either bound may be absent.
 */
export interface CriticalRangeEntry {
  readonly loincCode: string;
  /** null: the test has no unit (INR). */
  readonly ucumUnit: string | null;
  readonly criticalLow: number | null;
  readonly criticalHigh: number | null;
  /** Short analyte name used in alert reasons, e.g. `Potassium`. */
  readonly description: string;
  readonly source: RowSource;
}

/** What an order is for (OrderEvent `category`); a route is chosen per category. */
export const ORDER_CATEGORIES = ['LABORATORY', 'IMAGING', 'PHARMACY'] as const;
export type OrderCategory = (typeof ORDER_CATEGORIES)[number];

/** The Kafka lane an order travels in: `STAT` orders overtake routine ones. */
export const ORDER_LANES = ['ROUTINE', 'STAT'] as const;
export type OrderLane = (typeof ORDER_LANES)[number];

/**
 * FHIR request-priority codes (ServiceRequest / MedicationRequest `priority`), the keys of
 * order-rules.csv. @see https://hl7.org/fhir/R4/valueset-request-priority.html
 */
export const ORDER_PRIORITIES = ['routine', 'urgent', 'asap', 'stat'] as const;
export type OrderPriority = (typeof ORDER_PRIORITIES)[number];

/** The wildcard of order-routes.csv `code_system` / `code`: any value. */
export const ANY_CODE = '*';

/**
 * order-routes.csv: which ancillary (`destination`, a gateway's SOURCE_SYSTEM) receives orders
 * of a category and code, and the facility whose tables map the codes outbound.
 */
export interface OrderRouteEntry {
  readonly category: OrderCategory;
  /** FHIR code system URI, or `*` (any system, then `code` is `*` too). */
  readonly codeSystem: string;
  /** A code of `codeSystem`, or `*` (any code of it). */
  readonly code: string;
  /** OrderEvent `destination`: the gateway whose ORDER_DESTINATION this is, e.g. `lis-main`. */
  readonly destination: string;
  /** facilities.csv id whose tables map the order's codes outbound, e.g. `NWH-LAB`. */
  readonly facility: string;
  readonly description: string;
  readonly source: RowSource;
}

/** order-rules.csv: what an order's priority means for its lane and for its results. */
export interface OrderRuleEntry {
  readonly priority: OrderPriority;
  readonly lane: OrderLane;
  /** Whether results of such an order are flagged `highPriority` (LabResult, ImagingReport). */
  readonly highPriorityResult: boolean;
  readonly description: string;
  readonly source: RowSource;
}

/**
 * An order code as an ancillary expects it (outbound OBR-4 / RXO-1): its local code, local
 * coding-system name and display, and the standard coding it stands for (sent as the CE/CWE
 * alternate triplet).
 */
export interface OutboundCode {
  readonly localCode: string;
  /** The HL7 v2 coding-system name the ancillary expects with the local code, e.g. `L`. */
  readonly localSystem: string;
  readonly localDisplay: string;
  /** The standard coding: `system` is a FHIR URI (LOINC, CPT). */
  readonly code: { readonly system: string; readonly code: string; readonly display: string };
}

/**
 * DICOM modalities (PS3.3 C.7.3.1.1.1) an imaging procedure is performed on.
 * @see https://dicom.nema.org/medical/dicom/current/output/chtml/part03/sect_C.7.3.html
 */
export const IMAGING_MODALITIES = [
  'CR',
  'DX',
  'CT',
  'MR',
  'US',
  'MG',
  'NM',
  'PT',
  'XA',
  'RF',
  'BMD',
] as const;
export type ImagingModality = (typeof IMAGING_MODALITIES)[number];

/** imaging-procedures.csv: one procedure (OBR-4) of a radiology facility and its CPT code. */
export interface ImagingProcedureEntry {
  readonly facility: string;
  readonly localCode: string;
  /** OBR-4.3 the RIS sends and expects with the code, e.g. `L`. */
  readonly localSystem: string;
  readonly localDisplay: string;
  readonly cptCode: string;
  readonly cptDisplay: string;
  readonly modality: ImagingModality;
  /** CPT modifiers (two characters each, e.g. `26`, `TC`, `50`) always sent with the code. */
  readonly defaultModifiers: readonly string[];
  readonly source: RowSource;
}

/** formulary.csv: one drug product a pharmacy stocks: its local code, RxNorm and NDC. */
export interface FormularyEntry {
  readonly facility: string;
  readonly localCode: string;
  readonly localDisplay: string;
  /** RxNorm clinical drug (SCD) concept id, what the EHR orders. */
  readonly rxnormCode: string;
  readonly rxnormDisplay: string;
  /** NDC of the dispensed package, normalised to 11 digits 5-4-2 with hyphens. */
  readonly ndc: string;
  readonly ndcDisplay: string;
  /** Unit a dispense is counted in (RXE-11 / RXD-5), e.g. `TAB`, `CAP`, `VIAL`, `SYR`. */
  readonly dispenseUnit: string;
  /** RxNorm dose form, e.g. `Oral Tablet`. */
  readonly doseForm: string;
  readonly source: RowSource;
}

/** manifest.json. */
export interface TerminologyManifest {
  /** The tables' version, logged and exported as a metric label by every service that loads them. */
  readonly version: string;
  readonly description: string | null;
}
