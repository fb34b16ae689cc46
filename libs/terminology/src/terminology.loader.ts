import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  CPT_SYSTEM,
  LOINC_SYSTEM,
  RXNORM_SYSTEM,
  isValidCptCode,
  isValidLoincCode,
  isValidRxnormCode,
  normalizeNdc,
} from './code-systems';
import { readCsv, type CsvRow } from './csv.reader';
import { TerminologyLoadError, type TerminologyIssue } from './terminology.errors';
import {
  ANY_CODE,
  IMAGING_MODALITIES,
  LAB_VALUE_TYPES,
  ORDER_CATEGORIES,
  ORDER_LANES,
  ORDER_PRIORITIES,
  type CriticalRangeEntry,
  type FacilityEntry,
  type FlagEntry,
  type FormularyEntry,
  type ImagingModality,
  type ImagingProcedureEntry,
  type LabCodeEntry,
  type LabValueType,
  type OrderCategory,
  type OrderLane,
  type OrderPriority,
  type OrderRouteEntry,
  type OrderRuleEntry,
  type OrderableEntry,
  type TerminologyManifest,
  type UnitEntry,
} from './terminology.model';
import { Terminology } from './terminology';

/**
 * The lib's own tables (`libs/terminology/data`). Resolved from this file, so it is right when
 * the code runs from source (swc-node, Jest) — the way every service and tool here runs.
 */
export const DEFAULT_TERMINOLOGY_DIR = resolve(__dirname, '..', 'data');

/** The files of a terminology directory and the columns of each CSV (any order in the file). */
export const TERMINOLOGY_FILES = {
  'manifest.json': [],
  'facilities.csv': ['facility', 'name', 'sending_application', 'local_system_uri'],
  'lab-codes.csv': [
    'facility',
    'local_code',
    'local_system',
    'local_display',
    'loinc_code',
    'loinc_display',
    'value_type',
    'local_unit',
    'ucum_unit',
    'ref_low',
    'ref_high',
    'decimals',
  ],
  'orderables.csv': [
    'facility',
    'local_code',
    'local_system',
    'local_display',
    'loinc_code',
    'loinc_display',
    'specimen_type',
    'components',
  ],
  'units.csv': ['local_unit', 'ucum_unit', 'description'],
  'flags.csv': ['flag', 'interpretation_code', 'interpretation_display', 'critical', 'description'],
  'critical-ranges.csv': [
    'loinc_code',
    'ucum_unit',
    'critical_low',
    'critical_high',
    'description',
  ],
  'order-routes.csv': ['category', 'code_system', 'code', 'destination', 'facility', 'description'],
  'order-rules.csv': ['priority', 'lane', 'high_priority_result', 'description'],
  'imaging-procedures.csv': [
    'facility',
    'local_code',
    'local_system',
    'local_display',
    'cpt_code',
    'cpt_display',
    'modality',
    'default_modifiers',
  ],
  'formulary.csv': [
    'facility',
    'local_code',
    'local_display',
    'rxnorm_code',
    'rxnorm_display',
    'ndc',
    'ndc_display',
    'dispense_unit',
    'dose_form',
  ],
} as const satisfies Record<string, readonly string[]>;

export type TerminologyFileName = keyof typeof TERMINOLOGY_FILES;

/** The raw content of every terminology file. */
export type TerminologyFiles = Readonly<Record<TerminologyFileName, Uint8Array | string>>;

const FILE_NAMES = Object.keys(TERMINOLOGY_FILES) as TerminologyFileName[];

/**
 * Reads and validates the terminology in `dir` (default: the lib's own `data/`).
 * Synchronous on purpose: it runs at start-up, before a service consumes anything, and on a
 * reload, where a few kilobytes are read in well under a millisecond.
 * @throws TerminologyLoadError listing every problem (file, line, column, why).
 */
export function loadTerminology(dir: string = DEFAULT_TERMINOLOGY_DIR): Terminology {
  const directory = resolve(dir);
  const issues: TerminologyIssue[] = [];
  const files: Partial<Record<TerminologyFileName, Uint8Array>> = {};
  for (const name of FILE_NAMES) {
    try {
      files[name] = readFileSync(join(directory, name));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      issues.push({
        file: name,
        reason:
          code === 'ENOENT'
            ? 'the file is missing'
            : `cannot be read: ${error instanceof Error ? error.message : String(error)}`,
      });
    }
  }
  if (issues.length > 0) throw new TerminologyLoadError(directory, issues);
  return parseTerminology(files as TerminologyFiles, directory);
}

