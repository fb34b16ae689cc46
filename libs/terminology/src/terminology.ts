import {
  CPT_SYSTEM,
  LOINC_SYSTEM,
  RXNORM_SYSTEM,
  isCptSystem,
  isLoincSystem,
  normalizeNdc,
  standardCodeSystemUri,
} from './code-systems';
import { UnmappedCodeError, type UnmappedCodeKind } from './terminology.errors';
import {
  ANY_CODE,
  type CriticalRangeEntry,
  type FacilityEntry,
  type FlagEntry,
  type FormularyEntry,
  type ImagingProcedureEntry,
  type LabCodeEntry,
  type OrderCategory,
  type OrderPriority,
  type OrderRouteEntry,
  type OrderRuleEntry,
  type OrderableEntry,
  type OutboundCode,
  type TerminologyManifest,
  type UnitEntry,
} from './terminology.model';

/** The validated content of a terminology directory (see `parseTerminology`). */
export interface TerminologyTables {
  readonly manifest: TerminologyManifest;
  readonly facilities: readonly FacilityEntry[];
  readonly labCodes: readonly LabCodeEntry[];
  readonly orderables: readonly OrderableEntry[];
  readonly units: readonly UnitEntry[];
  readonly flags: readonly FlagEntry[];
  readonly criticalRanges: readonly CriticalRangeEntry[];
  readonly orderRoutes: readonly OrderRouteEntry[];
  readonly orderRules: readonly OrderRuleEntry[];
  readonly imagingProcedures: readonly ImagingProcedureEntry[];
  readonly formulary: readonly FormularyEntry[];
}

/** Counts and identity of a loaded terminology, for the start-up / reload log line. */
export interface TerminologySummary {
  readonly version: string;
  readonly contentHash: string;
  readonly source: string;
  readonly facilities: number;
  readonly labCodes: number;
  readonly orderables: number;
  readonly units: number;
  readonly flags: number;
  readonly criticalRanges: number;
  readonly orderRoutes: number;
  readonly orderRules: number;
  readonly imagingProcedures: number;
  readonly formulary: number;
}

/** A coding as an order carries it (FHIR `Coding`: system URI, or null when none). */
export interface OrderCoding {
  readonly system: string | null;
  readonly code: string;
}

/** Legacy HL7 v2 priority codes (table 0027) accepted by `orderRule` beside the FHIR ones. */
const V2_PRIORITIES: Readonly<Record<string, OrderPriority>> = {
  S: 'stat',
  A: 'asap',
  R: 'routine',
};

type LocalEntry = LabCodeEntry | OrderableEntry;

interface LocalIndex<T extends LocalEntry> {
  readonly byCode: Map<string, T>;
  readonly byLoinc: Map<string, T[]>;
  readonly all: T[];
}

/**
 * One immutable, validated version of the code-set tables: local lab codes and orderables per
 * sending facility → LOINC, unit strings → UCUM, HL7 table 0078 flags → v3
 * ObservationInterpretation, critical ranges per LOINC and unit.
 *
 * Immutable on purpose: a message is mapped with one `Terminology` from start to end, and a
 * reload (see `TerminologyStore`) swaps the whole object, so no message ever sees half of an
 * old table and half of a new one. Obtain one with `loadTerminology()` or `parseTerminology()`.
 */
export class Terminology {
  /** manifest.json `version`. */
  readonly version: string;
  /** SHA-256 (hex) of every file's name and bytes: identifies the exact content loaded. */
  readonly contentHash: string;
  /** The directory (or label) the tables were read from. */
  readonly source: string;
  readonly manifest: TerminologyManifest;

  private readonly facilityIndex = new Map<string, FacilityEntry>();
  private readonly labCodeIndex = new Map<string, LocalIndex<LabCodeEntry>>();
  private readonly orderableIndex = new Map<string, LocalIndex<OrderableEntry>>();
  private readonly unitsExact = new Map<string, UnitEntry>();
  private readonly unitsFolded = new Map<string, UnitEntry[]>();
  private readonly flagIndex = new Map<string, FlagEntry>();
  private readonly criticalIndex = new Map<string, CriticalRangeEntry[]>();
  private readonly criticalInterpretations = new Set<string>();
  private readonly routeIndex = new Map<string, OrderRouteEntry>();
  private readonly ruleIndex = new Map<string, OrderRuleEntry>();
  private readonly imagingIndex = new Map<string, FacilityRows<ImagingProcedureEntry>>();
  private readonly formularyIndex = new Map<string, FacilityRows<FormularyEntry>>();
  private readonly tables: TerminologyTables;

