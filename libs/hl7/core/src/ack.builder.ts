import { Hl7Charset, resolveCharset } from './charset.decoder';
import { escapeValue } from './escape.codec';
import { formatHl7DateTime } from './hl7-datetime';
import { DEFAULT_DELIMITERS, encodingCharacters, type Hl7Delimiters } from './hl7-delimiters';
import { HL7_ERROR_CODES, Hl7ParseError, type Hl7ErrorCode } from './hl7.errors';
import { Hl7Message, newControlId, type LineEnding } from './hl7-message';
import { peekMsh } from './msh.reader';

/**
 * MSA-1 (table 0008): original mode AA/AE/AR, enhanced mode commit CA/CE/CR.
 * @see https://hl7-definition.caristix.com/v2/HL7v2.5.1/Tables/0008
 */
export type AckCode = 'AA' | 'AE' | 'AR' | 'CA' | 'CE' | 'CR';

/** MSH-15 / MSH-16 (table 0155): when the sender wants an acknowledgement. */
export type AckCondition = 'AL' | 'NE' | 'ER' | 'SU';

/** One ERR segment (v2.5+) or one ERR-1 repetition (v2.3/v2.4). */
export interface AckError {
  /** Segment ID the error is in (ERR-2.1 / ERR-1.1). */
  segment?: string;
  /** 1-based occurrence of that segment in the message (ERR-2.2); 1 when only `segment` is given. */
  segmentIndex?: number;
  /** ERR-2.3 field position. */
  field?: number;
  /** ERR-2.4 field repetition. */
  repetition?: number;
  /** ERR-2.5 component. */
  component?: number;
  /** HL7 table 0357 code (ERR-3.1): '100'…'207'. */
  hl7ErrorCode: string;
  /** ERR-4 (table 0516); default `E`. */
  severity?: 'E' | 'W' | 'I';
  /** ERR-8 user message (v2.5+), MSA-3 text (v2.3/v2.4). */
  text: string;
}

export interface AckOptions {
  errors?: AckError[];
  /** MSA-3 text message (before v2.7, where MSA-3 was withdrawn). */
  text?: string;
  /** MSH-10 of the ACK; default a new unique id. */
  controlId?: string;
  /** MSH-7 of the ACK; default now. */
  now?: Date;
}

/** MSA-3 is ST(80) in v2.3–2.6. */
const MSA3_MAX = 80;
/** ERR-8 is TX; keep diagnostics bounded. */
const ERR8_MAX = 2000;

/**
 * Whether the sender asked for enhanced-mode acknowledgement (MSH-15 or MSH-16 valued; both
 * empty means original mode) and what it asked for at each stage (table 0155).
 * @see HL7 v2.5.1 ch. 2.9.3 "Enhanced mode"
 */
export function ackModeOf(message: Hl7Message): {
  enhanced: boolean;
  accept: AckCondition | undefined;
  application: AckCondition | undefined;
} {
  const accept = message.get('MSH-15') ?? '';
  const application = message.get('MSH-16') ?? '';
  return {
    enhanced: accept !== '' || application !== '',
    accept: asCondition(accept),
    application: asCondition(application),
  };
}

/**
 * Whether an acknowledgement should be sent under an MSH-15/16 condition: AL always, NE
 * never, ER only on failure, SU only on success; an absent condition means always.
 */
export function ackRequested(condition: AckCondition | undefined, succeeded: boolean): boolean {
  switch (condition) {
    case undefined:
    case 'AL':
      return true;
    case 'NE':
      return false;
    case 'ER':
      return !succeeded;
    case 'SU':
      return succeeded;
  }
}

/** An error as an ACK error: a parse error keeps its position and table 0357 code, anything else is 207. */
export function toAckError(error: unknown): AckError {
  if (error instanceof Hl7ParseError) {
    return {
      ...(error.segment === undefined ? {} : { segment: error.segment }),
      ...(error.segmentIndex === undefined ? {} : { segmentIndex: error.segmentIndex }),
      ...(error.field === undefined ? {} : { field: error.field }),
      ...(error.component === undefined ? {} : { component: error.component }),
      hl7ErrorCode: error.hl7ErrorCode,
      severity: 'E',
      text: error.message,
    };
  }
  return {
    hl7ErrorCode: '207',
    severity: 'E',
    text: error instanceof Error ? error.message : String(error),
  };
}

