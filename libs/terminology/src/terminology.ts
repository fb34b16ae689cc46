import { isLoincSystem, standardCodeSystemUri } from './code-systems';
import { UnmappedCodeError, type UnmappedCodeKind } from './terminology.errors';
import type {
  CriticalRangeEntry,
  FacilityEntry,
  FlagEntry,
  LabCodeEntry,
  OrderableEntry,
  TerminologyManifest,
  UnitEntry,
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
}

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
    if (!this.facilityIndex.has(facility)) {
      throw new RangeError(
        `sending facility "${facility}" is not in facilities.csv (known: ${[...this.facilityIndex.keys()].join(', ')})`,
      );
    }
    return indexes.get(facility)?.all ?? [];
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
