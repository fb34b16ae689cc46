import { labResult, observation } from '../test/lab-result.fixture';
import { InvalidLabResultError } from './errors';
import {
  DEFAULT_PLACER_ORDER_SYSTEM,
  fillerOrderSystem,
  labResultKeys,
  mapLabResult,
  patientFromLabResult,
  REPORT_NOTE_EXTENSION,
} from './lab-result.mapper';
import { ORDER_PRIORITY_EXTENSION, RESULT_PRIORITY_EXTENSION } from './event.mapper';

const keysOf = (r = labResult()) => labResultKeys(r, DEFAULT_PLACER_ORDER_SYSTEM);

describe('labResultKeys', () => {
  it('derives the same ids from the same business identifiers, whatever the message', () => {
    const first = keysOf(labResult({ messageControlId: 'A' }));
    const correction = keysOf(labResult({ messageControlId: 'B' }, { status: 'CORRECTED' }));
    expect(correction.diagnosticReportId).toBe(first.diagnosticReportId);
    expect(correction.observationIds).toEqual(first.observationIds);
    expect(correction.serviceRequestId).toBe(first.serviceRequestId);
    expect(correction.specimenId).toBe(first.specimenId);
    expect(first.diagnosticReportId).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it('keys the report by the filler order, scoped to the ancillary', () => {
    const a = keysOf(labResult({ sourceSystem: 'LIS-A' }));
    const b = keysOf(labResult({ sourceSystem: 'LIS-B' }));
    expect(a.reportKey).toEqual({
      kind: 'FILL',
      system: fillerOrderSystem('LIS-A'),
      value: 'FIL-9001',
    });
    expect(a.diagnosticReportId).not.toBe(b.diagnosticReportId);
  });

  it('falls back to the placer order, then to the message, when numbers are missing', () => {
    expect(keysOf(labResult({ filler: null })).reportKey).toMatchObject({
      kind: 'PLAC',
      value: 'PLC-5001',
    });
    const none = keysOf(labResult({ filler: null, placer: null }));
    expect(none.reportKey).toMatchObject({ kind: 'EVENT', value: 'MSG-0001:0' });
    expect(none.serviceRequestId).toBeUndefined();
  });

  it('tells a repeated analyte apart by its occurrence, not its set id', () => {
    const r = labResult(
      {},
      { observations: [observation({ setId: 1 }), observation({ setId: 7 })] },
    );
    const renumbered = labResult(
      {},
      { observations: [observation({ setId: 3 }), observation({ setId: 4 })] },
    );
    const keys = keysOf(r);
    expect(keys.observationIds[0]).not.toBe(keys.observationIds[1]);
    expect(keysOf(renumbered).observationIds).toEqual(keys.observationIds);
    expect(keys.observations.map((o) => o.identifier.value)).toEqual([
      'FIL-9001:2345-7',
      'FIL-9001:2345-7:2',
    ]);
  });

  it('refuses a result without a patient identifier or with an observation without a code', () => {
    const noPatient = labResult();
    noPatient.patient.identifiers = [];
    expect(() => keysOf(noPatient)).toThrow(InvalidLabResultError);
    expect(() => keysOf(noPatient)).toThrow(/PID-3/);
    const blank = labResult();
    blank.patient.identifiers = [{ value: '  ', system: null, type: null }];
    expect(() => keysOf(blank)).toThrow(/identifiers\[0\]/);
    const noCode = labResult(
      {},
      {
        observations: [
          observation({
            code: { system: null, code: '', display: null },
            localCode: { system: null, code: '', display: null },
          }),
        ],
      },
    );
    expect(() => keysOf(noCode)).toThrow(/observations\[0\] \(OBX-1\) has no code/);
  });

  it('gives a new patient the same id whatever the order of its identifiers', () => {
    const a = labResult();
    a.patient.identifiers = [
      { value: 'X1', system: 'urn:a', type: 'MR' },
      { value: 'Y1', system: 'urn:b', type: 'PI' },
    ];
    const b = labResult();
    b.patient.identifiers = [...a.patient.identifiers].reverse();
    expect(keysOf(a).newPatientId).toBe(keysOf(b).newPatientId);
  });
});

describe('mapLabResult', () => {
  const r = labResult();
  const keys = keysOf(r);
  const mapped = mapLabResult(r, keys, {
    patientId: 'p1',
    serviceRequestId: keys.serviceRequestId!,
  });

  it('maps a numeric observation with LOINC and local codes, UCUM quantity, range and interpretation', () => {
    const glucose = mapped.observations[0]!;
    expect(glucose).toMatchObject({
      resourceType: 'Observation',
      status: 'final',
      category: [
        {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/observation-category',
              code: 'laboratory',
            },
          ],
        },
      ],
      code: {
        coding: [
          { system: 'http://loinc.org', code: '2345-7' },
          { system: 'urn:lis:local', code: 'GLU', display: 'Glucose' },
        ],
        text: 'Glucose',
      },
      subject: { reference: 'Patient/p1' },
      basedOn: [{ reference: `ServiceRequest/${keys.serviceRequestId}` }],
      specimen: { reference: `Specimen/${keys.specimenId}` },
      effectiveDateTime: '2026-03-05T08:00:00.000Z',
      valueQuantity: {
        value: 182,
        unit: 'mg/dL',
        system: 'http://unitsofmeasure.org',
        code: 'mg/dL',
      },
      interpretation: [{ coding: [{ code: 'H' }] }],
      referenceRange: [
        {
          low: { value: 70, system: 'http://unitsofmeasure.org', code: 'mg/dL' },
          high: { value: 99, system: 'http://unitsofmeasure.org', code: 'mg/dL' },
          text: '70-99',
        },
      ],
    });
  });

  it('builds the report: FILL identifier, LAB category, panel code, results in message order', () => {
    expect(mapped.report).toMatchObject({
      resourceType: 'DiagnosticReport',
      id: keys.diagnosticReportId,
      identifier: [{ type: { coding: [{ code: 'FILL' }] }, value: 'FIL-9001' }],
      status: 'final',
      category: [
        { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'LAB' }] },
      ],
      code: { coding: [{ system: 'http://loinc.org', code: '51990-0' }, { code: 'BMP' }] },
      subject: { reference: 'Patient/p1' },
      effectiveDateTime: '2026-03-05T08:00:00.000Z',
      issued: '2026-03-05T08:50:00.000Z',
      specimen: [{ reference: `Specimen/${keys.specimenId}` }],
      result: keys.observationIds.map((id) => ({ reference: `Observation/${id}` })),
    });
  });

  it('builds the order with PLAC and FILL identifiers and the specimen with collection times', () => {
    expect(mapped.serviceRequest).toMatchObject({
      identifier: [
        {
          type: { coding: [{ code: 'PLAC' }] },
          system: DEFAULT_PLACER_ORDER_SYSTEM,
          value: 'PLC-5001',
        },
        { type: { coding: [{ code: 'FILL' }] }, value: 'FIL-9001' },
      ],
      status: 'completed',
      intent: 'order',
      priority: 'routine',
      requester: { display: 'Dr. Example' },
    });
    expect(mapped.specimen).toMatchObject({
      identifier: [{ value: 'SPC-7001' }],
      type: { coding: [{ code: 'SER' }] },
      collection: { collectedDateTime: '2026-03-05T08:00:00.000Z' },
      receivedTime: '2026-03-05T08:10:00.000Z',
    });
  });

  it('maps comparators, coded, string, text and absent values', () => {
    const values = labResult(
      {},
      {
        observations: [
          observation({
            value: { kind: 'NUMERIC', numeric: 400, comparator: '>', coded: null, text: null },
          }),
          observation({
            setId: 2,
            code: { system: 'http://loinc.org', code: '5778-6', display: null },
            value: {
              kind: 'CODED',
              numeric: null,
              comparator: null,
              coded: { system: 'http://snomed.info/sct', code: '371244009', display: 'Yellow' },
              text: null,
            },
            unit: null,
          }),
          observation({
            setId: 3,
            code: { system: 'http://loinc.org', code: '8251-1', display: null },
            value: {
              kind: 'TEXT',
              numeric: null,
              comparator: null,
              coded: null,
              text: 'line one\nline two',
            },
          }),
          observation({
            setId: 4,
            code: { system: 'http://loinc.org', code: '33882-2', display: null },
            value: { kind: 'NONE', numeric: null, comparator: null, coded: null, text: null },
            referenceRange: null,
            referenceLow: null,
            referenceHigh: null,
          }),
        ],
      },
    );
    const [gt, coded, text, none] = mapLabResult(values, keysOf(values), {
      patientId: 'p',
    }).observations;
    expect(gt!.valueQuantity).toEqual({
      value: 400,
      comparator: '>',
      unit: 'mg/dL',
      system: 'http://unitsofmeasure.org',
      code: 'mg/dL',
    });
    expect(coded!.valueCodeableConcept).toEqual({
      coding: [{ system: 'http://snomed.info/sct', code: '371244009', display: 'Yellow' }],
      text: 'Yellow',
    });
    expect(text!.valueString).toBe('line one\nline two');
    expect(none!.dataAbsentReason?.coding?.[0]?.code).toBe('unknown');
    expect(none!.referenceRange).toBeUndefined();
    expect(none!.basedOn).toBeUndefined();
  });

  it('refuses a comparator FHIR does not know and a non-finite number', () => {
    const bad = labResult(
      {},
      {
        observations: [
          observation({
            value: { kind: 'NUMERIC', numeric: 1, comparator: '<>', coded: null, text: null },
          }),
        ],
      },
    );
    expect(() => mapLabResult(bad, keysOf(bad), { patientId: 'p' })).toThrow(/comparator '<>'/);
    const nan = labResult(
      {},
      {
        observations: [
          observation({
            value: {
              kind: 'NUMERIC',
              numeric: Number.NaN,
              comparator: null,
              coded: null,
              text: null,
            },
          }),
        ],
      },
    );
    expect(() => mapLabResult(nan, keysOf(nan), { patientId: 'p' })).toThrow(/not a finite number/);
  });

  it('maps statuses and keeps report notes as the R5 note extension', () => {
    const cancelled = labResult({}, { status: 'CANCELLED', notes: ['Specimen haemolysed', ' '] });
    const m = mapLabResult(cancelled, keysOf(cancelled), { patientId: 'p', serviceRequestId: 's' });
    expect(m.report.status).toBe('cancelled');
    expect(m.serviceRequest?.status).toBe('revoked');
    expect(m.report.extension).toEqual([
      { url: REPORT_NOTE_EXTENSION, valueAnnotation: { text: 'Specimen haemolysed' } },
    ]);
    const prelim = labResult({}, { status: 'PRELIMINARY' });
    expect(mapLabResult(prelim, keysOf(prelim), { patientId: 'p' }).report.status).toBe(
      'preliminary',
    );
  });

  it('flags a high-priority result with the result-priority and order-priority extensions', () => {
    const stat = labResult({}, { highPriority: true, notes: ['Called to ward'] });
    stat.order.priority = 'STAT';
    const m = mapLabResult(stat, keysOf(stat), { patientId: 'p' });
    expect(m.report.extension).toEqual([
      { url: RESULT_PRIORITY_EXTENSION, valueCode: 'high' },
      { url: ORDER_PRIORITY_EXTENSION, valueCode: 'stat' },
      { url: REPORT_NOTE_EXTENSION, valueAnnotation: { text: 'Called to ward' } },
    ]);
    const routine = labResult();
    expect(
      mapLabResult(routine, keysOf(routine), { patientId: 'p' }).report.extension,
    ).toBeUndefined();
  });
});

