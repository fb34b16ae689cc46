/**
 * A deterministic synthetic ORU^R01 corpus for the parse benchmark. Every name, number and code
 * is made up by a seeded PRNG: no real patient data. The same seed gives the same bytes on every
 * machine, so figures from two runs are about the same input.
 *
 * Each message also carries its expected answer: the decoded OBX-5 of every OBX, in the
 * canonical form of `obx5.value.ts`. The generator builds the decoded text first and escapes it
 * itself, so the answer does not come from any parser under test.
 *
 * What the corpus holds, and what it leaves out (see docs/benchmarks.md for why):
 * - HL7 v2.3 and v2.5.1, `|^~\&` delimiters, segments ended by CR (the message ends with CR too).
 * - 5–40 OBX per message in 1–3 ORC/OBR groups, with NTE after some OBX.
 * - OBX-5 of type NM, SN, ST, TX, FT and CE (v2.3) / CWE (v2.5.1); repetitions in TX and CE/CWE;
 *   escape sequences \F\ \S\ \T\ \R\ \E\; the FT formatting command \.br\; non-ASCII text.
 * - Not included: LF or CRLF segment ends, \Xhh\ / \C..\ / \M..\ charset escapes, \H\ \N\
 *   highlighting, subcomponents in OBX-5, non-default delimiters, leading or trailing blanks in
 *   text values. Several compared libraries cannot handle these at all.
 */
import type { Obx5Value } from './obx5.value';
import { SeededRandom } from '@ancillary/simulators';
import { canonicalObx5 } from './obx5.value';

// The same seeded generator (sfc32) as the simulators: one implementation, same corpus per seed.
export { SeededRandom };

export interface CorpusMessage {
  /** The message text, segments ended by CR. */
  readonly text: string;
  /** Expected OBX-5 values, in OBX order, canonical form. */
  readonly expected: readonly string[];
}

export interface Corpus {
  readonly seed: number;
  readonly messages: readonly CorpusMessage[];
  /** UTF-8 size of all messages. */
  readonly bytes: number;
  readonly obxCount: number;
  /** How many OBX-5 values use each feature, for the report. */
  readonly features: Readonly<Record<string, number>>;
}

export interface CorpusOptions {
  readonly seed: number;
  readonly messages: number;
  readonly minObx: number;
  readonly maxObx: number;
}

export const DEFAULT_CORPUS: CorpusOptions = {
  seed: 20261125,
  messages: 5000,
  minObx: 5,
  maxObx: 40,
};

/** HL7 escaping of data text (v2.5.1 ch. 2.7.1). The escape character goes first. */
export function escapeHl7Text(text: string): string {
  let out = '';
  for (const ch of text) {
    switch (ch) {
      case '\\':
        out += '\\E\\';
        break;
      case '|':
        out += '\\F\\';
        break;
      case '^':
        out += '\\S\\';
        break;
      case '&':
        out += '\\T\\';
        break;
      case '~':
        out += '\\R\\';
        break;
      default:
        out += ch;
    }
  }
  return out;
}

/** The FT formatting command for a line break; kept verbatim in the decoded value. */
const FT_LINE_BREAK = '\\.br\\';

const FAMILY = ['Smith', 'Nguyen', 'Müller', 'García', 'Okafor', 'Kowalski', 'Dubois', 'Tanaka'];
const GIVEN = ['Anna', 'José', 'Li', 'Björn', 'Amara', 'Chloé', 'Ivan', 'Sofia', 'Omar', 'Jun'];

interface Analyte {
  readonly code: string;
  readonly name: string;
  readonly unit: string;
  readonly low: number;
  readonly high: number;
  readonly decimals: number;
}

const ANALYTES: readonly Analyte[] = [
  { code: '2345-7', name: 'Glucose', unit: 'mg/dL', low: 70, high: 99, decimals: 0 },
  { code: '2951-2', name: 'Sodium', unit: 'mmol/L', low: 136, high: 145, decimals: 0 },
  { code: '2823-3', name: 'Potassium', unit: 'mmol/L', low: 3.5, high: 5.1, decimals: 1 },
  { code: '2160-0', name: 'Creatinine', unit: 'mg/dL', low: 0.6, high: 1.2, decimals: 2 },
  { code: '718-7', name: 'Hemoglobin', unit: 'g/dL', low: 12, high: 17.5, decimals: 1 },
  { code: '6690-2', name: 'Leukocytes', unit: '10*3/uL', low: 4.5, high: 11, decimals: 1 },
  { code: '777-3', name: 'Platelets', unit: '10*3/uL', low: 150, high: 450, decimals: 0 },
  { code: '1742-6', name: 'ALT', unit: 'U/L', low: 7, high: 56, decimals: 0 },
  { code: '2093-3', name: 'Cholesterol', unit: 'mg/dL', low: 125, high: 200, decimals: 0 },
  { code: '14647-2', name: 'Cholesterol', unit: 'µmol/L', low: 3.2, high: 5.2, decimals: 2 },
  { code: '6301-6', name: 'INR', unit: '{INR}', low: 0.8, high: 1.1, decimals: 2 },
  { code: '8310-5', name: 'Body temperature', unit: 'Cel', low: 36.1, high: 37.2, decimals: 1 },
];