/**
 * Validates terminology files already in memory (tests, tools that build tables) and returns
 * the `Terminology`. `source` names where they came from in messages.
 * @throws TerminologyLoadError listing every problem.
 */
export function parseTerminology(files: TerminologyFiles, source = '<memory>'): Terminology {
  const issues: TerminologyIssue[] = [];
  const bytes = new Map<TerminologyFileName, Uint8Array>();
  const texts = new Map<TerminologyFileName, string>();
  for (const name of FILE_NAMES) {
    const content = files[name] as Uint8Array | string | undefined;
    if (content === undefined) {
      issues.push({ file: name, reason: 'the file is missing' });
      continue;
    }
    const raw = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    bytes.set(name, raw);
    const text = decodeUtf8(name, raw, issues);
    if (text !== undefined) texts.set(name, text);
  }

  const manifest = readManifest(texts.get('manifest.json'), issues);
  const rows = (name: Exclude<TerminologyFileName, 'manifest.json'>): CsvRow[] | undefined => {
    const text = texts.get(name);
    return text === undefined ? undefined : readCsv(name, text, TERMINOLOGY_FILES[name], issues);
  };
  // Cross-file checks use every row of the referenced file, valid or not, and are skipped when
  // that file could not be read at all: each problem is reported once, where it is, not again
  // on every row that refers to it.
  const facilityRows = rows('facilities.csv');
  const unitRows = rows('units.csv');
  const labCodeRows = rows('lab-codes.csv');
  const facilities = readFacilities(facilityRows ?? [], issues);
  const units = readUnits(unitRows ?? [], issues);
  const labCodes = readLabCodes(
    labCodeRows ?? [],
    facilityRows && new Set(facilityRows.map((r) => r.values.get('facility') ?? '')),
    unitRows && firstWins(unitRows.map((r) => [cell(r, 'local_unit'), cell(r, 'ucum_unit')])),
    issues,
  );
  const orderables = readOrderables(
    rows('orderables.csv') ?? [],
    facilityRows && new Set(facilityRows.map((r) => cell(r, 'facility'))),
    labCodeRows &&
      new Set(labCodeRows.map((r) => `${cell(r, 'facility')}\u0000${cell(r, 'local_code')}`)),
    issues,
  );
  const flags = readFlags(rows('flags.csv') ?? [], issues);
  const criticalRanges = readCriticalRanges(rows('critical-ranges.csv') ?? [], issues);
  checkCriticalUnits(labCodes, criticalRanges, issues);
  const facilityIds = facilityRows && new Set(facilityRows.map((r) => cell(r, 'facility')));
  const orderRoutes = readOrderRoutes(rows('order-routes.csv') ?? [], facilityIds, issues);
  const orderRules = readOrderRules(rows('order-rules.csv'), issues);
  const imagingProcedures = readImagingProcedures(
    rows('imaging-procedures.csv') ?? [],
    facilityIds,
    issues,
  );
  const formulary = readFormulary(rows('formulary.csv') ?? [], facilityIds, issues);

  if (issues.length > 0 || !manifest) throw new TerminologyLoadError(source, issues);
  return new Terminology(
    {
      manifest,
      facilities,
      labCodes,
      orderables,
      units,
      flags,
      criticalRanges,
      orderRoutes,
      orderRules,
      imagingProcedures,
      formulary,
    },
    contentHash(bytes),
    source,
  );
}

/**
 * A lab code whose LOINC has critical ranges must report in one of their units: otherwise every
 * numeric result of it would be dead-lettered as a unit mismatch. Caught here, at load, instead.
 */
