/**
 * Parses FHIR search parameters (the query string of `GET [base]/[type]?...`) into a typed
 * query. Strict on purpose: a server that silently ignores a misspelt parameter answers a
 * different question than the one asked, which for a patient's results is worse than an error,
 * so unknown parameters, unsupported modifiers and malformed values are all refused with the
 * parameter named. https://hl7.org/fhir/R4/search.html
 */
import { dateRange, type DateRange } from './date-range';
import { InvalidSearchError, type SearchIssue } from './errors';
import { FHIR_ID_PATTERN } from './ids';
import { type FhirResourceType, isFhirResourceType } from './fhir.types';
import {
  parseReference,
  SEARCH_PARAMETERS,
  searchParameter,
  type SearchParameterDefinition,
} from './search-parameters';

/** A token to match: system undefined = any system, '' = no system; code undefined = any code. */
export interface TokenValue {
  system?: string;
  code?: string;
}

export interface ReferenceValue {
  type?: string;
  id: string;
}

/** Date prefixes this repository evaluates (ap, sa and eb are refused, not guessed at). */
export const DATE_PREFIXES = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;
export type DatePrefix = (typeof DATE_PREFIXES)[number];

export interface DateValue {
  prefix: DatePrefix;
  range: DateRange;
}

/** One parameter of the query; the values of one criterion are alternatives (OR). */
export type SearchCriterion =
  | { kind: 'token'; indexParam: string; values: TokenValue[] }
  | { kind: 'reference'; indexParam: string; targetTypes: string[]; values: ReferenceValue[] }
  | { kind: 'date'; indexParam: string; values: DateValue[] }
  | { kind: 'id'; values: string[] }
  | { kind: 'lastUpdated'; values: DateValue[] }
  | {
      kind: 'chain';
      indexParam: string;
      targetType: FhirResourceType;
      chainedIndexParam: string;
      values: TokenValue[];
    };

export type SortKey =
  | { kind: 'id'; descending: boolean }
  | { kind: 'lastUpdated'; descending: boolean }
  | { kind: 'date'; indexParam: string; descending: boolean };

/** `_include` (from the matches to what they reference) or `_revinclude` (to what references them). */
export interface IncludeSpec {
  sourceType: FhirResourceType;
  indexParam: string;
  /** Restricts the targets (the `:Type` suffix, or the parameter's only target type). */
  targetType?: string;
}

export interface SearchQuery {
  resourceType: FhirResourceType;
  /** All must match (AND). */
  criteria: SearchCriterion[];
  count: number;
  offset: number;
  sort: SortKey[];
  include: IncludeSpec[];
  revinclude: IncludeSpec[];
  /** False for `_total=none`. */
  total: boolean;
  /** The accepted parameters other than _count/_offset, in request order, to build paging links. */
  parameters: [string, string][];
}

export interface SearchQueryOptions {
  defaultCount?: number;
  maxCount?: number;
}

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 200;

/** Result parameters FHIR defines that this repository does not implement. */
const UNSUPPORTED_RESULT_PARAMETERS = new Set([
  '_summary',
  '_elements',
  '_contained',
  '_containedType',
  '_has',
  '_list',
  '_query',
  '_text',
  '_content',
  '_filter',
  '_tag',
  '_profile',
  '_security',
  '_source',
  '_type',
]);

