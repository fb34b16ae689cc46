/**
 * The charge master (CDM): what the hospital charges for each billable item, as data.
 *
 * Each row is one charge code in one price period with the clinical code that triggers it: the
 * LOINC (or the LIS's local orderable code) of a lab panel, the CPT of an imaging study, the NDC
 * (or RxNorm) of a dispensed drug. A completed item that no row prices is a permanent error
 * (NoChargeDefinedError), so the billing trigger dead-letters it with that reason: a missed
 * charge is visible and fixable, never silent.
 *
 * Revenue codes are the UB-04 form locator 42 codes (NUBC), four digits; modifiers are CPT/HCPCS
 * two-character modifiers; the quantity multiplier turns the trigger's unit into billing units
 * (a 1 g ceftriaxone vial is 4 units of J0696 "per 250 mg").
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  isValidCptCode,
  isValidLoincCode,
  isValidRxnormCode,
  normalizeNdc,
  readCsv,
  type CsvRow,
  type TerminologyIssue,
} from '@ancillary/terminology';
import { parseCents } from './money';

export const DEFAULT_CHARGE_MASTER_DIR = resolve(__dirname, '..', 'data');
export const CHARGE_MASTER_FILE = 'charge-master.csv';
export const CHARGE_MASTER_MANIFEST = 'manifest.json';

export const CHARGE_MASTER_COLUMNS = [
  'charge_code',
  'description',
  'cpt_hcpcs',
  'modifiers',
  'revenue_code',
  'department',
  'unit_price',
  'quantity_multiplier',
  'effective_from',
  'effective_to',
  'trigger_kind',
  'trigger_system',
  'trigger_code',
] as const;

export const CHARGE_TRIGGER_KINDS = ['lab', 'imaging', 'pharmacy'] as const;
export type ChargeTriggerKind = (typeof CHARGE_TRIGGER_KINDS)[number];

/** LOINC and LOCAL (the LIS's orderable code) for lab, CPT for imaging, NDC or RXNORM for drugs. */
export const CHARGE_TRIGGER_SYSTEMS = ['LOINC', 'LOCAL', 'CPT', 'NDC', 'RXNORM'] as const;
export type ChargeTriggerSystem = (typeof CHARGE_TRIGGER_SYSTEMS)[number];

const SYSTEMS_BY_KIND: Record<ChargeTriggerKind, readonly ChargeTriggerSystem[]> = {
  lab: ['LOINC', 'LOCAL'],
  imaging: ['CPT'],
  pharmacy: ['NDC', 'RXNORM'],
};

export interface ChargeTrigger {
  readonly kind: ChargeTriggerKind;
  readonly system: ChargeTriggerSystem;
  readonly code: string;
}

export interface ChargeMasterEntry {
  /** The hospital's CDM number (FT1-7). */
  readonly chargeCode: string;
  readonly description: string;
  /** CPT or HCPCS (FT1-25); null for items billed by revenue code alone (most oral drugs). */
  readonly cptHcpcs: string | null;
  /** FT1-26. */
  readonly modifiers: readonly string[];
  /** UB-04 revenue code, four digits. */
  readonly revenueCode: string;
  /** Department / cost centre (FT1-13). */
  readonly department: string;
  readonly unitPriceCents: number;
  /** Billing units per unit of the trigger (dispense unit, study, panel). */
  readonly quantityMultiplier: number;
  /** First day the price applies, YYYY-MM-DD. */
  readonly effectiveFrom: string;
  /** Last day it applies, YYYY-MM-DD; null while it is the current price. */
  readonly effectiveTo: string | null;
  readonly trigger: ChargeTrigger;
  /** Line in charge-master.csv, for messages. */
  readonly line: number;
}

/** The charge master could not be loaded: every problem, with file, line and column. */
export class ChargeMasterLoadError extends Error {
  constructor(readonly issues: readonly TerminologyIssue[]) {
    super(
      `charge master not loaded: ${issues
        .map(
          (i) =>
            `${i.file}${i.line ? `:${i.line}` : ''}${i.column ? ` ${i.column}` : ''}: ${i.reason}`,
        )
        .join('; ')}`,
    );
    this.name = 'ChargeMasterLoadError';
  }
}

/**
 * Completed work that no charge-master row prices on its date of service. Permanent
 * (`retriable = false`, read by the messaging lib's `isRetriable`): the event is dead-lettered
 * with this message, the row is added, the charge master reloaded, the dead letter replayed.
 * The message starts `no charge defined for <kind> <system> <code> on <YYYY-MM-DD>` and names the
 * charge-master version last, so an analyst knows which table was asked.
 */
