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

/** manifest.json. */
export interface TerminologyManifest {
  /** The tables' version, logged and exported as a metric label by every service that loads them. */
  readonly version: string;
  readonly description: string | null;
}
