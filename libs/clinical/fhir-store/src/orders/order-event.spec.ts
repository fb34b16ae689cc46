import { Topics } from '@ancillary/contracts';
import { changedElements } from './order.writer';
import {
  buildOrderEvent,
  fillerOrderNumber,
  orderTopic,
  patientKey,
  patientRef,
} from './order-event';
import {
  type OrderRoutingTables,
  terminologyOrderRouter,
  UnroutableOrderError,
} from './order-router';
import { UnmappedCodeError } from '@ancillary/terminology';

const PATIENT = {
  resourceType: 'Patient',
  identifier: [
    { system: 'urn:other', value: 'X-9' },
    {
      system: 'urn:mrn',
      value: 'MRN-1',
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] },
    },
  ],
  name: [{ family: 'Synthetic', given: ['Sam', 'Q'] }],
  gender: 'female',
  birthDate: '1985-06-15',
};

const PUBLISHED = new Date('2026-04-01T08:00:05.000Z');

describe('patientRef', () => {
  it('puts the MRN first (the Kafka key) and maps gender to table 0001', () => {
    const ref = patientRef(PATIENT);
    expect(ref).toEqual({
      identifiers: [
        { value: 'MRN-1', system: 'urn:mrn', type: 'MR' },
        { value: 'X-9', system: 'urn:other', type: null },
      ],
      familyName: 'Synthetic',
      givenNames: ['Sam', 'Q'],
      birthDate: '1985-06-15',
      administrativeSex: 'F',
    });
    expect(patientKey(ref)).toBe('MRN-1');
    expect(patientKey(patientRef({ resourceType: 'Patient' }))).toBeUndefined();
  });
});

describe('buildOrderEvent', () => {
  it('carries a lab order with reasons, specimen types, notes and requester', () => {
    const event = buildOrderEvent({
      action: 'NEW',
      resourceType: 'ServiceRequest',
      id: 'sr-1',
      versionId: 1,
      content: {
        resourceType: 'ServiceRequest',
        priority: 'stat',
        authoredOn: '2026-04-01T10:00:00+02:00',
        encounter: { reference: 'Encounter/enc-7' },
        requester: {
          identifier: { system: 'http://hl7.org/fhir/sid/us-npi', value: '1234567893' },
          display: 'Dana Doctor',
        },
        reasonCode: [
          {
            coding: [
              { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'E11.9', display: 'T2DM' },
            ],
          },
          { text: 'no coding' },
        ],
        orderDetail: [
          { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0487', code: 'SER' }] },
          { coding: [{ system: 'urn:other', code: 'fasting' }] },
        ],
        note: [{ text: 'fasting since midnight' }],
      },
      patientId: 'p-1',
      patient: PATIENT,
      dispatch: { category: 'LABORATORY', destination: 'lis-main', lane: 'STAT' },
      coding: { system: 'http://loinc.org', code: '24323-8', display: 'CMP' },
      placerSystem: 'urn:ancillary:placer-order',
      placerOrderNumber: 'ORD1',
      publishedAt: PUBLISHED,
    });
    expect(event).toEqual({
      eventId: 'ServiceRequest/sr-1/_history/1',
      action: 'NEW',
      category: 'LABORATORY',
      destination: 'lis-main',
      lane: 'STAT',
      priority: 'stat',
      resourceType: 'ServiceRequest',
      resourceId: 'sr-1',
      resourceVersion: 1,
      placerOrderNumber: 'ORD1',
      placerSystem: 'urn:ancillary:placer-order',
      fillerOrderNumber: null,
      patientId: 'p-1',
      patient: patientRef(PATIENT),
      encounterId: 'enc-7',
      code: { system: 'http://loinc.org', code: '24323-8', display: 'CMP' },
      orderedAt: Date.parse('2026-04-01T08:00:00Z'),
      publishedAt: PUBLISHED.getTime(),
      requester: {
        identifier: '1234567893',
        familyName: null,
        givenName: null,
        display: 'Dana Doctor',
      },
      reasons: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'E11.9', display: 'T2DM' }],
      specimenTypes: [
        { system: 'http://terminology.hl7.org/CodeSystem/v2-0487', code: 'SER', display: null },
      ],
      notes: ['fasting since midnight'],
      medication: null,
    });
  });

  it('carries dose, route, frequency and supply of a medication order', () => {
    const event = buildOrderEvent({
      action: 'CANCEL',
      resourceType: 'MedicationRequest',
      id: 'mr-1',
      versionId: 3,
      content: {
        authoredOn: '2026-04-01',
        identifier: [
          {
            system: 'urn:ancillary:filler-order:pharmacy-main',
            value: 'RX-77',
            type: { coding: [{ code: 'FILL' }] },
          },
        ],
        dosageInstruction: [
          {
            text: 'one tablet twice a day',
            timing: { code: { text: 'BID' } },
            route: {
              coding: [{ system: 'http://snomed.info/sct', code: '26643006', display: 'Oral' }],
            },
            doseAndRate: [{ doseQuantity: { value: 500, unit: 'mg', code: 'mg' } }],
          },
        ],
        dispenseRequest: {
          quantity: { value: 60, unit: 'tablet' },
          numberOfRepeatsAllowed: 2,
          expectedSupplyDuration: { value: 30, code: 'd' },
        },
      },
      patientId: 'p-1',
      patient: PATIENT,
      dispatch: { category: 'PHARMACY', destination: 'pharmacy-main', lane: 'ROUTINE' },
      coding: {
        system: 'http://www.nlm.nih.gov/research/umls/rxnorm',
        code: '861007',
        display: null,
      },
      placerSystem: 'urn:ancillary:placer-order',
      placerOrderNumber: 'ORD2',
      publishedAt: PUBLISHED,
    });
    expect(event).toMatchObject({
      eventId: 'MedicationRequest/mr-1/_history/3',
      action: 'CANCEL',
      priority: 'routine',
      fillerOrderNumber: 'RX-77',
      orderedAt: Date.parse('2026-04-01T00:00:00Z'),
      specimenTypes: [],
      medication: {
        doseValue: 500,
        doseUnit: 'mg',
        route: { system: 'http://snomed.info/sct', code: '26643006', display: 'Oral' },
        frequency: 'BID',
        quantityValue: 60,
        quantityUnit: 'tablet',
        daysSupply: 30,
        refills: 2,
        instructions: 'one tablet twice a day',
      },
    });
  });

  it('sends STAT orders on the STAT topic', () => {
    expect(orderTopic('STAT')).toBe(Topics.clinicalOrdersStat);
    expect(orderTopic('ROUTINE')).toBe(Topics.clinicalOrders);
  });

  it('finds filler numbers by type or system', () => {
    expect(
      fillerOrderNumber({
        identifier: [{ system: 'urn:ancillary:filler-order:lis', value: 'F1' }],
      }),
    ).toBe('F1');
    expect(
      fillerOrderNumber({ identifier: [{ system: 'urn:ancillary:placer-order', value: 'P1' }] }),
    ).toBeNull();
  });
});