/**
 * Builds the ACK for a parsed message (HL7 v2.5.1 ch. 2.9 and 2.14.1): original mode AA/AE/AR
 * or enhanced mode CA/CE/CR, MSA-2 = the original MSH-10, and ERR segments — v2.5+ one ERR per
 * error with ERR-2 location, ERR-3 table 0357 code, ERR-4 severity, ERR-8 user message; v2.3
 * and v2.4 one ERR whose ERR-1 repeats (segment^sequence^field^code), with MSA-3 text and MSA-6.
 * The ACK is in the sender's version, delimiters, charset and segment terminator; MSH-3/4 and
 * MSH-5/6 are swapped; MSH-10 is new; MSH-9 is `ACK^<event>^ACK` (no structure before 2.3.1).
 */
export function buildAck(
  original: Hl7Message,
  code: AckCode,
  options: AckOptions = {},
): Hl7Message {
  const msh = original.header;
  const text = composeAck({
    delimiters: original.delimiters,
    lineEnding: original.lineEnding,
    version: original.version,
    versionRaw: msh.getRaw(12) ?? '',
    sendingApplication: msh.getRaw(5) ?? '',
    sendingFacility: msh.getRaw(6) ?? '',
    receivingApplication: msh.getRaw(3) ?? '',
    receivingFacility: msh.getRaw(4) ?? '',
    triggerEventRaw: msh.getRaw(9, 1, 2) ?? '',
    processingIdRaw: msh.getRaw(11) ?? '',
    charsetRaw: msh.getRaw(18) ?? '',
    originalControlIdRaw: msh.getRaw(10) ?? '',
    code,
    charset: original.charsetCodec,
    options,
  });
  return Hl7Message.fromText(text, original.charsetCodec, false);
}

/**
 * The ACK for bytes that could not be parsed: MSH is read best-effort from the raw input
 * (delimiters, control id, version, applications; defaults when unreadable) and the answer is
 * AR — or CR in enhanced mode (`options.enhanced`, else MSH-15/16 of the input) — with one ERR
 * naming the problem. Never throws.
 */
export function buildRejectForUnparseable(
  input: Uint8Array | string,
  error: Hl7ParseError | Error,
  options: { enhanced?: boolean; now?: Date; controlId?: string } = {},
): Hl7Message {
  const now = options.now ?? new Date();
  const ackError = toAckError(error);
  try {
    const header = peekMsh(input);
    const safe = (value: string | undefined): string =>
      value !== undefined && /^[\x20-\x7e]*$/.test(value) ? value : '';
    const enhanced =
      options.enhanced ??
      (header !== undefined && (header.acceptAckType !== '' || header.applicationAckType !== ''));
    const version = header && /^2\.\d+(\.\d+)*$/.test(header.version) ? header.version : '2.5.1';
    const d = header?.delimiters ?? DEFAULT_DELIMITERS;
    const charset = (header && resolveCharset(header.charset)) ?? Hl7Charset.ASCII;
    const event = header ? safe(header.triggerEvent) : '';
    const text = composeAck({
      delimiters: d,
      lineEnding: '\r',
      version,
      versionRaw: escapeValue(version, d),
      sendingApplication: safe(header?.receivingApplication),
      sendingFacility: safe(header?.receivingFacility),
      receivingApplication: safe(header?.sendingApplication),
      receivingFacility: safe(header?.sendingFacility),
      triggerEventRaw: escapeValue(event, d),
      processingIdRaw: safe(header?.processingId),
      charsetRaw: header && resolveCharset(header.charset) ? safe(header.charset) : '',
      originalControlIdRaw: escapeValue(safe(header?.controlId), d),
      code: enhanced ? 'CR' : 'AR',
      charset: Hl7Charset.ASCII,
      options: {
        errors: [ackError],
        now,
        ...(options.controlId === undefined ? {} : { controlId: options.controlId }),
      },
    });
    return Hl7Message.fromText(text, charset, false);
  } catch {
    // Last resort: nothing from the input is trusted.
    const text = composeAck({
      delimiters: DEFAULT_DELIMITERS,
      lineEnding: '\r',
      version: '2.5.1',
      versionRaw: '2.5.1',
      sendingApplication: '',
      sendingFacility: '',
      receivingApplication: '',
      receivingFacility: '',
      triggerEventRaw: '',
      processingIdRaw: '',
      charsetRaw: '',
      originalControlIdRaw: '',
      code: options.enhanced === true ? 'CR' : 'AR',
      charset: Hl7Charset.ASCII,
      options: { errors: [{ ...ackError, text: 'Unreadable message' }], now },
    });
    return Hl7Message.fromText(text, Hl7Charset.ASCII, false);
  }
}