function checkCriticalUnits(
  labCodes: readonly LabCodeEntry[],
  ranges: readonly CriticalRangeEntry[],
  issues: TerminologyIssue[],
): void {
  const units = new Map<string, (string | null)[]>();
  for (const r of ranges) units.set(r.loincCode, [...(units.get(r.loincCode) ?? []), r.ucumUnit]);
  for (const code of labCodes) {
    const rangeUnits = units.get(code.loincCode);
    if (!rangeUnits || code.valueType !== 'NM' || rangeUnits.includes(code.ucumUnit)) continue;
    issues.push({
      file: code.source.file,
      line: code.source.line,
      column: 'ucum_unit',
      reason: `${code.ucumUnit ?? '(blank)'} has no critical range for LOINC ${code.loincCode}, which critical-ranges.csv defines in ${rangeUnits.map((u) => u ?? '(no unit)').join(', ')}; add a range in this unit`,
    });
  }
}

function cell(row: CsvRow, column: string): string {
  return row.values.get(column) ?? '';
}

/** A map from pairs where the first occurrence of a key wins (duplicates are reported elsewhere). */
function firstWins(pairs: [string, string][]): Map<string, string> {
  const map = new Map<string, string>();
  for (const [k, v] of pairs) if (!map.has(k)) map.set(k, v);
  return map;
}

/** SHA-256 over every file's name, length and bytes, in a fixed order. */
function contentHash(files: ReadonlyMap<TerminologyFileName, Uint8Array>): string {
  const hash = createHash('sha256');
  for (const name of FILE_NAMES) {
    const content = files.get(name) ?? new Uint8Array();
    hash.update(`${name}\u0000${content.length}\u0000`);
    hash.update(content);
  }
  return hash.digest('hex');
}

function decodeUtf8(file: string, raw: Uint8Array, issues: TerminologyIssue[]): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    const lenient = new TextDecoder('utf-8').decode(raw);
    const at = lenient.indexOf('\uFFFD');
    const line = lenient.slice(0, Math.max(0, at)).split('\n').length;
    issues.push({
      file,
      line,
      reason:
        'is not valid UTF-8 (save the file as "CSV UTF-8"); Latin-1 or Windows-1252 bytes found',
    });
    return undefined;
  }
}

function readManifest(
  text: string | undefined,
  issues: TerminologyIssue[],
): TerminologyManifest | undefined {
  const file = 'manifest.json';
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    issues.push({ file, reason: `is not valid JSON: ${(error as Error).message}` });
    return undefined;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    issues.push({ file, reason: 'must be a JSON object with "version" and "description"' });
    return undefined;
  }
  const record = json as Record<string, unknown>;
  let ok = true;
  for (const key of Object.keys(record)) {
    if (key !== 'version' && key !== 'description') {
      issues.push({ file, column: key, reason: 'unknown key (expected "version", "description")' });
      ok = false;
    }
  }
  const version = record['version'];
  if (typeof version !== 'string' || !/^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/.test(version)) {
    issues.push({
      file,
      column: 'version',
      reason:
        'must be a non-empty string of letters, digits and . + _ - (at most 64), e.g. "2026.11.0"',
    });
    ok = false;
  }
  const description = record['description'];
  if (description !== undefined && typeof description !== 'string') {
    issues.push({ file, column: 'description', reason: 'must be a string' });
    ok = false;
  }
  return ok && typeof version === 'string'
    ? { version, description: typeof description === 'string' ? description : null }
    : undefined;
}

/** Reads typed cells of one row, recording an issue per bad cell. */
class RowReader {
  ok = true;

  constructor(
    private readonly file: string,
    private readonly row: CsvRow,
    private readonly issues: TerminologyIssue[],
  ) {}

  get line(): number {
    return this.row.line;
  }

  fail(column: string | undefined, reason: string): void {
    this.issues.push({
      file: this.file,
      line: this.row.line,
      ...(column === undefined ? {} : { column }),
      reason,
    });
    this.ok = false;
  }

  text(column: string): string {
    return this.row.values.get(column) ?? '';
  }

  required(column: string): string {
    const value = this.text(column);
    if (value === '') this.fail(column, 'is empty; a value is required');
    return value;
  }

  optional(column: string): string | null {
    const value = this.text(column);
    return value === '' ? null : value;
  }

  code(column: string): string {
    const value = this.required(column);
    if (value !== '' && /[\s|^~\\&]/.test(value)) {
      this.fail(column, `"${value}" contains a space or an HL7 delimiter (| ^ ~ \\ &)`);
    }
    return value;
  }

