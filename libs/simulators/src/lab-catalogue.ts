/**
 * What the simulated laboratory can report: its local test codes and orderables, each with the
 * LOINC code, default unit and reference range the platform's terminology table holds for it.
 * The generator draws every code and every value from here, so that the traffic it sends is
 * exactly what the normalizer can map — except for the unmapped codes it injects on purpose.
 *
 * The catalogue normally comes from the terminology table (`labCatalogueFromTerminology`); it is
 * a plain interface so that tests can hand the generator a small one.
 */
import type { LabCodeEntry, Terminology } from '@ancillary/terminology';

/**
 * What the generator writes for a test: NM numeric (SN with `>`/`<` now and then), TITER a
 * structured-numeric ratio (SN `^1^:^160`), CE coded, ST string, FT formatted text.
 */
export type SimValueType = 'NM' | 'TITER' | 'CE' | 'ST' | 'FT';

export interface LabTestDefinition {
  /** OBX-3.1, e.g. `K`. */
  readonly localCode: string;
  /** OBX-3.3, e.g. `L` or `99EAST`. */
  readonly localSystem: string;
  /** OBX-3.2, e.g. `Potassium`. */
  readonly display: string;
  readonly loinc: string;
  readonly valueType: SimValueType;
  /** OBX-6 as the laboratory writes it (the normalizer maps it to UCUM); '' when unitless. */
  readonly unit: string;
  /** The UCUM unit the terminology maps `unit` to (critical ranges are stated in it). */
  readonly ucumUnit: string;
  readonly referenceLow?: number;
  readonly referenceHigh?: number;
  /** Decimal places of a reported value. */
  readonly decimals: number;
  /** Panic limits for this LOINC in `ucumUnit`, when the terminology has them. */
  readonly criticalLow?: number;
  readonly criticalHigh?: number;
}

export interface OrderableDefinition {
  /** OBR-4.1, e.g. `BMP`. */
  readonly localCode: string;
  readonly localSystem: string;
  readonly display: string;
  readonly loinc: string;
  /** HL7 table 0487 specimen type, e.g. `SER`, `BLD`, `PPP`, `UR`. */
  readonly specimenType: string;
  /** Local codes of the tests it reports (OBX-3.1), in report order. */
  readonly components: readonly string[];
}

export interface LabCatalogue {
  /** MSH-4, the key of the terminology's per-facility codes, e.g. `NWH-LAB`. */
  readonly facility: string;
  /** MSH-3, e.g. `SIMLIS`. */
  readonly sendingApplication: string;
  readonly tests: readonly LabTestDefinition[];
  readonly orderables: readonly OrderableDefinition[];
}

export class LabCatalogueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LabCatalogueError';
  }
}

/**
 * How often each orderable is ordered, by its LOINC code (public panel codes), roughly as in a
 * hospital laboratory's daily mix. Orderables not listed get the default weight.
 */
export const ORDER_MIX_BY_LOINC: Readonly<Record<string, number>> = {
  '51990-0': 18, // basic metabolic panel
  '24323-8': 12, // comprehensive metabolic panel
  '58410-2': 14, // CBC
  '57021-8': 10, // CBC with differential
  '24331-1': 6, // lipid panel
  '57698-3': 6, // lipid panel (direct LDL)
  '34528-0': 7, // PT/INR
  '3173-2': 3, // aPTT
  '3016-3': 5, // TSH
  '4548-4': 5, // HbA1c
  '10839-9': 4, // troponin I
  '2524-7': 2, // lactate
  '1988-5': 3, // CRP
  '24325-3': 3, // hepatic function panel
  '24357-6': 6, // urinalysis
};
export const DEFAULT_ORDER_WEIGHT = 2;

/**
 * Checks that a catalogue can drive the generator: every orderable's components are tests of the
 * catalogue, codes are unique, numeric tests have a usable range. Fails with every problem at once.
 */