/** Splits on each `separator` not preceded by a backslash; the parts keep their escapes. */
function splitUnescaped(value: string, separator: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    if (value[i] === '\\') i++;
    else if (value[i] === separator) {
      parts.push(value.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(value.slice(start));
  return parts;
}

/** Resolves the search escapes `\,` `\|` `\$` `\\` to the characters themselves. */
function unescapeValue(value: string): string {
  return value.replace(/\\(.)/g, '$1');
}

/** A token value: `code`, `system|code`, `|code` (no system) or `system|` (any code of it). */
function parseToken(raw: string): TokenValue | string {
  const [systemPart, ...rest] = splitUnescaped(raw, '|');
  if (rest.length === 0) {
    const code = unescapeValue(raw);
    return code ? { code } : 'empty token';
  }
  // Only the first unescaped | separates; a later one belongs to the code.
  const system = unescapeValue(systemPart ?? '');
  const code = unescapeValue(rest.join('|'));
  if (!system && !code) return 'a token needs a system, a code or both';
  return { system, ...(code ? { code } : {}) };
}

function parseDateValue(raw: string): DateValue | string {
  const match = /^([a-z]{2})?(.*)$/.exec(raw);
  const prefixText = match?.[1];
  const rest = match?.[2] ?? raw;
  if (prefixText && !(DATE_PREFIXES as readonly string[]).includes(prefixText)) {
    return `date prefix '${prefixText}' is not supported (supported: ${DATE_PREFIXES.join(', ')})`;
  }
  const range = dateRange(rest);
  if (!range) {
    return `'${rest}' is not a FHIR date or dateTime (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss][Z|±hh:mm])`;
  }
  return { prefix: (prefixText as DatePrefix | undefined) ?? 'eq', range };
}

function parseReferenceValue(
  raw: string,
  definition: SearchParameterDefinition,
  typeModifier: string | undefined,
): ReferenceValue | string {
  let value: ReferenceValue;
  if (raw.includes('/')) {
    const parsed = parseReference(raw);
    if (!parsed) return `'${raw}' is not a reference of the form Type/id`;
    value = { type: parsed.type, id: parsed.id };
  } else {
    if (!FHIR_ID_PATTERN.test(raw)) return `'${raw}' is not a FHIR id`;
    value = { id: raw };
  }
  const allowed = definition.targets ?? [];
  if (value.type !== undefined && !(allowed as readonly string[]).includes(value.type)) {
    return `${definition.name} refers to ${allowed.join(' or ')}, not ${value.type}`;
  }
  if (value.type !== undefined && typeModifier !== undefined && value.type !== typeModifier) {
    return `the value's type ${value.type} contradicts the modifier :${typeModifier}`;
  }
  return value;
}

function parseInteger(raw: string): number | undefined {
  return /^\d{1,9}$/.test(raw) ? Number(raw) : undefined;
}

/** A problem with a value, as the message the issue will carry. */
type Problem = string;

/** Parses comma-separated alternatives; the first problem is the answer. */
function values<T extends object>(
  raw: string,
  parse: (part: string) => T | Problem,
): T[] | Problem {
  const out: T[] = [];
  for (const part of splitUnescaped(raw, ',')) {
    if (part.length === 0) return 'empty value';
    const parsed = parse(part);
    if (typeof parsed === 'string') return parsed;
    out.push(parsed);
  }
  return out;
}

function parseInclude(
  resourceType: FhirResourceType,
  name: '_include' | '_revinclude',
  raw: string,
): IncludeSpec | Problem {
  const [sourceType, paramName, targetType, ...extra] = raw.split(':');
  if (!sourceType || !paramName || extra.length > 0) {
    return `'${raw}' is not of the form Type:parameter[:TargetType]`;
  }
  if (!isFhirResourceType(sourceType)) return `unknown resource type '${sourceType}'`;
  if (name === '_include' && sourceType !== resourceType) {
    return `_include must start with the searched type ${resourceType}`;
  }
  const definition = searchParameter(sourceType, paramName);
  if (definition?.type !== 'reference') {
    return `'${paramName}' is not a reference parameter of ${sourceType}`;
  }
  const targets = definition.targets ?? [];
  if (targetType !== undefined && !(targets as readonly string[]).includes(targetType)) {
    return `${sourceType}:${paramName} does not refer to ${targetType}`;
  }
  if (name === '_revinclude') {
    const points = targetType ?? (targets.length === 1 ? targets[0] : undefined);
    if (points !== undefined && points !== resourceType) {
      return `${sourceType}:${paramName} does not refer to ${resourceType}`;
    }
    return { sourceType, indexParam: definition.indexParam, targetType: resourceType };
  }
  const restrict = targetType ?? (targets.length === 1 ? targets[0] : undefined);
  return {
    sourceType,
    indexParam: definition.indexParam,
    ...(restrict !== undefined ? { targetType: restrict } : {}),
  };
}

function parseSort(resourceType: FhirResourceType, raw: string): SortKey[] | Problem {
  const keys: SortKey[] = [];
  for (const part of raw.split(',')) {
    const descending = part.startsWith('-');
    const name = descending ? part.slice(1) : part;
    if (name === '_id') keys.push({ kind: 'id', descending });
    else if (name === '_lastUpdated') keys.push({ kind: 'lastUpdated', descending });
    else {
      const definition = searchParameter(resourceType, name);
      if (definition?.type !== 'date') {
        const dates = SEARCH_PARAMETERS[resourceType]
          .filter((p) => p.type === 'date')
          .map((p) => p.name);
        return `cannot sort ${resourceType} by '${name}' (supported: ${['_id', '_lastUpdated', ...dates].join(', ')})`;
      }
      keys.push({ kind: 'date', indexParam: definition.indexParam, descending });
    }
  }
  return keys;
}

function parseReferenceCriterion(
  raw: string,
  definition: SearchParameterDefinition,
  modifier: string | undefined,
  chained: string | undefined,
): SearchCriterion | Problem {
  const paramName = definition.name;
  if (modifier !== undefined && !(definition.targets ?? []).some((t) => t === modifier)) {
    return `modifier ':${modifier}' is not supported (a target type of ${paramName})`;
  }
  const targetTypes = modifier !== undefined ? [modifier] : [...(definition.targets ?? [])];
  if (chained !== undefined) {
    const targetType = targetTypes.length === 1 ? targetTypes[0] : undefined;
    if (targetType === undefined || !isFhirResourceType(targetType)) {
      return 'a chain needs one target type: add it as a modifier, e.g. subject:Patient';
    }
    const chainedDefinition = searchParameter(targetType, chained);
    if (chainedDefinition?.type !== 'token') {
      return `chained parameter '${chained}' is not a token parameter of ${targetType} (chains support token parameters only)`;
    }
    const tokens = values(raw, parseToken);
    if (typeof tokens === 'string') return tokens;
    return {
      kind: 'chain',
      indexParam: definition.indexParam,
      targetType,
      chainedIndexParam: chainedDefinition.indexParam,
      values: tokens,
    };
  }
  const refs = values(raw, (v) => parseReferenceValue(unescapeValue(v), definition, modifier));
  if (typeof refs === 'string') return refs;
  return { kind: 'reference', indexParam: definition.indexParam, targetTypes, values: refs };
}

function parseCriterion(
  resourceType: FhirResourceType,
  name: string,
  raw: string,
): SearchCriterion | Problem {
  const dot = name.indexOf('.');
  const base = dot >= 0 ? name.slice(0, dot) : name;
  const chained = dot >= 0 ? name.slice(dot + 1) : undefined;
  const [paramName = '', modifier, ...extra] = base.split(':');
  if (extra.length > 0) return 'more than one modifier';

  if (paramName === '_id' || paramName === '_lastUpdated') {
    if (modifier !== undefined || chained !== undefined) {
      return `${paramName} takes no modifier or chain`;
    }
    if (paramName === '_id') {
      // Parsers answer a string for a problem, so ids travel wrapped.
      const ids = values(raw, (v) =>
        FHIR_ID_PATTERN.test(unescapeValue(v))
          ? { id: unescapeValue(v) }
          : `'${v}' is not a FHIR id`,
      );
      return typeof ids === 'string' ? ids : { kind: 'id', values: ids.map((i) => i.id) };
    }
    const dates = values(raw, (v) => parseDateValue(unescapeValue(v)));
    return typeof dates === 'string' ? dates : { kind: 'lastUpdated', values: dates };
  }

  const definition = searchParameter(resourceType, paramName);
  if (!definition) {
    const known = ['_id', '_lastUpdated', ...SEARCH_PARAMETERS[resourceType].map((p) => p.name)];
    return `unknown search parameter for ${resourceType} (supported: ${known.join(', ')})`;
  }
  if (definition.type === 'reference') {
    return parseReferenceCriterion(raw, definition, modifier, chained);
  }
  if (chained !== undefined) return `${paramName} is not a reference parameter to chain`;
  if (modifier !== undefined) {
    return `modifier ':${modifier}' is not supported for ${definition.type} parameters`;
  }
  if (definition.type === 'token') {
    const tokens = values(raw, parseToken);
    return typeof tokens === 'string'
      ? tokens
      : { kind: 'token', indexParam: definition.indexParam, values: tokens };
  }
  const dates = values(raw, (v) => parseDateValue(unescapeValue(v)));
  return typeof dates === 'string'
    ? dates
    : { kind: 'date', indexParam: definition.indexParam, values: dates };
}

/**
 * Parses search parameters for a resource type. Throws InvalidSearchError naming every
 * parameter that is unknown, unsupported or malformed.
 */
export function parseSearchQuery(
  resourceType: FhirResourceType,
  parameters: Iterable<[string, string]>,
  options: SearchQueryOptions = {},
): SearchQuery {
  const maxCount = options.maxCount ?? MAX_PAGE_SIZE;
  const issues: SearchIssue[] = [];
  const query: SearchQuery = {
    resourceType,
    criteria: [],
    count: Math.min(options.defaultCount ?? DEFAULT_PAGE_SIZE, maxCount),
    offset: 0,
    sort: [],
    include: [],
    revinclude: [],
    total: true,
    parameters: [],
  };
  const seen = new Set<string>();
  const once = (name: string): boolean => {
    if (seen.has(name)) {
      issues.push({ parameter: name, message: 'may be given only once' });
      return false;
    }
    seen.add(name);
    return true;
  };

  for (const [name, raw] of parameters) {
    if (raw.length === 0) {
      issues.push({ parameter: name, message: 'empty value' });
      continue;
    }
    switch (name) {
      case '_count': {
        if (!once(name)) break;
        const n = parseInteger(raw);
        if (n === undefined) issues.push({ parameter: name, message: 'not a whole number' });
        else query.count = Math.min(n, maxCount);
        break;
      }
      case '_offset': {
        if (!once(name)) break;
        const n = parseInteger(raw);
        if (n === undefined) issues.push({ parameter: name, message: 'not a whole number' });
        else query.offset = n;
        break;
      }
      case '_sort': {
        if (!once(name)) break;
        const keys = parseSort(resourceType, raw);
        if (typeof keys === 'string') issues.push({ parameter: name, message: keys });
        else {
          query.sort = keys;
          query.parameters.push([name, raw]);
        }
        break;
      }
      case '_total': {
        if (!once(name)) break;
        if (!['none', 'estimate', 'accurate'].includes(raw)) {
          issues.push({ parameter: name, message: 'must be none, estimate or accurate' });
        } else {
          query.total = raw !== 'none';
          query.parameters.push([name, raw]);
        }
        break;
      }
      case '_include':
      case '_revinclude': {
        const spec = parseInclude(resourceType, name, raw);
        if (typeof spec === 'string') issues.push({ parameter: name, message: spec });
        else {
          (name === '_include' ? query.include : query.revinclude).push(spec);
          query.parameters.push([name, raw]);
        }
        break;
      }
      default: {
        const baseName = name.split(/[:.]/)[0] ?? name;
        if (UNSUPPORTED_RESULT_PARAMETERS.has(baseName) || /^_(include|revinclude):/.test(name)) {
          issues.push({ parameter: name, message: 'not supported by this server' });
          break;
        }
        const criterion = parseCriterion(resourceType, name, raw);
        if (typeof criterion === 'string') issues.push({ parameter: name, message: criterion });
        else {
          query.criteria.push(criterion);
          query.parameters.push([name, raw]);
        }
      }
    }
  }
  if (issues.length > 0) throw new InvalidSearchError(issues);
  return query;
}