  loinc(column: string): string {
    const value = this.required(column);
    if (value !== '' && !isValidLoincCode(value)) {
      this.fail(
        column,
        /^\d{1,7}-\d$/.test(value)
          ? `"${value}" has a wrong LOINC check digit (mistyped code?)`
          : `"${value}" is not a LOINC code (digits, a hyphen, a check digit: 2345-7)`,
      );
    }
    return value;
  }

  ucum(column: string, required: boolean): string | null {
    const value = required ? this.required(column) : this.text(column);
    if (value === '') return null;
    // UCUM codes are printable ASCII without spaces (UCUM §3); deeper grammar is not checked.
    if (!/^[!-~]+$/.test(value)) {
      this.fail(column, `"${value}" is not a UCUM code (printable ASCII, no spaces, e.g. mg/dL)`);
    }
    return value;
  }

  number(column: string): number | null {
    const value = this.text(column);
    if (value === '') return null;
    if (!/^-?(\d+(\.\d*)?|\.\d+)$/.test(value)) {
      this.fail(column, `"${value}" is not a number (use a dot for decimals: 3.5)`);
      return null;
    }
    return Number(value);
  }

  yesNo(column: string): boolean {
    const value = this.required(column).toUpperCase();
    if (value === 'Y') return true;
    if (value === 'N') return false;
    if (value !== '') this.fail(column, `"${this.text(column)}" must be Y or N`);
    return false;
  }

  /** One of `allowed` (compared upper- or lower-case as `fold` says); '' when blank or wrong. */
  oneOf<T extends string>(column: string, allowed: readonly T[], fold: 'upper' | 'lower'): T | '' {
    const raw = this.required(column);
    const value = fold === 'upper' ? raw.toUpperCase() : raw.toLowerCase();
    if (raw === '') return '';
    if (!(allowed as readonly string[]).includes(value)) {
      this.fail(column, `"${raw}" must be one of ${allowed.join(', ')}`);
      return '';
    }
    return value as T;
  }

  /** A facility id that must be in facilities.csv (unchecked when that file is unreadable). */
  facility(column: string, facilities: ReadonlySet<string> | undefined): string {
    const facility = this.code(column);
    if (facility !== '' && facilities && !facilities.has(facility)) {
      this.fail(column, `"${facility}" is not in facilities.csv; add the facility there first`);
    }
    return facility;
  }

  range(lowColumn: string, highColumn: string): [number | null, number | null] {
    const low = this.number(lowColumn);
    const high = this.number(highColumn);
    if (low !== null && high !== null && low >= high) {
      this.fail(highColumn, `${high} must be greater than ${lowColumn} ${low}`);
    }
    return [low, high];
  }
}

/** Records a duplicate-key issue and returns false when `key` was already seen. */
function unique(
  seen: Map<string, number>,
  key: string,
  reader: RowReader,
  column: string,
  what: string,
): boolean {
  const first = seen.get(key);
  if (first !== undefined) {
    reader.fail(column, `duplicate ${what}: already defined on line ${first}`);
    return false;
  }
  seen.set(key, reader.line);
  return true;
}

function readFacilities(rows: CsvRow[], issues: TerminologyIssue[]): FacilityEntry[] {
  const file = 'facilities.csv';
  const seen = new Map<string, number>();
  const out: FacilityEntry[] = [];
  for (const row of rows) {
    const r = new RowReader(file, row, issues);
    const facility = r.code('facility');
    const name = r.required('name');
    const sendingApplication = r.code('sending_application');
    const localSystemUri = r.required('local_system_uri');
    if (localSystemUri !== '' && !/^(https?:\/\/|urn:)\S+$/.test(localSystemUri)) {
      r.fail(
        'local_system_uri',
        `"${localSystemUri}" must be an absolute URI (http(s):// or urn:)`,
      );
    }
    if (facility !== '') unique(seen, facility, r, 'facility', `facility ${facility}`);
    if (r.ok) {
      out.push({
        facility,
        name,
        sendingApplication,
        localSystemUri,
        source: { file, line: r.line },
      });
    }
  }
  return out;
}

