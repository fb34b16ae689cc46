/**
 * HL7 v2 date/times (DTM, and TS component 1) to epoch milliseconds, and HL7 dates to ISO 8601.
 *
 * `YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]` (HL7 v2.5.1 ch. 2A.22). Missing parts are the
 * start of the period (`20240315` is midnight). An explicit offset is honoured as sent; without
 * one the time is wall-clock time in the sender's IANA time zone, converted with Intl (no
 * dependency), right across daylight-saving changes:
 * - a time that does not exist (the hour skipped in spring) is read with the offset in force
 *   before the change, i.e. moved forward by the gap (02:30 → 03:30 local);
 * - a time that happens twice (the hour repeated in autumn) is the first of the two.
 * These are the "compatible" rules of RFC 5545 and TC39 Temporal.
 * @see https://www.hl7.eu/HL7v2x/v251/std251/ch02a.html#Heading186 DTM
 */

/** A value that is not a valid HL7 date/time; `message` says why. */
export class Hl7TimestampError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Hl7TimestampError';
  }
}

const DTM =
  /^(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,4}))?)?)?)?)?)?([+-]\d{4})?$/;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

interface DtmParts {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly millisecond: number;
  /** Explicit offset in minutes east of UTC, or null when none was sent. */
  readonly offsetMinutes: number | null;
  /** How many of YYYY, MM, DD were sent (1–3, or 4 when a time follows). */
  readonly dateParts: number;
}

function parseDtm(value: string): DtmParts {
  const m = DTM.exec(value);
  if (!m) {
    throw new Hl7TimestampError(
      `"${value}" is not an HL7 date/time (YYYY[MM[DD[HH[MM[SS[.SSSS]]]]]][+/-ZZZZ])`,
    );
  }
  const year = Number(m[1]);
  const month = m[2] === undefined ? 1 : Number(m[2]);
  const day = m[3] === undefined ? 1 : Number(m[3]);
  const hour = m[4] === undefined ? 0 : Number(m[4]);
  const minute = m[5] === undefined ? 0 : Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const millisecond = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000);
  if (month < 1 || month > 12) throw new Hl7TimestampError(`"${value}" has month ${month}`);
  const daysInMonth = [31, 28 + leap(year), 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
  if (day < 1 || day > daysInMonth) {
    throw new Hl7TimestampError(`"${value}" has day ${day}, month ${month} has ${daysInMonth}`);
  }
  if (hour > 23) throw new Hl7TimestampError(`"${value}" has hour ${hour}`);
  if (minute > 59) throw new Hl7TimestampError(`"${value}" has minute ${minute}`);
  if (second > 59) throw new Hl7TimestampError(`"${value}" has second ${second}`);
  let offsetMinutes: number | null = null;
  if (m[8] !== undefined) {
    const sign = m[8].startsWith('-') ? -1 : 1;
    const hh = Number(m[8].slice(1, 3));
    const mm = Number(m[8].slice(3, 5));
    if (mm > 59) throw new Hl7TimestampError(`"${value}" has offset ${m[8]} with minutes ${mm}`);
    if (hh * 60 + mm > 14 * 60) {
      throw new Hl7TimestampError(`"${value}" has offset ${m[8]}, outside -1400..+1400`);
    }
    offsetMinutes = sign * (hh * 60 + mm);
  }
  const dateParts = m[4] !== undefined ? 4 : m[3] !== undefined ? 3 : m[2] !== undefined ? 2 : 1;
  return { year, month, day, hour, minute, second, millisecond, offsetMinutes, dateParts };
}

/** 1 in a leap year, 0 otherwise (February has 28 + this days). */
function leap(year: number): number {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 1 : 0;
}

/** Epoch ms of a wall-clock time read as UTC (years below 100 are not shifted to 19xx). */
function wallAsUtc(p: DtmParts): number {
  const d = new Date(0);
  d.setUTCFullYear(p.year, p.month - 1, p.day);
  d.setUTCHours(p.hour, p.minute, p.second, p.millisecond);
  return d.getTime();
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/**
 * Throws a RangeError naming the zone when it is not an IANA time zone this runtime knows.
 * A configuration error, not a message error: callers check it once, at start-up.
 */
export function assertTimeZone(timeZone: string): void {
  try {
    formatterFor(timeZone);
  } catch {
    throw new RangeError(`unknown IANA time zone "${timeZone}" (e.g. "Europe/London", "UTC")`);
  }
}

/** The zone's offset from UTC at an instant, in ms (positive east of UTC). */
function offsetAt(timeZone: string, epochMs: number): number {
  const instant = Math.floor(epochMs / 1000) * 1000;
  const parts = formatterFor(timeZone).formatToParts(new Date(instant));
  const get = (type: Intl.DateTimeFormatPartTypes): number =>
    Number(parts.find((p) => p.type === type)?.value ?? 0);
  const era = parts.find((p) => p.type === 'era')?.value;
  const year = era === 'BC' || era === 'B' ? 1 - get('year') : get('year');
  const wall = new Date(0);
  wall.setUTCFullYear(year, get('month') - 1, get('day'));
  wall.setUTCHours(get('hour'), get('minute'), get('second'), 0);
  return wall.getTime() - instant;
}

/** Epoch ms of a wall-clock time in a zone, with the DST rules in the module comment. */
function zonedToEpoch(wall: number, timeZone: string): number {
  const before = offsetAt(timeZone, wall - DAY_MS);
  const after = offsetAt(timeZone, wall + DAY_MS);
  const candidates = [...new Set([before, after])]
    .map((offset) => wall - offset)
    .filter((t) => offsetAt(timeZone, t) === wall - t);
  if (candidates.length > 0) return Math.min(...candidates);
  return wall - before; // in the gap: the offset before the change moves the time forward
}

/**
 * Epoch ms of an HL7 date/time; `timeZone` (IANA) applies when no offset is sent.
 * @throws Hl7TimestampError when the value is not a valid HL7 date/time.
 */
export function parseHl7Timestamp(value: string, timeZone: string): number {
  const parts = parseDtm(value.trim());
  const wall = wallAsUtc(parts);
  if (parts.offsetMinutes !== null) return wall - parts.offsetMinutes * 60_000;
  if (timeZone === 'UTC') return wall; // the default: no zone rules to apply
  return zonedToEpoch(wall, timeZone);
}

/**
 * An HL7 date (or the date part of a date/time, e.g. PID-7) as ISO 8601 at the precision sent:
 * `1970` → `1970`, `197004` → `1970-04`, `19700415` and `197004150830` → `1970-04-15`.
 * A time and offset, when present, are validated and then left out: a birth date is a date.
 * @throws Hl7TimestampError when the value is not a valid HL7 date/time.
 */
export function parseHl7Date(value: string): string {
  const parts = parseDtm(value.trim());
  const yyyy = String(parts.year).padStart(4, '0');
  const mm = String(parts.month).padStart(2, '0');
  const dd = String(parts.day).padStart(2, '0');
  if (parts.dateParts === 1) return yyyy;
  if (parts.dateParts === 2) return `${yyyy}-${mm}`;
  return `${yyyy}-${mm}-${dd}`;
}
