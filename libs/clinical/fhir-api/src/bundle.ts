/**
 * Bundles the API answers: searchset (https://hl7.org/fhir/R4/search.html#bundle) with total,
 * paging links and search modes, and history (https://hl7.org/fhir/R4/http.html#history).
 */
import type { SearchQuery, SearchResult, StoredResource } from '@ancillary/fhir-store';
import { randomUUID } from 'node:crypto';

export interface BundleLink {
  relation: 'self' | 'first' | 'previous' | 'next' | 'last';
  url: string;
}

export interface BundleEntry {
  fullUrl: string;
  resource: StoredResource['resource'];
  search?: { mode: 'match' | 'include' };
  request?: { method: 'POST' | 'PUT'; url: string };
  response?: { status: string; etag: string; lastModified: string };
}

export interface Bundle {
  resourceType: 'Bundle';
  id: string;
  meta: { lastUpdated: string };
  type: 'searchset' | 'history';
  total?: number;
  link: BundleLink[];
  entry: BundleEntry[];
}

export function weakEtag(versionId: number): string {
  return `W/"${versionId}"`;
}

function pageUrl(base: string, query: SearchQuery, offset: number): string {
  const params = new URLSearchParams(query.parameters);
  params.set('_count', String(query.count));
  if (offset > 0) params.set('_offset', String(offset));
  return `${base}/${query.resourceType}?${params.toString()}`;
}

/** self, first, previous, next and last, as far as they exist for this page. */
export function pagingLinks(
  base: string,
  query: SearchQuery,
  total: number | undefined,
  returned: number,
): BundleLink[] {
  const { count, offset } = query;
  const links: BundleLink[] = [{ relation: 'self', url: pageUrl(base, query, offset) }];
  if (count === 0) return links;
  links.push({ relation: 'first', url: pageUrl(base, query, 0) });
  if (offset > 0) {
    links.push({ relation: 'previous', url: pageUrl(base, query, Math.max(0, offset - count)) });
  }
  const more = total !== undefined ? offset + count < total : returned === count;
  if (more) links.push({ relation: 'next', url: pageUrl(base, query, offset + count) });
  if (total !== undefined && total > 0) {
    links.push({
      relation: 'last',
      url: pageUrl(base, query, Math.floor((total - 1) / count) * count),
    });
  }
  return links;
}

export function searchBundle(base: string, query: SearchQuery, result: SearchResult): Bundle {
  const entry = (r: StoredResource, mode: 'match' | 'include'): BundleEntry => ({
    fullUrl: `${base}/${r.resourceType}/${r.id}`,
    resource: r.resource,
    search: { mode },
  });
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    meta: { lastUpdated: new Date().toISOString() },
    type: 'searchset',
    ...(result.total !== undefined ? { total: result.total } : {}),
    link: pagingLinks(base, query, result.total, result.matches.length),
    entry: [
      ...result.matches.map((r) => entry(r, 'match')),
      ...result.included.map((r) => entry(r, 'include')),
    ],
  };
}

export function historyBundle(base: string, versions: StoredResource[], selfUrl: string): Bundle {
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    meta: { lastUpdated: new Date().toISOString() },
    type: 'history',
    total: versions.length,
    link: [{ relation: 'self', url: selfUrl }],
    entry: versions.map((v) => ({
      fullUrl: `${base}/${v.resourceType}/${v.id}`,
      resource: v.resource,
      request:
        v.versionId === 1
          ? { method: 'POST', url: v.resourceType }
          : { method: 'PUT', url: `${v.resourceType}/${v.id}` },
      response: {
        status: v.versionId === 1 ? '201 Created' : '200 OK',
        etag: weakEtag(v.versionId),
        lastModified: v.lastUpdated.toISOString(),
      },
    })),
  };
}
