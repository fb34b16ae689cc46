import { HL7_NULL } from '@ancillary/hl7-core';
import type { Coding, ObservationValue } from './lab-result.types';

/** OBX-5 cannot be read as its OBX-2 value type; `message` says why, `field` which field. */
export class ObservationValueError extends Error {
  constructor(
    message: string,
    readonly field: number = 5,
  ) {
    super(message);
    this.name = 'ObservationValueError';
  }
}

/** What the value reader needs of an OBX: its decoded OBX-5 parts and its FT/TX rendering. */
export interface ObxValueSource {
  repetitionCount(field: number): number;
  get(field: number, repetition?: number, component?: number): string | undefined;
  getText(field: number): string | undefined;
}

const NUMBER = String.raw`[+-]?(?:\d+(?:\.\d*)?|\.\d+)`;
const PLAIN_NUMBER = new RegExp(`^${NUMBER}$`);
const COMPARED_NUMBER = new RegExp(`^(<=|>=|<|>)\\s*(${NUMBER})$`);
const NONE: ObservationValue = {
  kind: 'NONE',
  numeric: null,
  comparator: null,
  coded: null,
  text: null,
};

/** Value types whose OBX-5 is kept as the text sent (dates, times, identifiers). */
const VERBATIM_TYPES = new Set(['DT', 'TM', 'DTM', 'TS', 'ID', 'IS']);
const CODED_TYPES = new Set(['CE', 'CWE', 'CNE', 'CF']);

function numeric(value: number, comparator: string | null): ObservationValue {
  return { kind: 'NUMERIC', numeric: value, comparator, coded: null, text: null };
}

function text(kind: 'STRING' | 'TEXT', value: string): ObservationValue {
  return { kind, numeric: null, comparator: null, coded: null, text: value };
}

/** `6.8` → 6.8, `>400` / `< 0.01` → with comparator; undefined for anything else. */
export function parseComparedNumber(
  raw: string,
): { value: number; comparator: string | null } | undefined {
  const s = raw.trim();
  if (PLAIN_NUMBER.test(s)) return { value: Number(s), comparator: null };
  const m = COMPARED_NUMBER.exec(s);
  return m ? { value: Number(m[2]), comparator: m[1] ?? null } : undefined;
}

function present(value: string | undefined): string {
  const v = (value ?? '').trim();
  return v === HL7_NULL ? '' : v;
}

/**
 * Reads OBX-5 according to OBX-2 (HL7 v2.5.1 ch. 7.4.2.2, table 0125):
 * - NM: a number, or a number with a comparator as many analysers send it (`>400`, `<0.01`);
 * - SN: `comparator^num1^separator^num2` — `>^400` is numeric with a comparator; ratios,
 *   ranges and categories (`^1^:^128`, `^10^-^20`, `^2^+`) are kept as text (`1:128`);
 * - CE/CWE/CNE/CF: the first repetition as a coding; with several repetitions, `text` also
 *   lists all of them, so nothing sent is lost;
 * - ST: the text; a value that is a (compared) number (`>400` sent as ST) is numeric;
 * - TX/FT: readable text (formatting commands applied, escapes decoded, repetitions as lines);
 * - DT/TM/DTM/TS/ID/IS: the text as sent.
 * An empty OBX-5 (or the HL7 null `""`) is kind NONE whatever OBX-2 says.
 * @throws ObservationValueError for a value that does not fit its type, or another type.
 */
export function readObservationValue(
  obx: ObxValueSource,
  codeSystemUri: (hl7System: string) => string | null,
): ObservationValue {
  const valueType = present(obx.get(2)).toUpperCase();
  const reps = obx.repetitionCount(5);
  const rawFirst = present(obx.get(5));
  const hasValue = reps > 0 && (rawFirst !== '' || reps > 1 || present(obx.getText(5)) !== '');
  if (!hasValue) return NONE;
  if (valueType === '') {
    throw new ObservationValueError('OBX-2 (value type) is empty but OBX-5 has a value', 2);
  }

  if (valueType === 'NM') {
    if (reps > 1) throw new ObservationValueError(`a numeric (NM) value cannot repeat`);
    const n = parseComparedNumber(rawFirst);
    if (!n) throw new ObservationValueError(`"${rawFirst}" is not a number (value type NM)`);
    return numeric(n.value, n.comparator);
  }
  if (valueType === 'SN') return readStructuredNumeric(obx);
  if (CODED_TYPES.has(valueType)) return readCoded(obx, reps, codeSystemUri);
  if (valueType === 'ST') {
    const all = repetitions(obx, reps);
    if (all.length === 1) {
      const n = parseComparedNumber(all[0] ?? '');
      if (n) return numeric(n.value, n.comparator);
    }
    return text('STRING', all.join('\n'));
  }
  if (valueType === 'TX' || valueType === 'FT') {
    const rendered = obx.getText(5) ?? '';
    return rendered.trim() === '' ? NONE : text('TEXT', rendered);
  }
  if (VERBATIM_TYPES.has(valueType)) return text('STRING', repetitions(obx, reps).join('\n'));
  throw new ObservationValueError(
    `value type ${valueType} is not supported for lab results (NM, SN, CE, CWE, CNE, CF, ST, TX, FT, DT, TM, DTM, TS, ID, IS are)`,
    2,
  );
}

