/**
 * SQL for a parsed search: each criterion is an EXISTS over its index table (values of one
 * criterion OR'ed, criteria AND'ed), values always bound as parameters. Date comparisons
 * follow the FHIR range semantics (https://hl7.org/fhir/R4/search.html#prefix): the resource's
 * [low, high) range against the searched value's [low, high).
 */
import type {
  DateValue,
  IncludeSpec,
  SearchCriterion,
  SearchQuery,
  SortKey,
  TokenValue,
} from './search-query';

class Params {
  readonly values: unknown[] = [];
  private zoneParam: string | undefined;
  constructor(private readonly timeZone: string) {}
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
  /** The repository's time zone, bound once and only when a date condition needs it. */
  zone(): string {
    this.zoneParam ??= `${this.add(this.timeZone)}::text`;
    return this.zoneParam;
  }
}

function tokenCondition(params: Params, alias: string, values: TokenValue[]): string {
  return values
    .map((v) => {
      const parts: string[] = [];
      if (v.system !== undefined) parts.push(`${alias}.system = ${params.add(v.system)}`);
      if (v.code !== undefined) parts.push(`${alias}.code = ${params.add(v.code)}`);
      return `(${parts.join(' AND ')})`;
    })
    .join(' OR ');
}

/** Range comparison of [low, high) columns against one searched value. */
function dateCondition(params: Params, low: string, high: string, value: DateValue): string {
  // Bounds are bound only when the prefix uses them: PostgreSQL refuses a parameter that the
  // statement never mentions (it cannot infer its type).
  const bound = (text: string): string =>
    `fhir.date_bound(${params.add(text)}::text, ${params.zone()})`;
  const within = (): string =>
    `(${low} >= ${bound(value.range.low)} AND ${high} <= ${bound(value.range.high)})`;
  switch (value.prefix) {
    case 'eq':
      return within();
    case 'ne':
      return `NOT ${within()}`;
    case 'gt':
      return `(${high} > ${bound(value.range.high)})`;
    case 'lt':
      return `(${low} < ${bound(value.range.low)})`;
    case 'ge':
      return `(${high} > ${bound(value.range.high)} OR ${within()})`;
    case 'le':
      return `(${low} < ${bound(value.range.low)} OR ${within()})`;
  }
}

function criterionSql(params: Params, criterion: SearchCriterion): string {
  switch (criterion.kind) {
    case 'id':
      return `r.id = ANY(${params.add(criterion.values)}::text[])`;
    case 'lastUpdated':
      return `(${criterion.values
        .map((v) =>
          dateCondition(params, 'r.last_updated', `(r.last_updated + interval '1 millisecond')`, v),
        )
        .join(' OR ')})`;
    case 'token':
      return `EXISTS (SELECT 1 FROM fhir.search_token t
        WHERE t.resource_type = r.resource_type AND t.id = r.id
          AND t.param = ${params.add(criterion.indexParam)}
          AND (${tokenCondition(params, 't', criterion.values)}))`;
    case 'reference': {
      const alternatives = criterion.values.map((v) => {
        const types = v.type !== undefined ? [v.type] : criterion.targetTypes;
        const typeSql =
          types.length > 0 ? ` AND x.target_type = ANY(${params.add(types)}::text[])` : '';
        return `(x.target_id = ${params.add(v.id)}${typeSql})`;
      });
      return `EXISTS (SELECT 1 FROM fhir.search_reference x
        WHERE x.resource_type = r.resource_type AND x.id = r.id
          AND x.param = ${params.add(criterion.indexParam)}
          AND (${alternatives.join(' OR ')}))`;
    }
    case 'date':
      return `EXISTS (SELECT 1 FROM fhir.search_date d
        WHERE d.resource_type = r.resource_type AND d.id = r.id
          AND d.param = ${params.add(criterion.indexParam)}
          AND (${criterion.values
            .map((v) => dateCondition(params, 'd.low', 'd.high', v))
            .join(' OR ')}))`;
    case 'chain':
      return `EXISTS (SELECT 1 FROM fhir.search_reference x
        JOIN fhir.search_token t ON t.resource_type = x.target_type AND t.id = x.target_id
        WHERE x.resource_type = r.resource_type AND x.id = r.id
          AND x.param = ${params.add(criterion.indexParam)}
          AND x.target_type = ${params.add(criterion.targetType)}
          AND t.param = ${params.add(criterion.chainedIndexParam)}
          AND (${tokenCondition(params, 't', criterion.values)}))`;
  }
}