const SHORT_TEXTS = [
  'Positive',
  'Negative',
  'Not detected',
  'Clear & colourless',
  'Trace | see comment',
  'Ratio 1:4 ^ titre',
  'Growth ~ mixed flora',
  'Path \\\\LAB01\\reports\\2026',
  'Hämolytisch — Probe wiederholen',
  'Légèrement trouble',
  'Moderate (2+)',
  'pH 7.4 <normal>',
  'Specimen received at 4 °C',
  'A&B, C|D, E^F, G~H, I\\J',
];

const SENTENCES = [
  'Specimen slightly hemolyzed; potassium may be falsely elevated.',
  'Result verified by repeat analysis.',
  'Critical value called to Dr. Müller at 08:42 & read back.',
  'Reference range applies to adults | see lab handbook.',
  'Sample type: serum ^ plasma not accepted.',
  'Comparison with previous result ~ stable.',
  'Method changed on 2026-03-01; values are not comparable.',
  'Stored at C:\\lab\\archive for 7 days.',
  'Interprétation: résultat dans les limites normales.',
  'Befund unauffällig.',
];

const CODED: readonly (readonly [string, string, string])[] = [
  ['260373001', 'Detected', 'SCT'],
  ['260415000', 'Not detected', 'SCT'],
  ['10828004', 'Positive', 'SCT'],
  ['260385009', 'Negative', 'SCT'],
  ['POS', 'Positive & confirmed', 'L'],
  ['A', 'Type A|Rh+', 'L'],
  ['112283007', 'Escherichia coli', 'SCT'],
];

const FLAGS_LOW = ['L', 'LL'];
const FLAGS_HIGH = ['H', 'HH'];

type ValueType = 'NM' | 'SN' | 'ST' | 'TX' | 'FT' | 'CE' | 'CWE';

interface GeneratedObx {
  readonly valueType: ValueType;
  readonly raw: string;
  readonly value: Obx5Value;
  readonly identifier: string;
  readonly units: string;
  readonly range: string;
  readonly flag: string;
  readonly features: readonly string[];
}

function formatNumber(value: number, decimals: number): string {
  return value.toFixed(decimals);
}

function encodeValue(value: Obx5Value): string {
  return value.map((rep) => rep.map(escapeHl7Text).join('^')).join('~');
}

function featuresOf(value: Obx5Value): string[] {
  const features: string[] = [];
  if (value.length > 1) features.push('repetition');
  const text = value.map((rep) => rep.join('')).join('');
  if (/[|^&~\\]/.test(text)) features.push('escape sequence');
  if (/[^\x20-\x7e]/.test(text)) features.push('non-ASCII');
  return features;
}

function textObx(
  valueType: ValueType,
  value: Obx5Value,
  identifier: string,
  extra: string[] = [],
): GeneratedObx {
  return {
    valueType,
    raw: encodeValue(value),
    value,
    identifier,
    units: '',
    range: '',
    flag: '',
    features: [...featuresOf(value), ...extra],
  };
}

function generateObx(rng: SeededRandom, version: '2.3' | '2.5.1'): GeneratedObx {
  const roll = rng.next();
  const codedType: ValueType = version === '2.3' ? 'CE' : 'CWE';
  if (roll < 0.55) {
    const a = rng.pick(ANALYTES);
    const span = a.high - a.low;
    const v = a.low - span * 0.3 + rng.next() * span * 1.6;
    const text = formatNumber(v, a.decimals);
    const n = Number(text);
    const flag = n < a.low ? rng.pick(FLAGS_LOW) : n > a.high ? rng.pick(FLAGS_HIGH) : 'N';
    return {
      valueType: 'NM',
      raw: text,
      value: [[text]],
      identifier: `${a.code}^${escapeHl7Text(a.name)}^LN`,
      units: escapeHl7Text(a.unit),
      range: `${formatNumber(a.low, a.decimals)}-${formatNumber(a.high, a.decimals)}`,
      flag,
      features: [],
    };
  }
  if (roll < 0.63) {
    const variants: Obx5Value[] = [
      [['>', String(rng.int(100, 5000))]],
      [['<', formatNumber(rng.next(), 2)]],
      [['', '1', ':', String(2 ** rng.int(1, 10))]],
      [['', String(rng.int(1, 5)), '-', String(rng.int(6, 20))]],
    ];
    const value = rng.pick(variants);
    return { ...textObx('SN', value, '5195-3^Titer^LN'), flag: rng.pick(['A', 'N']) };
  }
  if (roll < 0.78) {
    return textObx('ST', [[rng.pick(SHORT_TEXTS)]], '8251-1^Service comment^LN');
  }
  if (roll < 0.88) {
    const first = rng.pick(CODED);
    const value: Obx5Value = rng.chance(0.25) ? [[...first], [...rng.pick(CODED)]] : [[...first]];
    return { ...textObx(codedType, value, '600-7^Culture^LN'), flag: rng.pick(['A', 'N']) };
  }
  if (roll < 0.95) {
    const lines = rng.int(1, 4);
    const value: string[][] = [];
    for (let i = 0; i < lines; i++) value.push([rng.pick(SENTENCES)]);
    return textObx('TX', value, '48767-8^Annotation comment^LN');
  }
  // FT: lines joined by the \.br\ formatting command, which stays in the decoded value.
  const lines: string[] = [];
  for (let i = 0, n = rng.int(2, 5); i < n; i++) lines.push(rng.pick(SENTENCES));
  const raw = lines.map(escapeHl7Text).join(FT_LINE_BREAK);
  const value: Obx5Value = [[lines.join(FT_LINE_BREAK)]];
  return {
    valueType: 'FT',
    raw,
    value,
    identifier: '11526-1^Pathology report^LN',
    units: '',
    range: '',
    flag: '',
    features: [...featuresOf([[lines.join('')]]), 'formatting command'],
  };
}

