/**
 * Command-line parsing shared by the operations tools, on node:util parseArgs: unknown options
 * and missing values are UsageErrors that say what was wrong, never ignored.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './tool-bootstrap';

type Options = NonNullable<ParseArgsConfig['options']>;

export function parseCommandLine<O extends Options>(
  argv: readonly string[],
  options: O,
  usage: string,
): ReturnType<
  typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>
>['values'] {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
  }
}

/**
 * An ISO 8601 time such as 2026-11-26T08:00:00Z or 2026-11-26T09:00+01:00. A zone is required:
 * an audit window read in the tool's local time would shift by an hour across a DST change.
 */
export function parseInstant(option: string, value: string): Date {
  const iso =
    /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?(?:Z|[+-]\d{2}:?\d{2})$/i;
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/;
  if (!iso.test(value) && !dateOnly.test(value)) {
    throw new UsageError(
      `--${option} ${JSON.stringify(value)} is not an ISO 8601 time with a zone (e.g. 2026-11-26T08:00:00Z)`,
    );
  }
  // A bare date is midnight UTC (what Date.parse does with it), said explicitly in the docs.
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    throw new UsageError(`--${option} ${JSON.stringify(value)} is not a valid time`);
  }
  return date;
}

export function parsePositiveInt(option: string, value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`--${option} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}