function sortSql(params: Params, key: SortKey): string {
  const direction = key.descending ? 'DESC' : 'ASC';
  switch (key.kind) {
    case 'id':
      return `r.id ${direction}`;
    case 'lastUpdated':
      return `r.last_updated ${direction}`;
    case 'date': {
      // Ascending sorts by where each resource's range starts, descending by where it ends.
      const bound = key.descending ? 'max(d.high)' : 'min(d.low)';
      return `(SELECT ${bound} FROM fhir.search_date d
        WHERE d.resource_type = r.resource_type AND d.id = r.id
          AND d.param = ${params.add(key.indexParam)}) ${direction} NULLS LAST`;
    }
  }
}

export interface SearchStatements {
  page: { text: string; values: unknown[] };
  count: { text: string; values: unknown[] };
}

export function searchStatements(query: SearchQuery, timeZone: string): SearchStatements {
  const params = new Params(timeZone);
  const conditions = [
    `r.resource_type = ${params.add(query.resourceType)}`,
    ...query.criteria.map((c) => criterionSql(params, c)),
  ];
  const where = conditions.join('\n  AND ');
  const countText = `SELECT count(*)::int AS total FROM fhir.resource r WHERE ${where}`;
  const countValues = [...params.values];

  const order =
    query.sort.length > 0
      ? [...query.sort.map((k) => sortSql(params, k)), 'r.id ASC']
      : ['r.last_updated DESC', 'r.id ASC'];
  const limit = params.add(query.count);
  const offset = params.add(query.offset);
  const pageText = `SELECT r.resource_type, r.id, r.version_id, r.last_updated, r.content
FROM fhir.resource r
WHERE ${where}
ORDER BY ${order.join(', ')}
LIMIT ${limit} OFFSET ${offset}`;
  return {
    page: { text: pageText, values: params.values },
    count: { text: countText, values: countValues },
  };
}

/** Resources the matches reference through one reference parameter (`_include`). */
export function includeStatement(
  spec: IncludeSpec,
  ids: string[],
): { text: string; values: unknown[] } {
  return {
    text: `SELECT r.resource_type, r.id, r.version_id, r.last_updated, r.content
FROM fhir.resource r
WHERE (r.resource_type, r.id) IN (
  SELECT x.target_type, x.target_id FROM fhir.search_reference x
  WHERE x.resource_type = $1 AND x.id = ANY($2::text[]) AND x.param = $3
    AND ($4::text IS NULL OR x.target_type = $4))`,
    values: [spec.sourceType, ids, spec.indexParam, spec.targetType ?? null],
  };
}

/** Resources that reference the matches through one reference parameter (`_revinclude`). */
export function revincludeStatement(
  spec: IncludeSpec,
  targetType: string,
  ids: string[],
): { text: string; values: unknown[] } {
  return {
    text: `SELECT r.resource_type, r.id, r.version_id, r.last_updated, r.content
FROM fhir.resource r
WHERE r.resource_type = $1 AND r.id IN (
  SELECT x.id FROM fhir.search_reference x
  WHERE x.resource_type = $1 AND x.param = $2 AND x.target_type = $3
    AND x.target_id = ANY($4::text[]))`,
    values: [spec.sourceType, spec.indexParam, targetType, ids],
  };
}