export function validateLabCatalogue(catalogue: LabCatalogue): LabCatalogue {
  const problems: string[] = [];
  const codes = new Set<string>();
  // only tests some orderable reports are ever generated (and the comment test)
  const ordered = new Set(catalogue.orderables.flatMap((o) => o.components));
  for (const test of catalogue.tests) {
    if (codes.has(test.localCode)) problems.push(`test ${test.localCode} is listed twice`);
    codes.add(test.localCode);
    if (test.valueType === 'NM' && ordered.has(test.localCode)) {
      const { referenceLow: lo, referenceHigh: hi } = test;
      if (lo === undefined && hi === undefined) {
        problems.push(`numeric test ${test.localCode} has no reference range to draw values from`);
      }
      if (lo !== undefined && hi !== undefined && !(lo < hi)) {
        problems.push(`test ${test.localCode}: reference low ${lo} is not below high ${hi}`);
      }
      if (!Number.isInteger(test.decimals) || test.decimals < 0 || test.decimals > 6) {
        problems.push(`test ${test.localCode}: decimals ${test.decimals} is not 0–6`);
      }
    }
  }
  const orderCodes = new Set<string>();
  for (const orderable of catalogue.orderables) {
    if (orderCodes.has(orderable.localCode)) {
      problems.push(`orderable ${orderable.localCode} is listed twice`);
    }
    orderCodes.add(orderable.localCode);
    if (orderable.components.length === 0) {
      problems.push(`orderable ${orderable.localCode} has no components`);
    }
    for (const component of orderable.components) {
      if (!codes.has(component)) {
        problems.push(
          `orderable ${orderable.localCode} lists component ${component}, which is not a test of ${catalogue.facility}`,
        );
      }
    }
  }
  if (catalogue.orderables.length === 0) {
    problems.push(`facility ${catalogue.facility} has no orderables`);
  }
  if (problems.length > 0) {
    throw new LabCatalogueError(
      `lab catalogue of ${catalogue.facility} cannot drive the simulator:\n  - ${problems.join('\n  - ')}`,
    );
  }
  return catalogue;
}

/** Decimal places of a number as written, e.g. 1.005 → 3. */
function decimalsOf(value: number | null): number {
  if (value === null) return 0;
  const text = String(value);
  const dot = text.indexOf('.');
  return dot === -1 ? 0 : text.length - dot - 1;
}

function simValueType(code: LabCodeEntry): SimValueType {
  switch (code.valueType) {
    case 'NM':
      return 'NM';
    case 'SN':
      // a structured numeric without a numeric range is a titer (ANA 1:160)
      return code.refLow === null && code.refHigh === null ? 'TITER' : 'NM';
    case 'CE':
    case 'CWE':
      return 'CE';
    case 'ST':
      return 'ST';
    case 'TX':
    case 'FT':
      return 'FT';
  }
}

/**
 * The catalogue of one sending facility from the platform's terminology table
 * (`loadTerminology()` from @ancillary/terminology): its lab codes with LOINC, units, reference
 * ranges and decimals, the critical range of each LOINC in the test's UCUM unit, and its
 * orderables with their components.
 */
export function labCatalogueFromTerminology(
  terminology: Terminology,
  facility = 'NWH-LAB',
): LabCatalogue {
  const entry = terminology.facility(facility);
  if (!entry) {
    throw new LabCatalogueError(
      `facility ${facility} is not in the terminology table (${terminology.source}); known: ${terminology
        .facilities()
        .map((f) => f.facility)
        .join(', ')}`,
    );
  }
  const tests = terminology.labCodes(facility).map((code): LabTestDefinition => {
    const critical = terminology.criticalRangeFor(code.loincCode, code.ucumUnit);
    return {
      localCode: code.localCode,
      localSystem: code.localSystem,
      display: code.localDisplay,
      loinc: code.loincCode,
      valueType: simValueType(code),
      unit: code.localUnit ?? '',
      ucumUnit: code.ucumUnit ?? '',
      ...(code.refLow === null ? {} : { referenceLow: code.refLow }),
      ...(code.refHigh === null ? {} : { referenceHigh: code.refHigh }),
      decimals: code.decimals ?? Math.max(decimalsOf(code.refLow), decimalsOf(code.refHigh)),
      ...(critical && critical.criticalLow !== null ? { criticalLow: critical.criticalLow } : {}),
      ...(critical && critical.criticalHigh !== null
        ? { criticalHigh: critical.criticalHigh }
        : {}),
    };
  });
  const orderables = terminology.orderables(facility).map((o): OrderableDefinition => ({
    localCode: o.localCode,
    localSystem: o.localSystem,
    display: o.localDisplay,
    loinc: o.loincCode,
    specimenType: o.specimenType ?? 'SER',
    components: o.components,
  }));
  return validateLabCatalogue({
    facility,
    sendingApplication: entry.sendingApplication,
    tests,
    orderables,
  });
}
