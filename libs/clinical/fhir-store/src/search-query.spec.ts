import { dateRange } from './date-range';
import { InvalidSearchError } from './errors';
import { indexEntries } from './search-parameters';
import { parseSearchQuery } from './search-query';

const parse = (type: Parameters<typeof parseSearchQuery>[0], qs: string) =>
  parseSearchQuery(type, new URLSearchParams(qs).entries());

function issuesOf(fn: () => unknown): { parameter: string; message: string }[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof InvalidSearchError) return error.issues;
    throw error;
  }
  throw new Error('expected an InvalidSearchError');
}

describe('dateRange', () => {
  it.each([
    ['2024', '2024-01-01T00:00:00.000', '2025-01-01T00:00:00.000'],
    ['2024-02', '2024-02-01T00:00:00.000', '2024-03-01T00:00:00.000'],
    ['2024-12-31', '2024-12-31T00:00:00.000', '2025-01-01T00:00:00.000'],
    ['2024-03-05T10:15', '2024-03-05T10:15:00.000', '2024-03-05T10:16:00.000'],
    ['2024-03-05T10:15:30Z', '2024-03-05T10:15:30.000Z', '2024-03-05T10:15:31.000Z'],
    [
      '2024-03-05T10:15:30.250+01:00',
      '2024-03-05T10:15:30.250+01:00',
      '2024-03-05T10:15:30.251+01:00',
    ],
  ])('%s covers [%s, %s)', (value, low, high) => {
    expect(dateRange(value)).toEqual({ low, high });
  });

  it.each([
    '2024-13',
    '2023-02-29',
    '2024-03-05T24:00',
    '24-03-05',
    '2024-03-05T10:15+25:00',
    'today',
  ])('refuses %s', (value) => {
    expect(dateRange(value)).toBeUndefined();
  });
});