function readUnits(rows: CsvRow[], issues: TerminologyIssue[]): UnitEntry[] {
  const file = 'units.csv';
  const seen = new Map<string, number>();
  const out: UnitEntry[] = [];
  for (const row of rows) {
    const r = new RowReader(file, row, issues);
    const localUnit = r.required('local_unit');
    const ucumUnit = r.ucum('ucum_unit', true) ?? '';
    const description = r.text('description');
    if (localUnit !== '') unique(seen, localUnit, r, 'local_unit', `unit "${localUnit}"`);
    if (r.ok) out.push({ localUnit, ucumUnit, description, source: { file, line: r.line } });
  }
  return out;
}

/** `facilities` / `unitMap` are undefined when their file could not be read (checks skipped). */
function readLabCodes(
  rows: CsvRow[],
  facilities: ReadonlySet<string> | undefined,
  unitMap: ReadonlyMap<string, string> | undefined,
  issues: TerminologyIssue[],
): LabCodeEntry[] {
  const file = 'lab-codes.csv';
  const seen = new Map<string, number>();
  const out: LabCodeEntry[] = [];
  for (const row of rows) {
    const r = new RowReader(file, row, issues);
    const facility = r.code('facility');
    if (facility !== '' && facilities && !facilities.has(facility)) {
      r.fail('facility', `"${facility}" is not in facilities.csv`);
    }
    const localCode = r.code('local_code');
    const localSystem = r.code('local_system');
    const localDisplay = r.required('local_display');
    const loincCode = r.loinc('loinc_code');
    const loincDisplay = r.required('loinc_display');
    const valueTypeText = r.required('value_type').toUpperCase();
    if (valueTypeText !== '' && !(LAB_VALUE_TYPES as readonly string[]).includes(valueTypeText)) {
      r.fail('value_type', `"${valueTypeText}" must be one of ${LAB_VALUE_TYPES.join(', ')}`);
    }
    const localUnit = r.optional('local_unit');
    const ucumUnit = r.ucum('ucum_unit', false);
    if (localUnit !== null) {
      const mapped = unitMap ? unitMap.get(localUnit) : ucumUnit;
      if (mapped === undefined) {
        r.fail('local_unit', `"${localUnit}" is not in units.csv; add it there first`);
      } else if (mapped !== ucumUnit) {
        r.fail(
          'ucum_unit',
          `units.csv maps "${localUnit}" to ${mapped}, not ${ucumUnit ?? '(blank)'}`,
        );
      }
    } else if (ucumUnit !== null) {
      r.fail(
        'local_unit',
        `is blank but ucum_unit is ${ucumUnit}; give the unit the facility sends`,
      );
    }
    const [refLow, refHigh] = r.range('ref_low', 'ref_high');
    const decimals = r.number('decimals');
    if (decimals !== null && (!Number.isInteger(decimals) || decimals < 0 || decimals > 6)) {
      r.fail('decimals', `${decimals} must be a whole number from 0 to 6`);
    }
    if (facility !== '' && localCode !== '') {
      unique(
        seen,
        `${facility}\u0000${localCode}`,
        r,
        'local_code',
        `code ${localCode} for ${facility}`,
      );
    }
    if (r.ok) {
      out.push({
        facility,
        localCode,
        localSystem,
        localDisplay,
        loincCode,
        loincDisplay,
        valueType: valueTypeText as LabValueType,
        localUnit,
        ucumUnit,
        refLow,
        refHigh,
        decimals,
        source: { file, line: r.line },
      });
    }
  }
  return out;
}

