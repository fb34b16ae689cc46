/**
 * FHIR dates as ranges. A FHIR date or dateTime stands for the whole period its precision
 * covers (2024 is the year, 2024-03-05 the day, 10:15 the minute), so both the values the
 * repository indexes and the values a search asks for become [low, high) ranges, and the date
 * prefixes compare ranges: https://hl7.org/fhir/R4/search.html#date
 *
 * Bounds are returned as text with the value's own offset when it has one, and without any
 * when it has none; PostgreSQL turns them into instants (`fhir.date_bound`) in the repository's
 * time zone, so "2024-03-05" means that day where the hospital is, daylight saving included.
 */

export interface DateRange {
  /** Inclusive lower bound, ISO text, with an offset only if the value had one. */
  low: string;
  /** Exclusive upper bound, same form. */
  high: string;
}

const DATE_PATTERN =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

type Precision = 'year' | 'month' | 'day' | 'minute' | 'second' | 'millisecond';

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

function naiveText(ms: number): string {
  const d = new Date(ms);
  return (
    `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}` +
    `T${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}` +
    `.${pad(d.getUTCMilliseconds(), 3)}`
  );
}

function utcMs(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  ms: number,
): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, ms);
  return d.getTime();
}

function daysInMonth(year: number, month: number): number {
  return new Date(utcMs(year, month + 1, 0, 0, 0, 0, 0)).getUTCDate();
}

/**
 * The range a FHIR date, dateTime or instant covers, or undefined when the text is not one
 * (an impossible month or day, an hour of 25, a malformed offset).
 */
export function dateRange(value: string): DateRange | undefined {
  const match = DATE_PATTERN.exec(value);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, fraction, offset] = match;
  const year = Number(y);
  const month = mo === undefined ? 1 : Number(mo);
  const day = d === undefined ? 1 : Number(d);
  const hour = h === undefined ? 0 : Number(h);
  const minute = mi === undefined ? 0 : Number(mi);
  const second = s === undefined ? 0 : Number(s);
  // Precision beyond milliseconds is kept to the millisecond (the range gets 1 ms wide).
  const millis = fraction === undefined ? 0 : Number(fraction.slice(0, 3).padEnd(3, '0'));
  if (year < 1 || month < 1 || month > 12) return undefined;
  if (day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  if (offset !== undefined && offset !== 'Z') {
    const [oh, om] = offset.slice(1).split(':').map(Number);
    if (oh === undefined || om === undefined || oh > 14 || om > 59) return undefined;
  }
  const precision: Precision =
    mo === undefined
      ? 'year'
      : d === undefined
        ? 'month'
        : h === undefined
          ? 'day'
          : s === undefined
            ? 'minute'
            : fraction === undefined
              ? 'second'
              : 'millisecond';
  // A time of day without an offset is read in the repository's zone, like a bare date.
  const start = utcMs(year, month, day, hour, minute, second, millis);
  let end: number;
  switch (precision) {
    case 'year':
      end = utcMs(year + 1, 1, 1, 0, 0, 0, 0);
      break;
    case 'month':
      end = utcMs(year, month + 1, 1, 0, 0, 0, 0);
      break;
    case 'day':
      end = utcMs(year, month, day + 1, 0, 0, 0, 0);
      break;
    case 'minute':
      end = start + 60_000;
      break;
    case 'second':
      end = start + 1_000;
      break;
    case 'millisecond':
      end = start + 1;
      break;
  }
  const suffix = offset ?? '';
  return { low: naiveText(start) + suffix, high: naiveText(end) + suffix };
}