describe('parseSearchQuery', () => {
  it('parses token forms: code, system|code, |code and system|', () => {
    const q = parse('Observation', 'code=2345-7,http://loinc.org|2823-3,|GLU,urn:lis:local|');
    expect(q.criteria).toEqual([
      {
        kind: 'token',
        indexParam: 'code',
        values: [
          { code: '2345-7' },
          { system: 'http://loinc.org', code: '2823-3' },
          { system: '', code: 'GLU' },
          { system: 'urn:lis:local' },
        ],
      },
    ]);
  });

  it('keeps escaped separators inside a value', () => {
    const q = parse('Patient', 'identifier=urn:x|A\\,B\\|C');
    expect(q.criteria[0]).toEqual({
      kind: 'token',
      indexParam: 'identifier',
      values: [{ system: 'urn:x', code: 'A,B|C' }],
    });
  });

  it('accepts patient as Patient/id, a bare id or an absolute URL, searching subject rows', () => {
    const q = parse('DiagnosticReport', 'patient=Patient/abc,def,http://h/fhir/Patient/ghi');
    expect(q.criteria[0]).toEqual({
      kind: 'reference',
      indexParam: 'subject',
      targetTypes: ['Patient'],
      values: [{ type: 'Patient', id: 'abc' }, { id: 'def' }, { type: 'Patient', id: 'ghi' }],
    });
  });

  it('parses date prefixes and partial dates, repeated parameters AND-ed', () => {
    const q = parse('Observation', 'date=ge2024-03&date=lt2024-03-05T10:00Z');
    expect(q.criteria).toEqual([
      { kind: 'date', indexParam: 'date', values: [{ prefix: 'ge', range: dateRange('2024-03') }] },
      {
        kind: 'date',
        indexParam: 'date',
        values: [{ prefix: 'lt', range: dateRange('2024-03-05T10:00Z') }],
      },
    ]);
  });

  it('parses paging, sort, includes and a chain', () => {
    const q = parse(
      'DiagnosticReport',
      '_count=500&_offset=40&_sort=-date&_include=DiagnosticReport:result&_include=DiagnosticReport:subject&patient.identifier=urn:mrn|1',
    );
    expect(q.count).toBe(200);
    expect(q.offset).toBe(40);
    expect(q.sort).toEqual([{ kind: 'date', indexParam: 'date', descending: true }]);
    expect(q.include).toEqual([
      { sourceType: 'DiagnosticReport', indexParam: 'result', targetType: 'Observation' },
      { sourceType: 'DiagnosticReport', indexParam: 'subject', targetType: 'Patient' },
    ]);
    expect(q.criteria).toEqual([
      {
        kind: 'chain',
        indexParam: 'subject',
        targetType: 'Patient',
        chainedIndexParam: 'identifier',
        values: [{ system: 'urn:mrn', code: '1' }],
      },
    ]);
    expect(q.parameters.map(([n]) => n)).toEqual([
      '_sort',
      '_include',
      '_include',
      'patient.identifier',
    ]);
  });

  it('parses _revinclude from observations to the reports listing them', () => {
    const q = parse('Observation', '_revinclude=DiagnosticReport:result');
    expect(q.revinclude).toEqual([
      { sourceType: 'DiagnosticReport', indexParam: 'result', targetType: 'Observation' },
    ]);
  });

  it('names every unknown, unsupported or malformed parameter', () => {
    const issues = issuesOf(() =>
      parse(
        'Observation',
        'foo=1&code:text=glucose&date=sa2024&date=2024-13&_count=-1&_summary=true&patient=Observation/1&_include=Patient:x&status=',
      ),
    );
    expect(issues.map((i) => i.parameter)).toEqual([
      'foo',
      'code:text',
      'date',
      'date',
      '_count',
      '_summary',
      'patient',
      '_include',
      'status',
    ]);
    expect(issues[0]!.message).toMatch(
      /unknown search parameter for Observation \(supported: _id, _lastUpdated, identifier, code/,
    );
    expect(issues[2]!.message).toMatch(/prefix 'sa' is not supported/);
    expect(issues[3]!.message).toMatch(/not a FHIR date/);
  });

  it('refuses a second _count and an include of another type', () => {
    expect(issuesOf(() => parse('Patient', '_count=1&_count=2'))[0]!.message).toMatch(/only once/);
    expect(
      issuesOf(() => parse('Observation', '_include=DiagnosticReport:result'))[0]!.message,
    ).toMatch(/must start with the searched type/);
  });
});

describe('indexEntries', () => {
  it('indexes a report: identifier, code, category, status, references and dates', () => {
    const entries = indexEntries('DiagnosticReport', {
      resourceType: 'DiagnosticReport',
      identifier: [{ system: 'urn:f', value: 'F1' }],
      status: 'final',
      category: [{ coding: [{ system: 'urn:cat', code: 'LAB' }] }],
      code: { coding: [{ system: 'http://loinc.org', code: '51990-0' }, { code: 'BMP' }] },
      subject: { reference: 'Patient/p1' },
      result: [
        { reference: 'Observation/o1' },
        { reference: 'Observation/o1' },
        { display: 'no ref' },
      ],
      effectiveDateTime: '2026-03-05T08:00:00.000Z',
      issued: '2026-03-05',
    });
    expect(entries.tokens).toEqual([
      { param: 'identifier', system: 'urn:f', code: 'F1' },
      { param: 'code', system: 'http://loinc.org', code: '51990-0' },
      { param: 'code', system: '', code: 'BMP' },
      { param: 'category', system: 'urn:cat', code: 'LAB' },
      { param: 'status', system: 'http://hl7.org/fhir/diagnostic-report-status', code: 'final' },
    ]);
    expect(entries.references).toEqual([
      { param: 'subject', targetType: 'Patient', targetId: 'p1' },
      { param: 'result', targetType: 'Observation', targetId: 'o1' },
    ]);
    expect(entries.dates).toEqual([
      { param: 'date', low: '2026-03-05T08:00:00.000Z', high: '2026-03-05T08:00:00.001Z' },
      { param: 'issued', low: '2026-03-05T00:00:00.000', high: '2026-03-06T00:00:00.000' },
    ]);
  });

  it('ignores shapes it does not expect instead of failing', () => {
    expect(
      indexEntries('Observation', {
        code: 'not-a-concept',
        subject: 42,
        effectivePeriod: { start: 'x' },
      }),
    ).toEqual({ tokens: [], references: [], dates: [] });
  });
});