function timestamp(rng: SeededRandom): string {
  const month = String(rng.int(1, 12)).padStart(2, '0');
  const day = String(rng.int(1, 28)).padStart(2, '0');
  const hour = String(rng.int(0, 23)).padStart(2, '0');
  const minute = String(rng.int(0, 59)).padStart(2, '0');
  return `2026${month}${day}${hour}${minute}00`;
}

function generateMessage(
  rng: SeededRandom,
  index: number,
  options: CorpusOptions,
  features: Record<string, number>,
): CorpusMessage {
  const version = rng.chance(0.5) ? '2.3' : '2.5.1';
  const messageType = version === '2.3' ? 'ORU^R01' : 'ORU^R01^ORU_R01';
  const controlId = `MSG${String(index + 1).padStart(8, '0')}`;
  const when = timestamp(rng);
  const mrn = String(rng.int(100000, 999999));
  const segments: string[] = [
    `MSH|^~\\&|LIS|MAIN_LAB^2.16.840.1.113883.3.72^ISO|EHR|GENERAL_HOSPITAL|${when}||${messageType}|${controlId}|P|${version}|||AL|NE||UNICODE UTF-8`,
    `PID|1||${mrn}^^^GENERAL_HOSPITAL^MR||${rng.pick(FAMILY)}^${rng.pick(GIVEN)}^${String.fromCharCode(rng.int(65, 90))}||19${rng.int(30, 99)}0${rng.int(1, 9)}1${rng.int(0, 9)}|${rng.pick(['F', 'M', 'U'])}|||${rng.int(1, 999)} Main St^^Springfield^IL^62701^USA||(555)555-${rng.int(1000, 9999)}`,
    `PV1|1|${rng.pick(['O', 'I', 'E'])}|LAB^^^GENERAL_HOSPITAL||||1234^Welby^Marcus^^^Dr`,
  ];
  const expected: string[] = [];
  const obxTotal = rng.int(options.minObx, options.maxObx);
  const groups = Math.min(obxTotal, rng.int(1, 3));
  let written = 0;
  for (let g = 0; g < groups; g++) {
    const order = `ORD${index}-${g + 1}`;
    segments.push(`ORC|RE|${order}|FIL${index}-${g + 1}||CM`);
    segments.push(
      `OBR|${g + 1}|${order}|FIL${index}-${g + 1}|24323-8^Comprehensive metabolic panel^LN|||${when}|||||||${when}||1234^Welby^Marcus^^^Dr||||||${when}|||F`,
    );
    const inGroup = g === groups - 1 ? obxTotal - written : Math.floor(obxTotal / groups);
    for (let i = 0; i < inGroup; i++) {
      written++;
      const obx = generateObx(rng, version);
      features[obx.valueType] = (features[obx.valueType] ?? 0) + 1;
      for (const f of obx.features) features[f] = (features[f] ?? 0) + 1;
      segments.push(
        `OBX|${i + 1}|${obx.valueType}|${obx.identifier}||${obx.raw}|${obx.units}|${obx.range}|${obx.flag}|||F|||${when}`,
      );
      expected.push(canonicalObx5(obx.value));
      if (rng.chance(0.1)) segments.push(`NTE|1|L|${escapeHl7Text(rng.pick(SENTENCES))}`);
    }
  }
  return { text: segments.join('\r') + '\r', expected };
}

export function generateCorpus(options: CorpusOptions = DEFAULT_CORPUS): Corpus {
  const rng = new SeededRandom(options.seed);
  const features: Record<string, number> = {};
  const messages: CorpusMessage[] = [];
  let bytes = 0;
  let obxCount = 0;
  for (let i = 0; i < options.messages; i++) {
    const message = generateMessage(rng, i, options, features);
    messages.push(message);
    bytes += Buffer.byteLength(message.text, 'utf8');
    obxCount += message.expected.length;
  }
  return { seed: options.seed, messages, bytes, obxCount, features };
}