  /** @internal use `loadTerminology()` / `parseTerminology()`, which validate the tables first. */
  constructor(tables: TerminologyTables, contentHash: string, source: string) {
    this.tables = tables;
    this.manifest = tables.manifest;
    this.version = tables.manifest.version;
    this.contentHash = contentHash;
    this.source = source;
    for (const f of tables.facilities) this.facilityIndex.set(f.facility, f);
    index(this.labCodeIndex, tables.labCodes);
    index(this.orderableIndex, tables.orderables);
    for (const u of tables.units) {
      this.unitsExact.set(u.localUnit, u);
      const folded = u.localUnit.toLowerCase();
      const list = this.unitsFolded.get(folded) ?? [];
      list.push(u);
      this.unitsFolded.set(folded, list);
    }
    for (const f of tables.flags) {
      this.flagIndex.set(f.flag.toUpperCase(), f);
      if (f.critical) this.criticalInterpretations.add(f.interpretationCode);
    }
    for (const r of tables.criticalRanges) {
      const list = this.criticalIndex.get(r.loincCode) ?? [];
      list.push(r);
      this.criticalIndex.set(r.loincCode, list);
    }
    for (const r of tables.orderRoutes) {
      this.routeIndex.set(routeKey(r.category, r.codeSystem, r.code), r);
    }
    for (const r of tables.orderRules) this.ruleIndex.set(r.priority, r);
    for (const p of tables.imagingProcedures) {
      const idx = facilityRows(this.imagingIndex, p.facility);
      idx.byCode.set(p.localCode, p);
      if (!idx.byStandard.has(p.cptCode)) idx.byStandard.set(p.cptCode, p);
      idx.all.push(p);
    }
    for (const f of tables.formulary) {
      const idx = facilityRows(this.formularyIndex, f.facility);
      idx.byCode.set(f.ndc, f);
      if (!idx.byStandard.has(f.rxnormCode)) idx.byStandard.set(f.rxnormCode, f);
      idx.all.push(f);
    }
  }

  /** Sizes and identity, for the log line a service writes when it loads or reloads. */
  summary(): TerminologySummary {
    return {
      version: this.version,
      contentHash: this.contentHash,
      source: this.source,
      facilities: this.tables.facilities.length,
      labCodes: this.tables.labCodes.length,
      orderables: this.tables.orderables.length,
      units: this.tables.units.length,
      flags: this.tables.flags.length,
      criticalRanges: this.tables.criticalRanges.length,
      orderRoutes: this.tables.orderRoutes.length,
      orderRules: this.tables.orderRules.length,
      imagingProcedures: this.tables.imagingProcedures.length,
      formulary: this.tables.formulary.length,
    };
  }

  /** Every sending facility, in file order. */
  facilities(): readonly FacilityEntry[] {
    return this.tables.facilities;
  }

  /** A sending facility by its MSH-4.1 id, or undefined. */
  facility(facility: string): FacilityEntry | undefined {
    return this.facilityIndex.get(facility);
  }

  /**
   * The LOINC mapping of a result code (OBX-3) sent by a facility.
   *
   * `localSystem` is OBX-3.3 as sent. When it names LOINC (`LN`), the code is accepted only if
   * the facility's table maps some local code to that LOINC: the table stays the one authority
   * on what a facility may send. When it names another system, it must be the row's system.
   * @throws UnmappedCodeError (kind `lab-code`) with a reason an analyst can act on.
   */
  mapLabCode(facility: string, localCode: string, localSystem?: string | null): LabCodeEntry {
    return this.mapLocal('lab-code', this.labCodeIndex, facility, localCode, localSystem);
  }

  /** Like {@link mapLabCode}, for an ordered test or panel (OBR-4); kind `orderable`. */
  mapOrderable(facility: string, localCode: string, localSystem?: string | null): OrderableEntry {
    return this.mapLocal('orderable', this.orderableIndex, facility, localCode, localSystem);
  }

