/**
 * A parsed location such as `PID-3[2].1`, `OBX[4]-5.1.2` or `MSH-9.1` (HL7's own
 * "SEG-field.component.subcomponent" notation, with `[n]` for a repetition and for a
 * segment occurrence, all 1-based).
 */
export interface Hl7Path {
  /** Segment ID; absent for a path relative to one segment (`3[2].1`). */
  readonly segment?: string;
  /** 1-based occurrence of the segment; absent means the first. */
  readonly occurrence?: number;
  readonly field: number;
  /** Absent means "the whole field" for raw access and "the first" for values. */
  readonly repetition?: number;
  readonly component?: number;
  readonly subcomponent?: number;
}

const PATH =
  /^(?:([A-Z][A-Z0-9]{2})(?:\[(\d+)\])?-)?(\d+)(?:\[(\d+)\])?(?:[.-](\d+)(?:[.-](\d+))?)?$/;

const cache = new Map<string, Hl7Path>();
const CACHE_LIMIT = 1024;

/**
 * Parses a path; throws a TypeError for a malformed one (a programming error, not bad
 * input). Results are memoised: applications use a handful of fixed paths per message type.
 */
export function parsePath(path: string): Hl7Path {
  const cached = cache.get(path);
  if (cached) return cached;
  const m = PATH.exec(path);
  if (!m) {
    throw new TypeError(
      `Invalid HL7 path ${JSON.stringify(path)}: expected e.g. 'PID-3', 'PID-3[2].1', 'OBX[2]-5.1.2'`,
    );
  }
  const [, segment, occurrence, field, repetition, component, subcomponent] = m;
  const parsed: Hl7Path = {
    ...(segment === undefined ? {} : { segment }),
    ...(occurrence === undefined ? {} : { occurrence: positive(occurrence, path) }),
    field: positive(field ?? '', path),
    ...(repetition === undefined ? {} : { repetition: positive(repetition, path) }),
    ...(component === undefined ? {} : { component: positive(component, path) }),
    ...(subcomponent === undefined ? {} : { subcomponent: positive(subcomponent, path) }),
  };
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(path, parsed);
  return parsed;
}

function positive(digits: string, path: string): number {
  const n = Number(digits);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new TypeError(`Invalid HL7 path ${JSON.stringify(path)}: positions start at 1`);
  }
  return n;
}