export class NoChargeDefinedError extends Error {
  readonly retriable = false;
  /** Stable reason code for the rejection metric and dead-letter headers. */
  readonly code = 'NO_CHARGE_DEFINED';
  constructor(
    readonly trigger: ChargeTrigger,
    readonly dateOfService: string,
    readonly chargeMasterVersion: string,
  ) {
    super(
      `no charge defined for ${trigger.kind} ${trigger.system} ${trigger.code} on ${dateOfService} (charge master ${chargeMasterVersion})`,
    );
    this.name = 'NoChargeDefinedError';
  }
}

/**
 * A date of service as the calendar day it fell on in `timeZone` (YYYY-MM-DD). A price period is
 * a range of days, not of instants: a result finalised at 23:30 on 31 December in New York is
 * priced with December's price even though it is already 1 January in UTC.
 * @throws RangeError for a string that is no date (including days like 2026-02-30).
 */
export function serviceDay(dateOfService: Date | string, timeZone = 'UTC'): string {
  if (typeof dateOfService === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(dateOfService)) {
    if (!isCalendarDay(dateOfService)) throw new RangeError(`not a date: ${dateOfService}`);
    return dateOfService;
  }
  const date = typeof dateOfService === 'string' ? new Date(dateOfService) : dateOfService;
  if (Number.isNaN(date.getTime())) throw new RangeError(`not a date: ${String(dateOfService)}`);
  // en-CA formats as YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(date);
}

const triggerKey = (t: ChargeTrigger) => `${t.kind}|${t.system}|${t.code.toUpperCase()}`;

export class ChargeMaster {
  private readonly byTrigger = new Map<string, ChargeMasterEntry[]>();
  private readonly byCode = new Map<string, ChargeMasterEntry[]>();

  constructor(
    private readonly rows: readonly ChargeMasterEntry[],
    readonly version: string,
    /** sha256 of the files, for a metric label and to tell a reload that changed nothing. */
    readonly hash: string,
  ) {
    for (const row of rows) {
      const key = triggerKey(row.trigger);
      this.byTrigger.set(key, [...(this.byTrigger.get(key) ?? []), row]);
      this.byCode.set(row.chargeCode, [...(this.byCode.get(row.chargeCode) ?? []), row]);
    }
  }

  entries(): readonly ChargeMasterEntry[] {
    return this.rows;
  }

  /**
   * The row that prices `trigger` on the day of service (`Date`, ISO instant or YYYY-MM-DD; an
   * instant is read as a day in `timeZone`). @throws NoChargeDefinedError
   */
  chargeFor(
    trigger: ChargeTrigger,
    dateOfService: Date | string,
    timeZone = 'UTC',
  ): ChargeMasterEntry {
    return this.chargeForAny([trigger], dateOfService, timeZone);
  }

  /**
   * The first trigger that a row prices, in the order given — e.g. the lab result's LOINC, then
   * the LIS's local code; the dispense's NDC, then its RxNorm. @throws NoChargeDefinedError
   * naming the first trigger.
   */
  chargeForAny(
    triggers: readonly ChargeTrigger[],
    dateOfService: Date | string,
    timeZone = 'UTC',
  ): ChargeMasterEntry {
    const day = serviceDay(dateOfService, timeZone);
    for (const trigger of triggers) {
      const code =
        trigger.system === 'NDC' ? (normalizeNdc(trigger.code) ?? trigger.code) : trigger.code;
      const found = this.byTrigger
        .get(triggerKey({ ...trigger, code }))
        ?.find((row) => inPeriod(row, day));
      if (found) return found;
    }
    const [first] = triggers;
    if (!first) throw new RangeError('chargeForAny needs at least one trigger');
    throw new NoChargeDefinedError(first, day, this.version);
  }

  /** The row of a charge code on a day, undefined when the code has no price then. */
  byChargeCode(
    chargeCode: string,
    dateOfService: Date | string,
    timeZone = 'UTC',
  ): ChargeMasterEntry | undefined {
    const day = serviceDay(dateOfService, timeZone);
    return this.byCode.get(chargeCode)?.find((row) => inPeriod(row, day));
  }
}

function inPeriod(row: ChargeMasterEntry, day: string): boolean {
  return row.effectiveFrom <= day && (row.effectiveTo === null || day <= row.effectiveTo);
}

/** Reads and validates `charge-master.csv` and `manifest.json` of a directory. @throws ChargeMasterLoadError */
export function loadChargeMaster(dir: string = DEFAULT_CHARGE_MASTER_DIR): ChargeMaster {
  const read = (name: string) => {
    try {
      return readFileSync(join(dir, name), 'utf8');
    } catch (error) {
      throw new ChargeMasterLoadError([
        {
          file: name,
          reason: `cannot be read: ${error instanceof Error ? error.message : String(error)}`,
        },
      ]);
    }
  };
  return parseChargeMaster(read(CHARGE_MASTER_FILE), read(CHARGE_MASTER_MANIFEST));
}