  /** A facility's lab codes in file order (what a simulator generates results from). */
  labCodes(facility: string): readonly LabCodeEntry[] {
    return this.requireFacilityIndex(this.labCodeIndex, facility);
  }

  /** A facility's orderables in file order, each with its component lab codes. */
  orderables(facility: string): readonly OrderableEntry[] {
    return this.requireFacilityIndex(this.orderableIndex, facility);
  }

  /**
   * The UCUM unit for a unit string as sent (OBX-6.1). An exact row wins; otherwise rows that
   * differ only in letter case are used when they all agree (`MG/DL` → `mg/dL`), because UCUM
   * is case-sensitive but senders often are not.
   * @throws UnmappedCodeError (kind `unit`); RangeError for a blank unit (no unit is not a
   *   unit to map: the caller records "no unit").
   */
  mapUnit(unit: string): UnitEntry {
    const key = unit.trim();
    if (key === '') throw new RangeError('mapUnit needs a unit; a blank OBX-6 means "no unit"');
    const exact = this.unitsExact.get(key);
    if (exact) return exact;
    const folded = this.unitsFolded.get(key.toLowerCase()) ?? [];
    const first = folded[0];
    if (first && folded.every((u) => u.ucumUnit === first.ucumUnit)) return first;
    const details = { kind: 'unit' as const, facility: null, code: key, system: null };
    if (folded.length > 1) {
      throw this.unmapped(
        details,
        `no UCUM mapping for unit "${key}": units.csv has ${folded.map((u) => `"${u.localUnit}" → ${u.ucumUnit}`).join(', ')}, which differ only in letter case; add a row for "${key}"`,
      );
    }
    throw this.unmapped(details, `no UCUM mapping for unit "${key}" (units.csv)`);
  }

  /**
   * The v3 ObservationInterpretation code for an HL7 table 0078 abnormal flag (OBX-8), and
   * whether the flag marks a critical value. Case-insensitive (`h` is `H`).
   * @throws UnmappedCodeError (kind `flag`).
   */
  mapFlag(flag: string): FlagEntry {
    const key = flag.trim().toUpperCase();
    const entry = this.flagIndex.get(key);
    if (entry) return entry;
    throw this.unmapped(
      { kind: 'flag', facility: null, code: flag.trim(), system: 'HL70078' },
      `no interpretation mapping for abnormal flag "${flag.trim()}" (HL7 table 0078, flags.csv)`,
    );
  }

  /**
   * Whether a v3 ObservationInterpretation code (as written into a LabResult) comes from a flag
   * that marks a critical value: lets a consumer of LabResults tell why a value was critical.
   */
  isCriticalInterpretation(interpretationCode: string): boolean {
    return this.criticalInterpretations.has(interpretationCode);
  }

  /** Every critical range of a LOINC (one per unit); empty when the test has none. */
  criticalRangesFor(loincCode: string): readonly CriticalRangeEntry[] {
    return this.criticalIndex.get(loincCode) ?? [];
  }

  /**
   * The critical range of a LOINC in a UCUM unit (null: no unit), or undefined when there is
   * none for that unit. Compare with {@link criticalRangesFor} to tell "no critical range"
   * from "critical ranges exist, but in another unit".
   */
  criticalRangeFor(loincCode: string, ucumUnit: string | null): CriticalRangeEntry | undefined {
    return this.criticalRangesFor(loincCode).find((r) => r.ucumUnit === ucumUnit);
  }

  /**
   * The FHIR `Coding.system` for an HL7 v2 coding-system name sent by a facility: standard
   * names (`LN`, `SCT`, `UCUM`, `HL7nnnn`) by their URI; local ones (`L`, `99xxx`) and none by
   * the facility's `local_system_uri`; null when neither applies (unknown facility).
   */
  codeSystemUri(facility: string, hl7System: string | null | undefined): string | null {
    const standard = hl7System ? standardCodeSystemUri(hl7System) : undefined;
    if (standard) return standard;
    return this.facilityIndex.get(facility)?.localSystemUri ?? null;
  }