interface AckParts {
  delimiters: Hl7Delimiters;
  lineEnding: LineEnding;
  version: string;
  /** Already encoded values, copied as they are. */
  versionRaw: string;
  sendingApplication: string;
  sendingFacility: string;
  receivingApplication: string;
  receivingFacility: string;
  triggerEventRaw: string;
  processingIdRaw: string;
  charsetRaw: string;
  originalControlIdRaw: string;
  code: AckCode;
  /** The ACK's charset: free text is made to fit it. */
  charset: Hl7Charset;
  options: AckOptions;
}

function composeAck(p: AckParts): string {
  const d = p.delimiters;
  const errors = p.options.errors ?? [];
  const v = versionParts(p.version);
  const atLeast = (major: number, minor: number, patch = 0): boolean =>
    compare(v, [major, minor, patch]) >= 0;
  const text = (value: string, max: number): string =>
    escapeValue(fitCharset(value.length > max ? value.slice(0, max) : value, p.charset), d);
  const cwe = (code: string, sep: string): string =>
    [code, describe(code), 'HL70357'].map((x) => escapeValue(x, d)).join(sep);

  // No trigger event known (an unreadable input): plain `ACK`, not `ACK^^ACK`.
  const messageType = p.triggerEventRaw === '' ? ['ACK'] : ['ACK', p.triggerEventRaw];
  if (p.triggerEventRaw !== '' && atLeast(2, 3, 1)) messageType.push('ACK');
  const msh = trimEnd([
    'MSH',
    encodingCharacters(d),
    p.sendingApplication,
    p.sendingFacility,
    p.receivingApplication,
    p.receivingFacility,
    formatHl7DateTime(p.options.now ?? new Date()),
    '',
    trimEnd(messageType).join(d.component),
    escapeValue(p.options.controlId ?? newControlId(), d),
    p.processingIdRaw,
    p.versionRaw,
    '',
    '',
    '',
    '',
    '',
    p.charsetRaw,
  ]);
  const segments = [msh.join(d.field)];

  const msaText = atLeast(2, 7)
    ? ''
    : (p.options.text ?? (atLeast(2, 5) ? '' : errors.map((e) => e.text).join('; ')));
  const first = errors[0];
  const msa = [
    'MSA',
    p.code,
    p.originalControlIdRaw,
    text(msaText, MSA3_MAX),
    '',
    '',
    first && !atLeast(2, 5) ? cwe(first.hl7ErrorCode, d.component) : '',
  ];
  segments.push(trimEnd(msa).join(d.field));

  if (errors.length > 0) {
    if (atLeast(2, 5)) {
      for (const e of errors) {
        const erl = e.segment
          ? trimEnd([
              e.segment,
              String(e.segmentIndex ?? 1),
              num(e.field),
              num(e.repetition ?? (e.component === undefined ? undefined : 1)),
              num(e.component),
            ]).join(d.component)
          : '';
        const err = [
          'ERR',
          '',
          erl,
          cwe(e.hl7ErrorCode, d.component),
          e.severity ?? 'E',
          '',
          '',
          '',
          text(e.text, ERR8_MAX),
        ];
        segments.push(trimEnd(err).join(d.field));
      }
    } else {
      const eld = errors.map((e) =>
        [
          e.segment ?? '',
          e.segment ? String(e.segmentIndex ?? 1) : '',
          num(e.field),
          cwe(e.hl7ErrorCode, d.subcomponent),
        ].join(d.component),
      );
      segments.push(`ERR${d.field}${eld.join(d.repetition)}`);
    }
  }
  return segments.join(p.lineEnding) + p.lineEnding;
}

function asCondition(value: string): AckCondition | undefined {
  const v = value.trim().toUpperCase();
  return v === 'AL' || v === 'NE' || v === 'ER' || v === 'SU' ? v : undefined;
}

function describe(code: string): string {
  return code in HL7_ERROR_CODES ? HL7_ERROR_CODES[code as Hl7ErrorCode] : '';
}

function num(n: number | undefined): string {
  return n === undefined ? '' : String(n);
}

function trimEnd(values: string[]): string[] {
  let n = values.length;
  while (n > 1 && values[n - 1] === '') n--;
  return values.slice(0, n);
}

function versionParts(version: string): number[] {
  return version.split('.').map((x) => Number.parseInt(x, 10) || 0);
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

/** Free text that the ACK's charset cannot hold gets `?` for those characters (diagnostics only). */
function fitCharset(value: string, charset: Hl7Charset): string {
  try {
    charset.encode(value);
    return value;
  } catch {
    let out = '';
    for (const ch of value) {
      try {
        charset.encode(ch);
        out += ch;
      } catch {
        out += '?';
      }
    }
    return out;
  }
}
