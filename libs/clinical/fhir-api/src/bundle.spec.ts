import { parseSearchQuery } from '@ancillary/fhir-store';
import { pagingLinks } from './bundle';

const BASE = 'https://ehr.example/fhir';
const query = (qs: string) =>
  parseSearchQuery('DiagnosticReport', new URLSearchParams(qs).entries());
const relations = (links: { relation: string }[]) => links.map((l) => l.relation);

describe('pagingLinks', () => {
  it('links the first page to the next and last, keeping the search parameters', () => {
    const links = pagingLinks(BASE, query('patient=p1&status=final&_count=10'), 35, 10);
    expect(relations(links)).toEqual(['self', 'first', 'next', 'last']);
    expect(links[0]!.url).toBe(`${BASE}/DiagnosticReport?patient=p1&status=final&_count=10`);
    expect(links[2]!.url).toBe(
      `${BASE}/DiagnosticReport?patient=p1&status=final&_count=10&_offset=10`,
    );
    expect(links[3]!.url).toBe(
      `${BASE}/DiagnosticReport?patient=p1&status=final&_count=10&_offset=30`,
    );
  });

  it('links a middle page both ways and the last page only back', () => {
    expect(relations(pagingLinks(BASE, query('_count=10&_offset=10'), 35, 10))).toEqual([
      'self',
      'first',
      'previous',
      'next',
      'last',
    ]);
    const last = pagingLinks(BASE, query('_count=10&_offset=30'), 35, 5);
    expect(relations(last)).toEqual(['self', 'first', 'previous', 'last']);
    expect(last[2]!.url).toContain('_offset=20');
  });

  it('guesses a next page from a full page when the total was not asked for', () => {
    expect(relations(pagingLinks(BASE, query('_total=none&_count=5'), undefined, 5))).toEqual([
      'self',
      'first',
      'next',
    ]);
    expect(relations(pagingLinks(BASE, query('_total=none&_count=5'), undefined, 4))).toEqual([
      'self',
      'first',
    ]);
  });

  it('gives only self for a count-only search and for no matches a self and first', () => {
    expect(relations(pagingLinks(BASE, query('_count=0'), 12, 0))).toEqual(['self']);
    expect(relations(pagingLinks(BASE, query('code=x'), 0, 0))).toEqual(['self', 'first']);
  });
});