  /**
   * Where an order goes (order-routes.csv): the ancillary (`destination`) and the facility whose
   * tables map its codes outbound. The most specific row wins: system and code, then system and
   * `*`, then `*` and `*`. `coding.system` is a FHIR URI; an HL7 v2 name (`LN`, `C4`) is
   * accepted too.
   * @throws UnmappedCodeError (kind `route`) when no row matches: the order cannot be placed.
   */
  routeOrder(category: OrderCategory, coding: OrderCoding): OrderRouteEntry {
    const code = coding.code.trim();
    const rawSystem = coding.system?.trim() ? coding.system.trim() : null;
    const system = rawSystem === null ? null : (standardCodeSystemUri(rawSystem) ?? rawSystem);
    const route =
      (system !== null && this.routeIndex.get(routeKey(category, system, code))) ||
      (system !== null && this.routeIndex.get(routeKey(category, system, ANY_CODE))) ||
      this.routeIndex.get(routeKey(category, ANY_CODE, ANY_CODE));
    if (route) return route;
    throw this.unmapped(
      { kind: 'route', facility: null, code, system },
      `no route for ${category} code ${code} (${system ?? 'no code system'}) in order-routes.csv; add a row for this code, its system (code *), or the category (* *)`,
    );
  }

  /**
   * What an order's priority means (order-rules.csv): its lane (STAT orders overtake routine
   * ones) and whether its results are flagged high priority. Takes FHIR request-priority codes
   * (case-insensitive) and, for results that carry the v2 one, table 0027 `S`/`A`/`R`. A blank
   * priority is `routine` (FHIR: "routine" is the default) and so is an unknown one: an
   * unexpected value must not stop an order or a result, and routine is the conservative lane.
   * @see https://hl7.org/fhir/R4/valueset-request-priority.html
   */
  orderRule(priority: string | null | undefined): OrderRuleEntry {
    const text = priority?.trim() ?? '';
    const key = V2_PRIORITIES[text.toUpperCase()] ?? text.toLowerCase();
    const rule = this.ruleIndex.get(key) ?? this.ruleIndex.get('routine');
    if (rule) return rule;
    // Unreachable with validated tables (every priority has a row); kept for a clear error.
    throw this.unmapped(
      { kind: 'order-rule', facility: null, code: text, system: null },
      `no rule for order priority "${text}" or routine in order-rules.csv`,
    );
  }

  /**
   * How a lab (facility) expects a LOINC to be ordered (outbound OBR-4): the orderable whose
   * LOINC it is (orderables.csv, a panel or single-test orderable), else the lab code with that
   * LOINC (lab-codes.csv, a single test). The first row in file order wins when several match.
   * @throws UnmappedCodeError (kind `orderable`) naming the files to add a row to.
   */
  labOrderCode(facility: string, loinc: string): OutboundCode {
    const code = loinc.trim();
    const details = { kind: 'orderable' as const, facility, code, system: LOINC_SYSTEM };
    if (!this.facilityIndex.has(facility)) {
      throw this.unmapped(
        details,
        `cannot order LOINC ${code} from facility ${facility}: the facility is not in facilities.csv`,
      );
    }
    const row =
      this.orderableIndex.get(facility)?.byLoinc.get(code)?.[0] ??
      this.labCodeIndex.get(facility)?.byLoinc.get(code)?.[0];
    if (!row) {
      throw this.unmapped(
        details,
        `no orderable or lab code of facility ${facility} maps to LOINC ${code}; add a row to orderables.csv (or lab-codes.csv for a single test)`,
      );
    }
    return {
      localCode: row.localCode,
      localSystem: row.localSystem,
      localDisplay: row.localDisplay,
      code: { system: LOINC_SYSTEM, code: row.loincCode, display: row.loincDisplay },
    };
  }

  /**
   * How a radiology facility expects a CPT to be ordered (outbound OBR-4): the first row of
   * imaging-procedures.csv with that CPT.
   * @throws UnmappedCodeError (kind `imaging-procedure`).
   */
  imagingOrderCode(facility: string, cpt: string): OutboundCode {
    const code = cpt.trim();
    const details = { kind: 'imaging-procedure' as const, facility, code, system: CPT_SYSTEM };
    if (!this.facilityIndex.has(facility)) {
      throw this.unmapped(
        details,
        `cannot order CPT ${code} from facility ${facility}: the facility is not in facilities.csv`,
      );
    }
    const row = this.imagingIndex.get(facility)?.byStandard.get(code);
    if (!row) {
      throw this.unmapped(
        details,
        `no imaging procedure of facility ${facility} has CPT ${code}; add a row to imaging-procedures.csv`,
      );
    }
    return toOutbound(row);
  }

