import { dispenseEventId, resourceDigest } from '@ancillary/contracts';
import { NDC_SYSTEM, RXNORM_SYSTEM } from '@ancillary/terminology';
import { normalizeFhirDispense } from './fhir-dispense.mapper';
import { fixtureText, terminology, thrown } from './test/fixtures';

const ENVELOPE = {
  envelopeId: '5d0c2b7e-8f1a-4c3d-9e2f-1a2b3c4d5e6f',
  receivedAt: Date.UTC(2026, 10, 26, 16, 10, 0),
  sourceSystem: 'pharmacy-fhir',
};
const JSON_TEXT = fixtureText('medication-dispense-nwh.json');
const RESOURCE = JSON.parse(JSON_TEXT) as Record<string, unknown>;

function fromFhir(resource: unknown) {
  const json = typeof resource === 'string' ? resource : JSON.stringify(resource);
  return normalizeFhirDispense(json, ENVELOPE, terminology, { facility: 'NWH-RX' });
}

/** The fixture with elements replaced; an `undefined` value removes the element. */
function edited(changes: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries({ ...RESOURCE, ...changes }).filter(([, value]) => value !== undefined),
  );
}

describe('normalizeFhirDispense', () => {
  it('maps a MedicationDispense to the same event an RDS^O13 gives', () => {
    expect(fromFhir(JSON_TEXT)).toEqual({
      eventId: dispenseEventId('pharmacy-fhir', 'DSP-3001', resourceDigest(RESOURCE)),
      sourceSystem: 'pharmacy-fhir',
      messageControlId: null,
      envelopeId: ENVELOPE.envelopeId,
      receivedAt: ENVELOPE.receivedAt,
      dispenseId: 'DSP-3001',
      patient: {
        identifiers: [{ value: 'MRN200148', system: 'NWH', type: 'MR' }],
        familyName: null,
        givenNames: [],
        birthDate: null,
        administrativeSex: null,
      },
      placerOrderNumber: 'PL-88003',
      fillerOrderNumber: 'RX-66003',
      // Sent without hyphens: normalised to 5-4-2.
      ndc: {
        system: NDC_SYSTEM,
        code: '99901-0103-60',
        display: 'Metformin HCl 500 mg tablet (bottle of 60)',
      },
      rxnorm: {
        system: RXNORM_SYSTEM,
        code: '861007',
        display: 'metformin hydrochloride 500 MG Oral Tablet',
      },
      localCode: {
        system: 'http://pharmacy.example.org/fhir/CodeSystem/item',
        code: 'ITEM-4471',
        display: 'METFORMIN 500MG TAB',
      },
      quantityValue: 60,
      quantityUnit: 'tablet',
      daysSupply: 30,
      dispenser: 'Rita Morales, RPh',
      dispensedAt: Date.parse('2026-11-26T16:05:00Z'),
      status: 'COMPLETED',
      notes: ['Take with meals.'],
      // The fixture has no `context`: nothing says which visit it belongs to.
      visit: null,
    });
  });

  it('gives a resend (new meta, other key order) the same id, and changed content another', () => {
    const original = fromFhir(JSON_TEXT).eventId;
    const resend = JSON.stringify(
      Object.fromEntries(Object.entries(edited({ meta: { versionId: '2' } })).reverse()),
    );
    expect(fromFhir(resend).eventId).toBe(original);
    expect(fromFhir(edited({ quantity: { value: 30, unit: 'tablet' } })).eventId).not.toBe(
      original,
    );
  });

  it('reads a contained Patient and a contained Medication', () => {
    const dispense = fromFhir(
      edited({
        contained: [
          {
            resourceType: 'Patient',
            id: 'pat',
            identifier: [{ system: 'NWH', value: 'MRN200151' }],
            name: [{ use: 'official', family: 'Lindqvist', given: ['Karin', 'M'] }],
            birthDate: '1966-02-14',
            gender: 'female',
          },
          {
            resourceType: 'Medication',
            id: 'med',
            code: { coding: [{ system: NDC_SYSTEM, code: '99901-0105-01' }] },
          },
        ],
        subject: { reference: '#pat' },
        medicationCodeableConcept: undefined,
        medicationReference: { reference: '#med' },
      }),
    );
    expect(dispense.patient).toEqual({
      identifiers: [{ value: 'MRN200151', system: 'NWH', type: null }],
      familyName: 'Lindqvist',
      givenNames: ['Karin', 'M'],
      birthDate: '1966-02-14',
      administrativeSex: 'F',
    });
    expect(dispense.rxnorm?.code).toBe('313782');
    expect(dispense.ndc.display).toBe('Acetaminophen 325 mg tablet (bottle of 100; synthetic)');
  });

  it('reads a conditional patient reference, and dates a dispense in preparation by whenPrepared', () => {
    const dispense = fromFhir(
      edited({
        subject: { reference: 'Patient?identifier=NWH|MRN200152' },
        status: 'in-progress',
        whenHandedOver: undefined,
      }),
    );
    expect(dispense.patient.identifiers).toEqual([
      { value: 'MRN200152', system: 'NWH', type: null },
    ]);
    expect(dispense.status).toBe('IN_PROGRESS');
    expect(dispense.dispensedAt).toBe(Date.parse('2026-11-26T15:55:00Z'));
  });

  describe('the visit, from context', () => {
    const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
    const typed = (code: string, value: string) => ({
      system: 'urn:nwh:id',
      value,
      type: { coding: [{ system: V2_0203, code }] },
    });
    const withEncounter = (encounter: Record<string, unknown>, ...others: unknown[]) =>
      fromFhir(
        edited({
          contained: [{ resourceType: 'Encounter', id: 'enc', ...encounter }, ...others],
          context: { reference: '#enc' },
        }),
      ).visit;

    it('reads a contained Encounter: visit number (VN first), account, ActCode class', () => {
      expect(
        withEncounter({
          identifier: [typed('XX', 'ENC-77'), typed('VN', 'V2611260031')],
          class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
          account: [{ identifier: { system: 'urn:nwh:account', value: 'NWHACCT5601' } }],
          location: [{ location: { display: '4 West, room 412' } }],
        }),
      ).toEqual({
        accountNumber: 'NWHACCT5601',
        visitNumber: 'V2611260031',
        // IMP is what the v2-to-FHIR IG maps table 0004 I to.
        patientClass: 'I',
        // Encounter.location names Location resources, not PV1-3's point^room^bed.
        assignedLocation: null,
      });
    });

    it('reads the account from a contained Account and a v2-0004 class as sent', () => {
      expect(
        withEncounter(
          {
            identifier: [{ value: 'V-9001' }],
            class: { system: 'http://terminology.hl7.org/CodeSystem/v2-0004', code: 'r' },
            account: [{ reference: '#acct' }],
          },
          { resourceType: 'Account', id: 'acct', identifier: [{ value: 'NWHACCT5602' }] },
        ),
      ).toEqual({
        accountNumber: 'NWHACCT5602',
        visitNumber: 'V-9001',
        patientClass: 'R',
        assignedLocation: null,
      });
    });

    it('leaves out a class with no single table 0004 code', () => {
      expect(
        withEncounter({
          identifier: [{ value: 'V-9002' }],
          class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'HH' },
        })?.patientClass,
      ).toBeNull();
      // Only a class, and not one it can name: no visit at all.
      expect(
        withEncounter({
          class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'VR' },
        }),
      ).toBeNull();
    });

    it('reads the visit number of a conditional reference, or of an identifier typed Encounter', () => {
      const only = (visitNumber: string) => ({
        accountNumber: null,
        visitNumber,
        patientClass: null,
        assignedLocation: null,
      });
      expect(
        fromFhir(edited({ context: { reference: 'Encounter?identifier=urn:nwh:visit|V%2D9003' } }))
          .visit,
      ).toEqual(only('V-9003'));
      expect(
        fromFhir(edited({ context: { type: 'Encounter', identifier: { value: 'V-9004' } } })).visit,
      ).toEqual(only('V-9004'));
    });

    it('gives no visit for what does not name one here', () => {
      const visitOf = (context: unknown) => fromFhir(edited({ context })).visit;
      // Without a type, the identifier could be an EpisodeOfCare's.
      expect(visitOf({ identifier: { value: 'V-9005' } })).toBeNull();
      expect(visitOf({ type: 'EpisodeOfCare', identifier: { value: 'EOC-1' } })).toBeNull();
      // A literal reference names a resource on the pharmacy's server.
      expect(visitOf({ reference: 'Encounter/123' })).toBeNull();
      expect(visitOf({ reference: '#missing' })).toBeNull();
      expect(thrown(() => visitOf({ reference: 'Encounter?identifier=V%E0' }))).toMatchObject({
        code: 'invalid-value',
      });
      expect(thrown(() => visitOf('Encounter/123'))).toMatchObject({
        code: 'invalid-resource',
        message: 'MedicationDispense.context: is not an object',
      });
    });
  });

  describe('refuses, naming the element', () => {
    it('a payload that is not JSON', () => {
      expect(thrown(() => fromFhir('{"resourceType": "MedicationDispense",'))).toMatchObject({
        code: 'invalid-json',
      });
    });

    it('another resource type', () => {
      const error = thrown(() => fromFhir({ resourceType: 'Patient', id: 'p1' }));
      expect(error).toMatchObject({ code: 'invalid-resource' });
      expect(error.message).toBe('expected a MedicationDispense resource, got Patient');
    });

    it('a medication without NDC', () => {
      const error = thrown(() =>
        fromFhir(
          edited({
            medicationCodeableConcept: {
              coding: [{ system: RXNORM_SYSTEM, code: '861007' }],
            },
          }),
        ),
      );
      expect(error).toMatchObject({ code: 'missing-ndc' });
      expect(error.message).toMatch(/^MedicationDispense\.medicationCodeableConcept: /);
    });

    it('a dispense without quantity, or completed without whenHandedOver', () => {
      expect(thrown(() => fromFhir(edited({ quantity: undefined })))).toMatchObject({
        code: 'missing-value',
        message: 'MedicationDispense.quantity.value: is missing',
      });
      expect(thrown(() => fromFhir(edited({ whenHandedOver: undefined })))).toMatchObject({
        code: 'missing-value',
      });
      expect(thrown(() => fromFhir(edited({ whenHandedOver: '26/11/2026' })))).toMatchObject({
        code: 'invalid-value',
      });
    });

    it('a subject that names no patient identifier', () => {
      expect(
        thrown(() => fromFhir(edited({ subject: { reference: 'Patient/123' } }))),
      ).toMatchObject({ code: 'missing-patient-identifier' });
    });

    it('a status that is not one, or none', () => {
      expect(thrown(() => fromFhir(edited({ status: 'done' })))).toMatchObject({
        code: 'invalid-value',
      });
      expect(thrown(() => fromFhir(edited({ status: undefined })))).toMatchObject({
        code: 'invalid-resource',
      });
    });

    it('a pharmacy facility the terminology does not know', () => {
      expect(
        thrown(() =>
          normalizeFhirDispense(JSON_TEXT, ENVELOPE, terminology, { facility: 'WEST-RX' }),
        ),
      ).toMatchObject({ code: 'unmapped-code' });
    });
  });
});
