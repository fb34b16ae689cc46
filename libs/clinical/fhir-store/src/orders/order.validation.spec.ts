import {
  validateOrder,
  validateOrderUpdate,
  validatePatient,
  validationStatus,
  type ValidationIssue,
} from './order.validation';
import { newPlacerOrderNumber, PLACER_NUMBER_MAX_LENGTH } from './placer-number';

const PLACER = 'urn:ancillary:placer-order';
const NOW = new Date('2026-04-01T08:00:00.000Z');
const options = {
  placerOrderSystem: PLACER,
  now: NOW,
  newPlacerNumber: () => 'ORDTEST0000000000001',
};

function labOrder(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    resourceType: 'ServiceRequest',
    status: 'active',
    intent: 'order',
    category: [{ coding: [{ system: 'http://snomed.info/sct', code: '108252007' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '24323-8', display: 'CMP' }] },
    subject: { reference: 'Patient/p-1' },
    ...overrides,
  };
}

function medicationOrder(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    resourceType: 'MedicationRequest',
    status: 'active',
    intent: 'order',
    medicationCodeableConcept: {
      coding: [
        { system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '197361', display: 'x' },
      ],
    },
    subject: { reference: 'Patient/p-1' },
    dosageInstruction: [
      {
        text: 'one tablet twice a day',
        timing: { code: { coding: [{ code: 'BID' }] } },
        route: { coding: [{ system: 'http://snomed.info/sct', code: '26643006' }] },
        doseAndRate: [{ doseQuantity: { value: 1, unit: 'tablet', code: '{tbl}' } }],
      },
    ],
    dispenseRequest: {
      quantity: { value: 60, unit: 'tablet' },
      numberOfRepeatsAllowed: 2,
      expectedSupplyDuration: {
        value: 30,
        unit: 'days',
        system: 'http://unitsofmeasure.org',
        code: 'd',
      },
    },
    ...overrides,
  };
}

function issuesOf(result: ReturnType<typeof validateOrder>): ValidationIssue[] {
  if (result.ok) throw new Error('expected the order to be refused');
  return result.issues;
}

const where = (issues: ValidationIssue[]) => issues.map((i) => `${i.code} ${i.expression}`);