/** `facilities` / `labCodes` (facility NUL code) are undefined when their file could not be read. */
function readOrderables(
  rows: CsvRow[],
  facilities: ReadonlySet<string> | undefined,
  labCodes: ReadonlySet<string> | undefined,
  issues: TerminologyIssue[],
): OrderableEntry[] {
  const file = 'orderables.csv';
  const seen = new Map<string, number>();
  const out: OrderableEntry[] = [];
  for (const row of rows) {
    const r = new RowReader(file, row, issues);
    const facility = r.code('facility');
    if (facility !== '' && facilities && !facilities.has(facility)) {
      r.fail('facility', `"${facility}" is not in facilities.csv`);
    }
    const localCode = r.code('local_code');
    const localSystem = r.code('local_system');
    const localDisplay = r.required('local_display');
    const loincCode = r.loinc('loinc_code');
    const loincDisplay = r.required('loinc_display');
    const specimenType = r.optional('specimen_type');
    const components = r
      .text('components')
      .split(/\s+/)
      .filter((c) => c !== '');
    const missing = labCodes
      ? components.filter((c) => !labCodes.has(`${facility}\u0000${c}`))
      : [];
    if (missing.length > 0) {
      r.fail('components', `${missing.join(', ')} not in lab-codes.csv for ${facility}`);
    }
    const repeated = components.filter((c, i) => components.indexOf(c) !== i);
    if (repeated.length > 0) r.fail('components', `${repeated.join(', ')} listed twice`);
    if (facility !== '' && localCode !== '') {
      unique(
        seen,
        `${facility}\u0000${localCode}`,
        r,
        'local_code',
        `orderable ${localCode} for ${facility}`,
      );
    }
    if (r.ok) {
      out.push({
        facility,
        localCode,
        localSystem,
        localDisplay,
        loincCode,
        loincDisplay,
        specimenType,
        components,
        source: { file, line: r.line },
      });
    }
  }
  return out;
}

function readFlags(rows: CsvRow[], issues: TerminologyIssue[]): FlagEntry[] {
  const file = 'flags.csv';
  const seen = new Map<string, number>();
  const interpretations = new Map<string, { critical: boolean; line: number }>();
  const out: FlagEntry[] = [];
  for (const row of rows) {
    const r = new RowReader(file, row, issues);
    const flag = r.code('flag');
    const interpretationCode = r.code('interpretation_code');
    const interpretationDisplay = r.required('interpretation_display');
    const critical = r.yesNo('critical');
    const description = r.text('description');
    // Flags are matched case-insensitively, so `h` and `H` would be the same key.
    if (flag !== '') unique(seen, flag.toUpperCase(), r, 'flag', `flag ${flag}`);
    // A LabResult keeps the interpretation code, not the flag: whether a code is critical
    // must not depend on which flag it came from.
    const other = interpretations.get(interpretationCode);
    if (interpretationCode !== '' && other && other.critical !== critical && r.ok) {
      r.fail(
        'critical',
        `interpretation ${interpretationCode} is critical=${other.critical ? 'Y' : 'N'} on line ${other.line}; a code must be critical for every flag or for none`,
      );
    }
    if (interpretationCode !== '' && !other) {
      interpretations.set(interpretationCode, { critical, line: r.line });
    }
    if (r.ok) {
      out.push({
        flag,
        interpretationCode,
        interpretationDisplay,
        critical,
        description,
        source: { file, line: r.line },
      });
    }
  }
  return out;
}

function readCriticalRanges(rows: CsvRow[], issues: TerminologyIssue[]): CriticalRangeEntry[] {
  const file = 'critical-ranges.csv';
  const seen = new Map<string, number>();
  const out: CriticalRangeEntry[] = [];
  for (const row of rows) {
    const r = new RowReader(file, row, issues);
    const loincCode = r.loinc('loinc_code');
    const ucumUnit = r.ucum('ucum_unit', false);
    const [criticalLow, criticalHigh] = r.range('critical_low', 'critical_high');
    if (criticalLow === null && criticalHigh === null && r.ok) {
      r.fail(undefined, 'critical_low and critical_high are both blank; give at least one');
    }
    const description = r.required('description');
    if (loincCode !== '') {
      unique(
        seen,
        `${loincCode}\u0000${ucumUnit ?? ''}`,
        r,
        'ucum_unit',
        `critical range for ${loincCode} in ${ucumUnit ?? 'no unit'}`,
      );
    }
    if (r.ok) {
      out.push({
        loincCode,
        ucumUnit,
        criticalLow,
        criticalHigh,
        description,
        source: { file, line: r.line },
      });
    }
  }
  return out;
}

/** An absolute URI as `Coding.system` carries it. */
function isAbsoluteUri(value: string): boolean {
  return /^(https?:\/\/|urn:)\S+$/.test(value);
}

/**
 * order-routes.csv. A row is a category plus a FHIR code system and code, either of which may
 * be `*`; `code_system` `*` requires `code` `*` (a code means nothing without its system).
 * Known systems have their codes checked (LOINC check digit, CPT form, RxNorm digits).
 */