/** Whether `text` is a real calendar day YYYY-MM-DD (2026-02-30 is not). */
function isCalendarDay(text: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) return false;
  const [, y, m, d] = match.map(Number) as [number, number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/** The charge master from the files' text. @throws ChargeMasterLoadError with every problem found */
export function parseChargeMaster(csv: string, manifestJson: string): ChargeMaster {
  const issues: TerminologyIssue[] = [];
  let version = '';
  try {
    const manifest = JSON.parse(manifestJson) as { version?: unknown };
    if (typeof manifest.version === 'string' && manifest.version.trim() !== '')
      version = manifest.version;
    else issues.push({ file: CHARGE_MASTER_MANIFEST, reason: 'needs a non-empty "version"' });
  } catch (error) {
    issues.push({ file: CHARGE_MASTER_MANIFEST, reason: `not JSON: ${(error as Error).message}` });
  }
  const file = CHARGE_MASTER_FILE;
  const rows = readCsv(file, csv, CHARGE_MASTER_COLUMNS, issues) ?? [];
  const entries = rows
    .map((row) => parseRow(row, issues))
    .filter((e): e is ChargeMasterEntry => e !== undefined);

  // Periods must not overlap, per charge code (one price a day) and per trigger (one charge code
  // a day: a trigger that maps to two codes would charge twice or at random).
  const byKey = (key: (e: ChargeMasterEntry) => string) => {
    const groups = new Map<string, ChargeMasterEntry[]>();
    for (const e of entries) groups.set(key(e), [...(groups.get(key(e)) ?? []), e]);
    return groups.values();
  };
  const period = (e: ChargeMasterEntry) => `${e.effectiveFrom} to ${e.effectiveTo ?? 'open'}`;
  for (const group of byKey((e) => e.chargeCode)) {
    for (const [row, before] of overlapping(group)) {
      issues.push({
        file,
        line: row.line,
        column: 'effective_from',
        reason: `charge code ${row.chargeCode} already has a price on line ${before.line} (${period(before)}) for part of this period`,
      });
    }
  }
  for (const group of byKey((e) => triggerKey(e.trigger))) {
    for (const [row, before] of overlapping(group)) {
      if (row.chargeCode === before.chargeCode) continue; // reported above as a code overlap
      const t = row.trigger;
      issues.push({
        file,
        line: row.line,
        column: 'trigger_code',
        reason: `trigger ${t.kind} ${t.system} ${t.code} already maps to charge code ${before.chargeCode} on line ${before.line} (${period(before)}) for part of this period`,
      });
    }
  }
  if (issues.length > 0) throw new ChargeMasterLoadError(issues);
  const hash = createHash('sha256').update(csv).update('\0').update(manifestJson).digest('hex');
  return new ChargeMaster(entries, version, hash);
}

/**
 * Each row of a group (one charge code or one trigger) whose period starts before an earlier
 * row's period has ended, with that earlier row. Rows are compared with the latest-ending earlier
 * row, not only their neighbour: an open-ended row overlaps every later one.
 */
function overlapping(
  group: readonly ChargeMasterEntry[],
): [ChargeMasterEntry, ChargeMasterEntry][] {
  const sorted = [...group].sort(
    (a, b) => a.effectiveFrom.localeCompare(b.effectiveFrom) || a.line - b.line,
  );
  const found: [ChargeMasterEntry, ChargeMasterEntry][] = [];
  let latest: ChargeMasterEntry | undefined;
  for (const row of sorted) {
    if (latest && (latest.effectiveTo === null || latest.effectiveTo >= row.effectiveFrom)) {
      found.push([row, latest]);
    }
    if (
      !latest ||
      (latest.effectiveTo !== null &&
        (row.effectiveTo === null || row.effectiveTo > latest.effectiveTo))
    ) {
      latest = row;
    }
  }
  return found;
}

/** Whether a trigger code is well formed for its system (NDCs are checked and normalised apart). */
const TRIGGER_CODE_CHECKS: Record<
  Exclude<ChargeTriggerSystem, 'NDC'>,
  { readonly valid: (code: string) => boolean; readonly expected: string }
> = {
  LOINC: {
    valid: isValidLoincCode,
    expected: 'a LOINC code with a valid check digit, e.g. 51990-0',
  },
  LOCAL: {
    valid: (code) => /^[A-Za-z0-9._-]{1,20}$/.test(code),
    expected: "the LIS's orderable code: 1–20 letters, digits, '.', '_' or '-'",
  },
  CPT: { valid: isValidCptCode, expected: 'a five-character CPT code, e.g. 71046' },
  RXNORM: { valid: isValidRxnormCode, expected: 'an RxNorm concept id (digits), e.g. 197361' },
};

function parseRow(row: CsvRow, issues: TerminologyIssue[]): ChargeMasterEntry | undefined {
  const file = CHARGE_MASTER_FILE;
  const before = issues.length;
  const cell = (name: (typeof CHARGE_MASTER_COLUMNS)[number]) => row.values.get(name) ?? '';
  const problem = (column: string, reason: string) =>
    issues.push({ file, line: row.line, column, reason });

  const chargeCode = cell('charge_code');
  if (!/^[A-Za-z0-9-]{1,20}$/.test(chargeCode))
    problem('charge_code', 'expected 1–20 letters, digits or hyphens');
  const description = cell('description');
  if (description === '') problem('description', 'must not be empty');
  const cptHcpcs = cell('cpt_hcpcs');
  if (cptHcpcs !== '' && !/^(\d{4}[0-9FTU]|[A-V]\d{4})$/.test(cptHcpcs)) {
    problem(
      'cpt_hcpcs',
      'expected a CPT (5 characters, e.g. 80048) or HCPCS Level II code (e.g. J0696), or blank',
    );
  }
  const modifiers = cell('modifiers')
    .split(/\s+/)
    .filter((m) => m !== '');
  if (modifiers.some((m) => !/^[A-Z0-9]{2}$/.test(m))) {
    problem(
      'modifiers',
      'expected two-character modifiers separated by spaces, e.g. "26" or "TC RT"',
    );
  }
  const revenueCode = cell('revenue_code');
  if (!/^0\d{3}$/.test(revenueCode))
    problem('revenue_code', 'expected a four-digit UB-04 revenue code, e.g. 0301');
  const department = cell('department');
  if (department === '') problem('department', 'must not be empty');
  const unitPriceCents = parseCents(cell('unit_price'));
  if (unitPriceCents === undefined)
    problem('unit_price', 'expected a non-negative amount with at most two decimals');
  const multiplierText = cell('quantity_multiplier') || '1';
  const quantityMultiplier = Number(multiplierText);
  if (!Number.isFinite(quantityMultiplier) || quantityMultiplier <= 0) {
    problem('quantity_multiplier', 'expected a positive number (billing units per trigger unit)');
  }
  const effectiveFrom = cell('effective_from');
  if (!isCalendarDay(effectiveFrom)) problem('effective_from', 'expected a date YYYY-MM-DD');
  const effectiveTo = cell('effective_to');
  if (effectiveTo !== '' && !isCalendarDay(effectiveTo))
    problem('effective_to', 'expected a date YYYY-MM-DD, or blank while the price is current');
  if (isCalendarDay(effectiveFrom) && isCalendarDay(effectiveTo) && effectiveTo < effectiveFrom) {
    problem('effective_to', `ends before it starts (effective_from ${effectiveFrom})`);
  }
  const kind = cell('trigger_kind') as ChargeTriggerKind;
  const system = cell('trigger_system') as ChargeTriggerSystem;
  let code = cell('trigger_code');
  if (!CHARGE_TRIGGER_KINDS.includes(kind)) {
    problem('trigger_kind', `expected one of ${CHARGE_TRIGGER_KINDS.join(', ')}`);
  } else if (!CHARGE_TRIGGER_SYSTEMS.includes(system)) {
    problem('trigger_system', `expected one of ${CHARGE_TRIGGER_SYSTEMS.join(', ')}`);
  } else if (!SYSTEMS_BY_KIND[kind].includes(system)) {
    problem(
      'trigger_system',
      `a ${kind} charge is triggered by ${SYSTEMS_BY_KIND[kind].join(' or ')}`,
    );
  }
  if (code === '') problem('trigger_code', 'must not be empty');
  else if (system === 'NDC') {
    // Stored 11-digit 5-4-2 with hyphens, the form dispenses are looked up in (HIPAA 11-digit).
    const ndc = normalizeNdc(code);
    if (ndc === undefined)
      problem('trigger_code', 'not an NDC (10 or 11 digits, 4-4-2, 5-3-2, 5-4-1 or 5-4-2)');
    else code = ndc;
  } else if (CHARGE_TRIGGER_SYSTEMS.includes(system) && !TRIGGER_CODE_CHECKS[system].valid(code)) {
    problem('trigger_code', `expected ${TRIGGER_CODE_CHECKS[system].expected}`);
  }
  if (issues.length > before) return undefined;
  return {
    chargeCode,
    description,
    cptHcpcs: cptHcpcs === '' ? null : cptHcpcs,
    modifiers,
    revenueCode,
    department,
    unitPriceCents: unitPriceCents ?? 0,
    quantityMultiplier,
    effectiveFrom,
    effectiveTo: effectiveTo === '' ? null : effectiveTo,
    trigger: { kind, system, code },
    line: row.line,
  };
}