function repetitions(obx: ObxValueSource, reps: number): string[] {
  const out: string[] = [];
  for (let r = 1; r <= reps; r++) {
    const v = present(obx.get(5, r));
    if (v !== '') out.push(v);
  }
  return out;
}

const SN_COMPARATORS = new Set(['', '=', '<', '>', '<=', '>=', '<>']);

function readStructuredNumeric(obx: ObxValueSource): ObservationValue {
  if (obx.repetitionCount(5) > 1) {
    throw new ObservationValueError('a structured numeric (SN) value cannot repeat');
  }
  const comparator = present(obx.get(5, 1, 1));
  const num1 = present(obx.get(5, 1, 2));
  const separator = present(obx.get(5, 1, 3));
  const num2 = present(obx.get(5, 1, 4));
  const sent = [comparator, num1, separator, num2].join('^').replace(/\^+$/, '');
  if (!SN_COMPARATORS.has(comparator)) {
    throw new ObservationValueError(
      `SN "${sent}": comparator "${comparator}" is not one of = < > <= >= <>`,
    );
  }
  if (!PLAIN_NUMBER.test(num1)) {
    throw new ObservationValueError(`SN "${sent}": "${num1}" (SN.2) is not a number`);
  }
  if (separator === '' && num2 === '') {
    if (comparator === '<>') return text('STRING', `<>${num1}`);
    return numeric(Number(num1), comparator === '' || comparator === '=' ? null : comparator);
  }
  if (separator === '+' && num2 === '') return text('STRING', `${comparator}${num1}+`);
  if ([':', '/', '-', '.'].includes(separator) && PLAIN_NUMBER.test(num2)) {
    // Ratios (1:128), ranges (10-20) and the like have no single numeric value.
    return text('STRING', `${comparator === '=' ? '' : comparator}${num1}${separator}${num2}`);
  }
  throw new ObservationValueError(
    `SN "${sent}": separator "${separator}" with "${num2}" is not a ratio, range or category (SN.3 is one of : / - . +)`,
  );
}

function readCoded(
  obx: ObxValueSource,
  reps: number,
  codeSystemUri: (hl7System: string) => string | null,
): ObservationValue {
  const codings: Coding[] = [];
  const labels: string[] = [];
  for (let r = 1; r <= reps; r++) {
    const code = present(obx.get(5, r, 1));
    const display = present(obx.get(5, r, 2));
    const system = present(obx.get(5, r, 3));
    if (code === '' && display === '') continue;
    if (code !== '') {
      codings.push({
        system: codeSystemUri(system),
        code,
        display: display === '' ? null : display,
      });
    }
    labels.push(code === '' ? display : display === '' ? code : `${display} (${code})`);
  }
  const first = codings[0];
  if (!first) {
    // Text only (CWE.2 without CWE.1): a coded type without a code is still readable text.
    if (labels.length === 0) return NONE;
    return text('STRING', labels.join('; '));
  }
  return {
    kind: 'CODED',
    numeric: null,
    comparator: null,
    coded: first,
    text: labels.length > 1 ? labels.join('; ') : null,
  };
}

/** Bounds parsed from a reference range as sent in OBX-7. */
export interface ReferenceBounds {
  readonly low: number | null;
  readonly high: number | null;
}

const RANGE = new RegExp(`^(${NUMBER})\\s*(?:-|–|to)\\s*(${NUMBER})$`, 'i');
const UPPER = new RegExp(`^(?:<=|<|≤)\\s*(${NUMBER})$`);
const LOWER = new RegExp(`^(?:>=|>|≥)\\s*(${NUMBER})$`);

/**
 * Parses OBX-7 (`3.5-5.0`, `3.5 - 5.0`, `-2-3`, `<5`, `<=5`, `>10`, `>=10`) into bounds in the
 * observation's unit. Anything else (`Negative`, `see note`) gives no bounds and is not an
 * error: the text as sent is kept beside them. A range whose low is above its high gives none.
 */
export function parseReferenceRange(range: string): ReferenceBounds {
  const s = range.trim();
  const both = RANGE.exec(s);
  if (both) {
    const low = Number(both[1]);
    const high = Number(both[2]);
    return low <= high ? { low, high } : { low: null, high: null };
  }
  const upper = UPPER.exec(s);
  if (upper) return { low: null, high: Number(upper[1]) };
  const lower = LOWER.exec(s);
  if (lower) return { low: Number(lower[1]), high: null };
  return { low: null, high: null };
}
