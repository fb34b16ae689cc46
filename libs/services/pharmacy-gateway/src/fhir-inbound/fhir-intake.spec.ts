import { checkContentType, readFhirResource } from './fhir-intake';
import { FhirRequestError } from './operation-outcome';

const dispense = {
  resourceType: 'MedicationDispense',
  identifier: [{ system: 'urn:oid:2.16.840.1.113883.3.9999.1', value: 'RX-7781-1' }],
  status: 'completed',
  subject: {
    reference: 'Patient/123',
    identifier: { system: 'urn:ancillary:mrn', value: 'MRN-000042' },
  },
  medicationCodeableConcept: {
    coding: [{ system: 'http://hl7.org/fhir/sid/ndc', code: '00093-7180-56' }],
  },
};

function body(value: unknown): Buffer {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8');
}

function refusal(fn: () => unknown): FhirRequestError {
  try {
    fn();
  } catch (error) {
    if (error instanceof FhirRequestError) return error;
    throw error;
  }
  throw new Error('expected a FhirRequestError');
}

describe('readFhirResource', () => {
  it('keeps the body as received and keys it by the patient, idempotency by the first identifier', () => {
    const text = JSON.stringify(dispense, null, 2);
    expect(readFhirResource(body(text), 'MedicationDispense')).toEqual({
      text,
      resourceType: 'MedicationDispense',
      idempotencyKey: 'urn:oid:2.16.840.1.113883.3.9999.1|RX-7781-1',
      key: 'MRN-000042',
    });
  });

  it('falls back to the subject reference, then to the idempotency key', () => {
    const byReference = { ...dispense, subject: { reference: 'Patient/123' } };
    expect(readFhirResource(body(byReference), 'MedicationDispense').key).toBe('Patient/123');
    const { subject: _none, ...anonymous } = dispense;
    expect(readFhirResource(body(anonymous), 'MedicationDispense').key).toBe(
      'urn:oid:2.16.840.1.113883.3.9999.1|RX-7781-1',
    );
  });

  it('uses the first identifier that has a value; a system-less one keys as |value', () => {
    const resource = { ...dispense, identifier: [{ system: 'urn:x' }, { value: 'D-1' }] };
    expect(readFhirResource(body(resource), 'MedicationDispense').idempotencyKey).toBe('|D-1');
  });

  it('reads UTF-8 text with non-ASCII characters and a byte order mark', () => {
    const resource = { ...dispense, note: [{ text: 'Dosis über 3 Tage — Ångström' }] };
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body(resource)]);
    expect(readFhirResource(bytes, 'MedicationDispense').text).toBe(JSON.stringify(resource));
  });

  it.each([
    ['not-json', body('{"resourceType": "MedicationDispense",'), 'structure', /not valid JSON/],
    ['not-json', body('[1, 2]'), 'structure', /not a JSON object/],
    ['empty', body(''), 'invalid', /empty/],
    ['not-utf8', Buffer.from([0x7b, 0xff, 0x7d]), 'invalid', /UTF-8/],
    [
      'wrong-resource-type',
      body({ ...dispense, resourceType: 'MedicationRequest' }),
      'invalid',
      /resourceType is MedicationRequest: this endpoint takes MedicationDispense/,
    ],
    [
      'wrong-resource-type',
      body({ identifier: dispense.identifier }),
      'invalid',
      /resourceType is missing/,
    ],
    [
      'no-identifier',
      body({ ...dispense, identifier: [{ system: 'urn:x', value: '' }] }),
      'required',
      /MedicationDispense\.identifier with a value is required/,
    ],
    [
      'no-identifier',
      body({ ...dispense, identifier: undefined }),
      'required',
      /identifier with a value is required/,
    ],
  ])('refuses %s with 400 and an issue naming it', (problem, bytes, code, diagnostics) => {
    const error = refusal(() => readFhirResource(bytes, 'MedicationDispense'));
    expect(error.status).toBe(400);
    expect(error.problem).toBe(problem);
    expect(error.issue.code).toBe(code);
    expect(error.issue.diagnostics).toMatch(diagnostics);
  });

  it('does not quote the body in its diagnostics', () => {
    const error = refusal(() =>
      readFhirResource(body('{"name": "Jane Doe" "mrn": 1}'), 'MedicationDispense'),
    );
    expect(error.issue.diagnostics).not.toMatch(/Jane/);
    expect(error.issue.diagnostics).toMatch(/not valid JSON/);
  });

  it('names the element for a missing identifier', () => {
    const error = refusal(() =>
      readFhirResource(body({ ...dispense, identifier: [] }), 'MedicationDispense'),
    );
    expect(error.issue.expression).toEqual(['MedicationDispense.identifier']);
  });
});

describe('checkContentType', () => {
  it.each([
    'application/fhir+json',
    'application/fhir+json; charset=utf-8',
    'application/json',
    'Application/JSON; charset="UTF-8"',
  ])('takes %s', (type) => {
    expect(() => {
      checkContentType(type);
    }).not.toThrow();
  });

  it.each([
    [undefined, /\(none\)/],
    ['application/fhir+xml', /application\/fhir\+xml/],
    ['text/plain', /not supported/],
    ['application/fhir+json; charset=iso-8859-1', /charset iso-8859-1/],
  ])('refuses %s with 415', (type, diagnostics) => {
    const error = refusal(() => {
      checkContentType(type);
    });
    expect(error.status).toBe(415);
    expect(error.issue.code).toBe('not-supported');
    expect(error.issue.diagnostics).toMatch(diagnostics);
  });
});
