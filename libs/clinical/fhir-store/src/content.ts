/**
 * Resource content as JSON values: what is stored, and when two versions say the same thing.
 * A new version is written only when the content changed, ignoring `meta` (its versionId,
 * lastUpdated and source change on every write by definition).
 */

export type JsonObject = Record<string, unknown>;

/**
 * The JSON that PostgreSQL will hold: undefined members dropped, exactly as `jsonb` would
 * return it (apart from key order, which equality below does not look at).
 */
export function toJsonObject(value: object): JsonObject {
  return JSON.parse(JSON.stringify(value)) as JsonObject;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  }
  const ao = a as JsonObject;
  const bo = b as JsonObject;
  const aKeys = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bKeys = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return aKeys.length === bKeys.length && aKeys.every((k) => deepEqual(ao[k], bo[k]));
}

/** True when two versions of a resource carry the same content, `meta` aside. */
export function sameContent(a: JsonObject, b: JsonObject): boolean {
  const { meta: _a, ...restA } = a;
  const { meta: _b, ...restB } = b;
  return deepEqual(restA, restB);
}