describe('patientFromLabResult', () => {
  it('creates the patient with identifier types, name, gender and birth date', () => {
    const r = labResult();
    const { patient, warnings } = patientFromLabResult(r, keysOf(r), 'p1');
    expect(warnings).toEqual([]);
    expect(patient).toEqual({
      resourceType: 'Patient',
      id: 'p1',
      identifier: [
        {
          type: {
            coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }],
          },
          system: 'urn:hospital:mrn',
          value: 'MRN-100001',
        },
      ],
      name: [{ family: 'Testperson', given: ['Alex'] }],
      gender: 'female',
      birthDate: '1970-01-31',
    });
  });

  it('merges identifiers and keeps demographics the result does not carry', () => {
    const r = labResult();
    r.patient.familyName = null;
    r.patient.givenNames = [];
    r.patient.administrativeSex = null;
    const existing = {
      resourceType: 'Patient',
      id: 'p1',
      meta: { versionId: '3' },
      identifier: [{ system: 'urn:other', value: 'O-1' }],
      name: [{ family: 'Earlier' }],
      gender: 'male',
    };
    const { patient } = patientFromLabResult(r, keysOf(r), 'p1', existing);
    expect(patient.identifier?.map((i) => i.value)).toEqual(['O-1', 'MRN-100001']);
    expect(patient.name).toEqual([{ family: 'Earlier' }]);
    expect(patient.gender).toBe('male');
    expect(patient.meta).toBeUndefined();
  });

  it('leaves out unreadable demographics with a warning instead of refusing the result', () => {
    const r = labResult();
    r.patient.administrativeSex = 'Z';
    r.patient.birthDate = '31/01/1970';
    const { patient, warnings } = patientFromLabResult(r, keysOf(r), 'p1');
    expect(patient.gender).toBeUndefined();
    expect(patient.birthDate).toBeUndefined();
    expect(warnings).toHaveLength(2);
  });
});