  /**
   * The imaging procedure of a procedure code a RIS sends (inbound OBR-4). A local code must
   * come with the row's system (or none); a CPT sent as such (`C4`, `CPT`, the CPT URI) is
   * accepted only when a row of the facility has it: the table stays the authority.
   * @throws UnmappedCodeError (kind `imaging-procedure`).
   */
  mapImagingProcedure(
    facility: string,
    localCode: string,
    localSystem?: string | null,
  ): ImagingProcedureEntry {
    const code = localCode.trim();
    const system = localSystem?.trim() ? localSystem.trim() : null;
    const details = { kind: 'imaging-procedure' as const, facility, code, system };
    const base = `no CPT mapping for imaging procedure "${code}" (${system === null ? 'no coding system' : `system ${system}`}) from sending facility ${facility}`;
    if (!this.facilityIndex.has(facility)) {
      throw this.unmapped(details, `${base}: the facility is not in facilities.csv`);
    }
    const idx = this.imagingIndex.get(facility);
    if (system !== null && isCptSystem(system)) {
      const row = idx?.byStandard.get(code);
      if (row) return row;
      throw this.unmapped(
        details,
        `CPT ${code} sent by sending facility ${facility} is not in imaging-procedures.csv for it; add a row`,
      );
    }
    const row = idx?.byCode.get(code);
    if (!row) throw this.unmapped(details, `${base}; add a row to imaging-procedures.csv`);
    if (system !== null && system.toUpperCase() !== row.localSystem.toUpperCase()) {
      throw this.unmapped(
        details,
        `${base}: imaging-procedures.csv line ${row.source.line} maps "${code}" in system ${row.localSystem} only`,
      );
    }
    return row;
  }

  /** A radiology facility's procedures in file order (what a simulator reports on). */
  imagingProcedures(facility: string): readonly ImagingProcedureEntry[] {
    return this.requireFacility(facility, this.imagingIndex.get(facility)?.all);
  }

  /**
   * The formulary row a pharmacy (facility) dispenses an ordered RxNorm drug as (outbound RXE-2
   * NDC, RXO-1 local code): the first row with that RxNorm.
   * @throws UnmappedCodeError (kind `formulary`).
   */
  formularyByRxnorm(facility: string, rxnorm: string): FormularyEntry {
    const code = rxnorm.trim();
    const details = { kind: 'formulary' as const, facility, code, system: RXNORM_SYSTEM };
    if (!this.facilityIndex.has(facility)) {
      throw this.unmapped(
        details,
        `cannot order RxNorm ${code} from pharmacy ${facility}: the facility is not in facilities.csv`,
      );
    }
    const row = this.formularyIndex.get(facility)?.byStandard.get(code);
    if (!row) {
      throw this.unmapped(
        details,
        `RxNorm ${code} is not in the formulary of pharmacy ${facility}; add a row with its NDC to formulary.csv`,
      );
    }
    return row;
  }

  /**
   * The formulary row of a dispensed NDC (inbound RXD-2, MedicationDispense): any NDC form is
   * accepted (11 digits with or without hyphens, hyphenated 10-digit 4-4-2 / 5-3-2 / 5-4-1).
   * Undefined when the NDC is not in the facility's formulary (or is no NDC): a dispense is
   * still recorded with its NDC, with the RxNorm only where the formulary maps it.
   * @throws UnmappedCodeError (kind `formulary`) only when the facility is unknown.
   */
  formularyByNdc(facility: string, ndc: string): FormularyEntry | undefined {
    if (!this.facilityIndex.has(facility)) {
      throw this.unmapped(
        { kind: 'formulary', facility, code: ndc.trim(), system: 'NDC' },
        `cannot map NDC ${ndc.trim()} from pharmacy ${facility}: the facility is not in facilities.csv`,
      );
    }
    const normalized = normalizeNdc(ndc);
    return normalized === undefined
      ? undefined
      : this.formularyIndex.get(facility)?.byCode.get(normalized);
  }

  /** A pharmacy's formulary in file order. */
  formulary(facility: string): readonly FormularyEntry[] {
    return this.requireFacility(facility, this.formularyIndex.get(facility)?.all);
  }