describe('changedElements', () => {
  const current = {
    resourceType: 'ServiceRequest',
    id: 'sr-1',
    meta: { versionId: '2' },
    status: 'active',
    priority: 'routine',
    code: { coding: [{ system: 'http://loinc.org', code: '24323-8' }] },
    identifier: [
      { system: 'urn:ancillary:placer-order', value: 'P1' },
      {
        system: 'urn:ancillary:filler-order:lis-main',
        value: 'F1',
        type: { coding: [{ code: 'FILL' }] },
      },
    ],
  };

  it('ignores status, meta, filler numbers and defaulted elements left out', () => {
    expect(
      changedElements(current, {
        resourceType: 'ServiceRequest',
        status: 'revoked',
        code: { coding: [{ code: '24323-8', system: 'http://loinc.org' }] },
        identifier: [{ value: 'P1', system: 'urn:ancillary:placer-order' }],
      }),
    ).toEqual([]);
  });

  it('names what an update changes', () => {
    expect(
      changedElements(current, {
        resourceType: 'ServiceRequest',
        status: 'revoked',
        priority: 'stat',
        code: { coding: [{ system: 'http://loinc.org', code: '2345-7' }] },
        note: [{ text: 'x' }],
      }),
    ).toEqual(['code', 'note', 'priority']);
  });
});

describe('terminologyOrderRouter', () => {
  it('routes through the current tables and turns an unmapped code into UnroutableOrderError', () => {
    const tables: OrderRoutingTables = {
      current: {
        routeOrder: (category, coding) => {
          if (coding.code === 'nowhere') {
            throw new UnmappedCodeError(
              {
                kind: 'route',
                facility: null,
                code: coding.code,
                system: coding.system,
                terminologyVersion: 't',
              },
              `no route for ${category} code nowhere`,
            );
          }
          return {
            category,
            codeSystem: '*',
            code: '*',
            destination: 'lis-main',
            facility: 'NWH-LAB',
            description: '',
            source: { file: 'order-routes.csv', line: 2 },
          };
        },
        orderRule: (priority) => ({
          priority: 'stat',
          lane: priority === 'stat' ? 'STAT' : 'ROUTINE',
          highPriorityResult: priority === 'stat',
          description: '',
          source: { file: 'order-rules.csv', line: 5 },
        }),
      },
    };
    const router = terminologyOrderRouter(tables);
    expect(router.route('LABORATORY', { system: 'http://loinc.org', code: '1-8' })).toEqual({
      destination: 'lis-main',
      facility: 'NWH-LAB',
    });
    expect(router.rule('stat')).toEqual({ lane: 'STAT', highPriorityResult: true });
    expect(() => router.route('LABORATORY', { system: null, code: 'nowhere' })).toThrow(
      UnroutableOrderError,
    );
  });
});