function readOrderRoutes(
  rows: CsvRow[],
  facilities: ReadonlySet<string> | undefined,
  issues: TerminologyIssue[],
): OrderRouteEntry[] {
  const file = 'order-routes.csv';
  const seen = new Map<string, number>();
  const out: OrderRouteEntry[] = [];
  for (const row of rows) {
    const r = new RowReader(file, row, issues);
    const category = r.oneOf<OrderCategory>('category', ORDER_CATEGORIES, 'upper');
    const codeSystem = r.required('code_system');
    if (codeSystem !== '' && codeSystem !== ANY_CODE && !isAbsoluteUri(codeSystem)) {
      r.fail(
        'code_system',
        `"${codeSystem}" must be a FHIR code system URI (e.g. ${LOINC_SYSTEM}) or * for any`,
      );
    }
    const code = r.code('code');
    if (codeSystem === ANY_CODE && code !== '' && code !== ANY_CODE) {
      r.fail('code', `"${code}" needs a code_system; with code_system * the code must be * too`);
    } else if (code !== '' && code !== ANY_CODE) {
      checkStandardCode(r, 'code', codeSystem, code);
    }
    const destination = r.required('destination');
    if (destination !== '' && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(destination)) {
      r.fail(
        'destination',
        `"${destination}" must be a gateway's ORDER_DESTINATION: letters, digits, . _ - (e.g. lis-main)`,
      );
    }
    const facility = r.facility('facility', facilities);
    const description = r.text('description');
    if (category !== '' && codeSystem !== '' && code !== '') {
      unique(
        seen,
        `${category}\u0000${codeSystem}\u0000${code}`,
        r,
        'code',
        `route for ${category} ${codeSystem} ${code}`,
      );
    }
    if (r.ok && category !== '') {
      out.push({
        category,
        codeSystem,
        code,
        destination,
        facility,
        description,
        source: { file, line: r.line },
      });
    }
  }
  return out;
}

/** Checks a code of a system whose syntax is known; other systems are taken as written. */
function checkStandardCode(r: RowReader, column: string, system: string, code: string): void {
  if (system === LOINC_SYSTEM && !isValidLoincCode(code)) {
    r.fail(column, `"${code}" is not a valid LOINC code (form 2345-7, right check digit)`);
  } else if (system === CPT_SYSTEM && !isValidCptCode(code)) {
    r.fail(column, `"${code}" is not a CPT code (5 characters: 4 digits and a digit or letter)`);
  } else if (system === RXNORM_SYSTEM && !isValidRxnormCode(code)) {
    r.fail(column, `"${code}" is not an RxNorm concept id (digits only)`);
  }
}

/**
 * order-rules.csv: one row per FHIR request priority, and every priority must have one, so
 * that `orderRule` can never be asked for a priority the table forgot. `rows` undefined: the
 * file could not be read (already reported).
 */
function readOrderRules(rows: CsvRow[] | undefined, issues: TerminologyIssue[]): OrderRuleEntry[] {
  const file = 'order-rules.csv';
  const seen = new Map<string, number>();
  const out: OrderRuleEntry[] = [];
  for (const row of rows ?? []) {
    const r = new RowReader(file, row, issues);
    const priority = r.oneOf<OrderPriority>('priority', ORDER_PRIORITIES, 'lower');
    const lane = r.oneOf<OrderLane>('lane', ORDER_LANES, 'upper');
    const highPriorityResult = r.yesNo('high_priority_result');
    const description = r.text('description');
    if (priority !== '') unique(seen, priority, r, 'priority', `rule for priority ${priority}`);
    if (r.ok && priority !== '' && lane !== '') {
      out.push({ priority, lane, highPriorityResult, description, source: { file, line: r.line } });
    }
  }
  if (rows) {
    const missing = ORDER_PRIORITIES.filter((p) => !seen.has(p));
    if (missing.length > 0) {
      issues.push({
        file,
        column: 'priority',
        reason: `no row for priority ${missing.join(', ')}; every FHIR request priority (${ORDER_PRIORITIES.join(', ')}) needs one`,
      });
    }
  }
  return out;
}