  /** Every order route, in file order. */
  orderRoutes(): readonly OrderRouteEntry[] {
    return this.tables.orderRoutes;
  }

  /** Every order rule, in file order. */
  orderRules(): readonly OrderRuleEntry[] {
    return this.tables.orderRules;
  }

  private requireFacility<T>(facility: string, rows: readonly T[] | undefined): readonly T[] {
    if (!this.facilityIndex.has(facility)) {
      throw new RangeError(
        `facility "${facility}" is not in facilities.csv (known: ${[...this.facilityIndex.keys()].join(', ')})`,
      );
    }
    return rows ?? [];
  }

  private mapLocal<T extends LocalEntry>(
    kind: 'lab-code' | 'orderable',
    indexes: Map<string, LocalIndex<T>>,
    facility: string,
    localCode: string,
    localSystem: string | null | undefined,
  ): T {
    const code = localCode.trim();
    const system = localSystem?.trim() ? localSystem.trim() : null;
    const details = { kind, facility, code, system };
    const what = kind === 'lab-code' ? 'local code' : 'orderable';
    const file = kind === 'lab-code' ? 'lab-codes.csv' : 'orderables.csv';
    const base = `no LOINC mapping for ${what} "${code}" (${system === null ? 'no coding system' : `system ${system}`}) from sending facility ${facility}`;
    if (!this.facilityIndex.has(facility)) {
      throw this.unmapped(details, `${base}: the facility is not in facilities.csv`);
    }
    const idx = indexes.get(facility);
    if (system !== null && isLoincSystem(system)) {
      const rows = idx?.byLoinc.get(code);
      if (rows?.[0]) return rows[0];
      throw this.unmapped(
        details,
        `LOINC ${code} sent as ${what} by sending facility ${facility} is not mapped from any of its codes in ${file}`,
      );
    }
    const row = idx?.byCode.get(code);
    if (!row) throw this.unmapped(details, base);
    if (system !== null && system.toUpperCase() !== row.localSystem.toUpperCase()) {
      throw this.unmapped(
        details,
        `${base}: ${file} line ${row.source.line} maps "${code}" in system ${row.localSystem} only`,
      );
    }
    return row;
  }

  private requireFacilityIndex<T extends LocalEntry>(
    indexes: Map<string, LocalIndex<T>>,
    facility: string,
  ): readonly T[] {
    return this.requireFacility(facility, indexes.get(facility)?.all);
  }

  private unmapped(
    details: {
      kind: UnmappedCodeKind;
      facility: string | null;
      code: string;
      system: string | null;
    },
    message: string,
  ): UnmappedCodeError {
    return new UnmappedCodeError({ ...details, terminologyVersion: this.version }, message);
  }
}

function index<T extends LocalEntry>(target: Map<string, LocalIndex<T>>, rows: readonly T[]): void {
  for (const row of rows) {
    let idx = target.get(row.facility);
    if (!idx) {
      idx = { byCode: new Map(), byLoinc: new Map(), all: [] };
      target.set(row.facility, idx);
    }
    idx.byCode.set(row.localCode, row);
    const list = idx.byLoinc.get(row.loincCode) ?? [];
    list.push(row);
    idx.byLoinc.set(row.loincCode, list);
    idx.all.push(row);
  }
}

/** Rows of one facility by their own code and by the standard code they map to (first wins). */
interface FacilityRows<T> {
  readonly byCode: Map<string, T>;
  readonly byStandard: Map<string, T>;
  readonly all: T[];
}

function facilityRows<T>(target: Map<string, FacilityRows<T>>, facility: string): FacilityRows<T> {
  let idx = target.get(facility);
  if (!idx) {
    idx = { byCode: new Map(), byStandard: new Map(), all: [] };
    target.set(facility, idx);
  }
  return idx;
}

function routeKey(category: string, system: string, code: string): string {
  return `${category}\u0000${system}\u0000${code}`;
}

function toOutbound(row: ImagingProcedureEntry): OutboundCode {
  return {
    localCode: row.localCode,
    localSystem: row.localSystem,
    localDisplay: row.localDisplay,
    code: { system: CPT_SYSTEM, code: row.cptCode, display: row.cptDisplay },
  };
}