describe('validateOrder: ServiceRequest', () => {
  it('accepts a lab order and fills in priority, authoredOn and a placer number', () => {
    const result = validateOrder(
      'ServiceRequest',
      { ...labOrder(), id: 'client-id', meta: { versionId: '9' } },
      options,
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value).toMatchObject({
      category: 'LABORATORY',
      coding: { system: 'http://loinc.org', code: '24323-8', display: 'CMP' },
      subjectId: 'p-1',
      priority: 'routine',
      placer: { system: PLACER, value: 'ORDTEST0000000000001', generated: true },
    });
    const resource = result.value.resource;
    expect(resource['id']).toBeUndefined();
    expect(resource['meta']).toBeUndefined();
    expect(resource['priority']).toBe('routine');
    expect(resource['authoredOn']).toBe(NOW.toISOString());
    expect(resource['identifier']).toEqual([
      {
        use: 'official',
        type: {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/v2-0203',
              code: 'PLAC',
              display: 'Placer Identifier',
            },
          ],
        },
        system: PLACER,
        value: 'ORDTEST0000000000001',
      },
    ]);
  });

  it('keeps the placer number, priority and authoredOn the EHR sent', () => {
    const result = validateOrder(
      'ServiceRequest',
      labOrder({
        identifier: [
          { system: 'urn:other', value: 'X-1' },
          { system: PLACER, value: 'EHR-123' },
        ],
        priority: 'stat',
        authoredOn: '2026-03-31T22:15:00+02:00',
      }),
      options,
    );
    expect(result.ok && result.value.placer).toEqual({
      system: PLACER,
      value: 'EHR-123',
      generated: false,
    });
    expect(result.ok && result.value.resource['identifier']).toHaveLength(2);
    expect(result.ok && result.value.priority).toBe('stat');
    expect(result.ok && result.value.resource['authoredOn']).toBe('2026-03-31T22:15:00+02:00');
  });

  it('classifies by category, else by code system', () => {
    const imaging = validateOrder(
      'ServiceRequest',
      labOrder({
        category: [{ coding: [{ system: 'http://snomed.info/sct', code: '363679005' }] }],
        code: { coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: '71046' }] },
      }),
      options,
    );
    expect(imaging.ok && imaging.value.category).toBe('IMAGING');
    const byCode = validateOrder(
      'ServiceRequest',
      labOrder({
        category: undefined,
        code: {
          coding: [
            { system: 'urn:local', code: 'XR1' },
            { system: 'http://www.ama-assn.org/go/cpt', code: '71046' },
          ],
        },
      }),
      options,
    );
    expect(byCode.ok && byCode.value).toMatchObject({
      category: 'IMAGING',
      coding: { code: '71046', display: null },
    });
  });

  it('names each problem with its element', () => {
    const issues = issuesOf(
      validateOrder(
        'ServiceRequest',
        {
          resourceType: 'ServiceRequest',
          status: 'active',
          intent: 'order',
          priority: 'whenever',
          code: { coding: [{ system: 42, code: '24323-8' }] },
          subject: { reference: 'Group/1' },
          authoredOn: '2026-02-30',
          note: [{ author: 'x' }],
          requester: {},
          identifier: [{ system: PLACER }],
          reasonCode: {},
        },
        options,
      ),
    );
    expect(where(issues)).toEqual([
      'required ServiceRequest.identifier[0].value',
      'value ServiceRequest.priority',
      'value ServiceRequest.code.coding[0].system',
      'code-invalid ServiceRequest.code.coding',
      'value ServiceRequest.subject.reference',
      'value ServiceRequest.authoredOn',
      'required ServiceRequest.requester',
      'structure ServiceRequest.reasonCode',
      'required ServiceRequest.note[0].text',
    ]);
    expect(validationStatus(issues)).toBe(400);
    expect(issues[1]?.diagnostics).toBe(
      "ServiceRequest.priority 'whenever' is not one of routine, urgent, asap, stat",
    );
  });

  it('requires status, intent, code and subject', () => {
    const issues = issuesOf(
      validateOrder('ServiceRequest', { resourceType: 'ServiceRequest' }, options),
    );
    expect(where(issues)).toEqual([
      'required ServiceRequest.status',
      'required ServiceRequest.intent',
      'required ServiceRequest.code',
      'required ServiceRequest.subject',
    ]);
  });

  it('refuses orders that are not active orders, with 422', () => {
    const issues = issuesOf(
      validateOrder('ServiceRequest', labOrder({ status: 'draft', intent: 'proposal' }), options),
    );
    expect(where(issues)).toEqual([
      'business-rule ServiceRequest.status',
      'business-rule ServiceRequest.intent',
    ]);
    expect(validationStatus(issues)).toBe(422);
    expect(issues[0]?.diagnostics).toContain('only an active order can be placed');
  });

  it('needs the coding its category calls for', () => {
    const issues = issuesOf(
      validateOrder(
        'ServiceRequest',
        labOrder({
          code: { coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: '71046' }] },
        }),
        options,
      ),
    );
    expect(issues).toEqual([
      {
        code: 'code-invalid',
        expression: 'ServiceRequest.code.coding',
        diagnostics:
          'ServiceRequest.code needs a LOINC coding (system http://loinc.org) for a laboratory order',
      },
    ]);
    expect(validationStatus(issues)).toBe(422);
  });

  it('refuses the wrong resource type, a non-object body and two placer numbers', () => {
    expect(where(issuesOf(validateOrder('ServiceRequest', [], options)))).toEqual([
      'structure ServiceRequest',
    ]);
    expect(
      issuesOf(validateOrder('ServiceRequest', { resourceType: 'Patient' }, options))[0],
    ).toMatchObject({
      code: 'invalid',
      expression: 'ServiceRequest.resourceType',
      diagnostics: "resourceType is 'Patient': this endpoint takes ServiceRequest resources",
    });
    const two = labOrder({
      identifier: [
        { system: PLACER, value: 'A' },
        { system: PLACER, value: 'B' },
      ],
    });
    expect(where(issuesOf(validateOrder('ServiceRequest', two, options)))).toEqual([
      'invalid ServiceRequest.identifier',
    ]);
  });
});