function readImagingProcedures(
  rows: CsvRow[],
  facilities: ReadonlySet<string> | undefined,
  issues: TerminologyIssue[],
): ImagingProcedureEntry[] {
  const file = 'imaging-procedures.csv';
  const seen = new Map<string, number>();
  const out: ImagingProcedureEntry[] = [];
  for (const row of rows) {
    const r = new RowReader(file, row, issues);
    const facility = r.facility('facility', facilities);
    const localCode = r.code('local_code');
    const localSystem = r.code('local_system');
    const localDisplay = r.required('local_display');
    const cptCode = r.code('cpt_code');
    if (cptCode !== '' && !isValidCptCode(cptCode)) {
      r.fail(
        'cpt_code',
        `"${cptCode}" is not a CPT code (5 characters: 4 digits and a digit or letter, e.g. 71046)`,
      );
    }
    const cptDisplay = r.required('cpt_display');
    const modality = r.oneOf<ImagingModality>('modality', IMAGING_MODALITIES, 'upper');
    const defaultModifiers = r
      .text('default_modifiers')
      .split(/\s+/)
      .filter((m) => m !== '');
    const badModifiers = defaultModifiers.filter((m) => !/^[0-9A-Z]{2}$/.test(m));
    if (badModifiers.length > 0) {
      r.fail(
        'default_modifiers',
        `${badModifiers.map((m) => `"${m}"`).join(', ')} not CPT modifiers (two characters, e.g. 26 TC 50; separate with spaces)`,
      );
    }
    if (facility !== '' && localCode !== '') {
      unique(
        seen,
        `${facility}\u0000${localCode}`,
        r,
        'local_code',
        `imaging procedure ${localCode} for ${facility}`,
      );
    }
    if (r.ok && modality !== '') {
      out.push({
        facility,
        localCode,
        localSystem,
        localDisplay,
        cptCode,
        cptDisplay,
        modality,
        defaultModifiers,
        source: { file, line: r.line },
      });
    }
  }
  return out;
}

/**
 * formulary.csv. NDCs are stored normalised (11 digits, 5-4-2, hyphens) and must be unique per
 * facility: an inbound dispense is mapped back by its NDC. An RxNorm may have several rows
 * (several packages); outbound, the first one in the file is dispensed.
 */
function readFormulary(
  rows: CsvRow[],
  facilities: ReadonlySet<string> | undefined,
  issues: TerminologyIssue[],
): FormularyEntry[] {
  const file = 'formulary.csv';
  const seenCodes = new Map<string, number>();
  const seenNdcs = new Map<string, number>();
  const out: FormularyEntry[] = [];
  for (const row of rows) {
    const r = new RowReader(file, row, issues);
    const facility = r.facility('facility', facilities);
    const localCode = r.code('local_code');
    const localDisplay = r.required('local_display');
    const rxnormCode = r.code('rxnorm_code');
    if (rxnormCode !== '' && !isValidRxnormCode(rxnormCode)) {
      r.fail(
        'rxnorm_code',
        `"${rxnormCode}" is not an RxNorm concept id (digits only, e.g. 197361)`,
      );
    }
    const rxnormDisplay = r.required('rxnorm_display');
    const ndcText = r.required('ndc');
    const ndc = ndcText === '' ? '' : normalizeNdc(ndcText);
    if (ndc === undefined) {
      r.fail(
        'ndc',
        `"${ndcText}" is not an NDC (11 digits as 5-4-2 with hyphens, e.g. 12345-6789-01; or a hyphenated 10-digit form)`,
      );
    }
    const ndcDisplay = r.required('ndc_display');
    const dispenseUnit = r.code('dispense_unit');
    const doseForm = r.required('dose_form');
    if (facility !== '' && localCode !== '') {
      unique(
        seenCodes,
        `${facility}\u0000${localCode}`,
        r,
        'local_code',
        `formulary code ${localCode} for ${facility}`,
      );
    }
    if (facility !== '' && ndc) {
      unique(seenNdcs, `${facility}\u0000${ndc}`, r, 'ndc', `NDC ${ndc} for ${facility}`);
    }
    if (r.ok && ndc) {
      out.push({
        facility,
        localCode,
        localDisplay,
        rxnormCode,
        rxnormDisplay,
        ndc,
        ndcDisplay,
        dispenseUnit,
        doseForm,
        source: { file, line: r.line },
      });
    }
  }
  return out;
}