describe('validateOrder: MedicationRequest', () => {
  it('accepts a pharmacy order with dosage and dispense request', () => {
    const result = validateOrder('MedicationRequest', medicationOrder(), options);
    expect(result.ok && result.value).toMatchObject({
      category: 'PHARMACY',
      coding: { system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '197361' },
    });
  });

  it('names dosage and dispense problems', () => {
    const issues = issuesOf(
      validateOrder(
        'MedicationRequest',
        medicationOrder({
          medicationCodeableConcept: {
            coding: [{ system: 'http://hl7.org/fhir/sid/ndc', code: '1' }],
          },
          dosageInstruction: [{ doseAndRate: [{ doseQuantity: { value: -1 } }], timing: 'BID' }],
          dispenseRequest: {
            numberOfRepeatsAllowed: 1.5,
            expectedSupplyDuration: { value: 2, unit: 'wk' },
          },
        }),
        options,
      ),
    );
    expect(where(issues)).toEqual([
      'code-invalid MedicationRequest.medicationCodeableConcept.coding',
      'structure MedicationRequest.dosageInstruction[0].timing',
      'value MedicationRequest.dosageInstruction[0].doseAndRate[0].doseQuantity.value',
      'value MedicationRequest.dispenseRequest.numberOfRepeatsAllowed',
      'value MedicationRequest.dispenseRequest.expectedSupplyDuration',
    ]);
  });

  it('refuses medicationReference and cancelled status', () => {
    const issues = issuesOf(
      validateOrder(
        'MedicationRequest',
        medicationOrder({
          status: 'cancelled',
          medicationCodeableConcept: undefined,
          medicationReference: { reference: 'Medication/1' },
        }),
        options,
      ),
    );
    expect(where(issues)).toEqual([
      'business-rule MedicationRequest.status',
      'not-supported MedicationRequest.medicationReference',
    ]);
  });
});

describe('validatePatient', () => {
  it('accepts a patient with an identifier and keeps what it sent', () => {
    const result = validatePatient({
      resourceType: 'Patient',
      id: 'ignored',
      identifier: [{ system: 'urn:mrn', value: 'MRN-1', type: { coding: [{ code: 'MR' }] } }],
      name: [{ family: 'Synthetic', given: ['Sam'] }],
      gender: 'female',
      birthDate: '1985-06-15',
      active: true,
    });
    expect(result.ok && result.value.identifiers).toEqual([{ system: 'urn:mrn', value: 'MRN-1' }]);
    expect(result.ok && result.value.resource).toMatchObject({ active: true, gender: 'female' });
    expect(result.ok && result.value.resource['id']).toBeUndefined();
  });

  it('requires an identifier with system and value, and checks gender and birthDate', () => {
    const none = validatePatient({ resourceType: 'Patient' });
    expect(!none.ok && where(none.issues)).toEqual(['required Patient.identifier']);
    const bad = validatePatient({
      resourceType: 'Patient',
      identifier: [{ value: 'MRN-1' }],
      name: [{ given: ['Sam', ''] }],
      gender: 'F',
      birthDate: '1985-13-01',
    });
    expect(!bad.ok && where(bad.issues)).toEqual([
      'required Patient.identifier[0].system',
      'value Patient.name[0].given[1]',
      'value Patient.gender',
      'value Patient.birthDate',
    ]);
  });
});

describe('validateOrderUpdate', () => {
  it('needs the id of the URL and a known status', () => {
    const ok = validateOrderUpdate('ServiceRequest', 'sr-1', {
      ...labOrder(),
      id: 'sr-1',
      status: 'revoked',
    });
    expect(ok.ok && ok.value.status).toBe('revoked');
    const wrong = validateOrderUpdate('ServiceRequest', 'sr-1', {
      ...labOrder(),
      id: 'sr-2',
      status: 'stopped',
    });
    expect(!wrong.ok && where(wrong.issues)).toEqual([
      'invalid ServiceRequest.id',
      'value ServiceRequest.status',
    ]);
    const missing = validateOrderUpdate('MedicationRequest', 'mr-1', medicationOrder());
    expect(!missing.ok && where(missing.issues)).toEqual(['required MedicationRequest.id']);
  });
});

describe('newPlacerOrderNumber', () => {
  it('is at most 20 upper-case letters and digits, ordered by time, and unique', () => {
    const earlier = newPlacerOrderNumber(new Date('2026-04-01T08:00:00.000Z'));
    const later = newPlacerOrderNumber(new Date('2026-04-01T08:00:00.001Z'));
    expect(earlier).toMatch(/^ORD[0-9A-Z]{17}$/);
    expect(earlier.length).toBeLessThanOrEqual(PLACER_NUMBER_MAX_LENGTH);
    expect(earlier < later).toBe(true);
    const many = new Set(Array.from({ length: 10_000 }, () => newPlacerOrderNumber(NOW)));
    expect(many.size).toBe(10_000);
  });
});
