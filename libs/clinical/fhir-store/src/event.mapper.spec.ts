import { labResult } from '../test/lab-result.fixture';
import { InvalidClinicalEventError } from './errors';
import {
  completeOrder,
  eventSource,
  fillerOrderSystem,
  ORDER_PRIORITY_EXTENSION,
  patientKeys,
  RESULT_PRIORITY_EXTENSION,
  resultPriorityExtensions,
} from './event.mapper';

const invalid = (m: string) => new InvalidClinicalEventError(m);

describe('patientKeys', () => {
  it('deduplicates identifiers and gives a new patient an id independent of their order', () => {
    const patient = labResult().patient;
    patient.identifiers = [
      { value: 'B-2', system: 'urn:b', type: 'PI' },
      { value: 'A-1', system: 'urn:a', type: 'MR' },
      { value: 'B-2', system: 'urn:b', type: 'PI' },
    ];
    const keys = patientKeys(patient, invalid);
    expect(keys.patientIdentifiers.map((i) => i.value)).toEqual(['B-2', 'A-1']);
    const reversed = patientKeys(
      { ...patient, identifiers: [...patient.identifiers].reverse() },
      invalid,
    );
    expect(reversed.newPatientId).toBe(keys.newPatientId);
  });

  it('refuses an event without identifiers or with an empty one, with the given error', () => {
    const patient = labResult().patient;
    expect(() => patientKeys({ ...patient, identifiers: [] }, invalid)).toThrow(
      InvalidClinicalEventError,
    );
    expect(() =>
      patientKeys({ ...patient, identifiers: [{ value: ' ', system: null, type: null }] }, invalid),
    ).toThrow(/identifiers\[0\]/);
  });
});

describe('completeOrder', () => {
  const order = {
    resourceType: 'ServiceRequest',
    id: 'sr-1',
    meta: { versionId: '1' },
    status: 'active',
    intent: 'order',
  };

  it('completes an active order on a FINAL or CORRECTED result, without meta', () => {
    for (const status of ['FINAL', 'CORRECTED'] as const) {
      expect(completeOrder(order, status)).toEqual({
        action: 'complete',
        order: { resourceType: 'ServiceRequest', id: 'sr-1', status: 'completed', intent: 'order' },
      });
    }
  });

  it('does nothing for other results or an order completed already', () => {
    expect(completeOrder(order, 'PRELIMINARY')).toEqual({ action: 'none' });
    expect(completeOrder(order, 'CANCELLED')).toEqual({ action: 'none' });
    expect(completeOrder({ ...order, status: 'completed' }, 'FINAL')).toEqual({ action: 'none' });
  });

  it('never revives a revoked order', () => {
    expect(completeOrder({ ...order, status: 'revoked' }, 'FINAL')).toEqual({
      action: 'keep',
      status: 'revoked',
    });
    expect(completeOrder({ ...order, status: 'entered-in-error' }, 'CORRECTED')).toMatchObject({
      action: 'keep',
    });
  });
});

describe('resultPriorityExtensions', () => {
  it('flags high priority with the order priority beside it, and nothing otherwise', () => {
    expect(resultPriorityExtensions(true, 'STAT')).toEqual([
      { url: RESULT_PRIORITY_EXTENSION, valueCode: 'high' },
      { url: ORDER_PRIORITY_EXTENSION, valueCode: 'stat' },
    ]);
    expect(resultPriorityExtensions(true, 'whenever')).toEqual([
      { url: RESULT_PRIORITY_EXTENSION, valueCode: 'high' },
    ]);
    expect(resultPriorityExtensions(false, 'stat')).toEqual([]);
  });
});

describe('identifier systems and sources', () => {
  it('scopes filler numbers to the ancillary and names the message or the event as source', () => {
    expect(fillerOrderSystem('ris main')).toBe('urn:ancillary:filler-order:ris%20main');
    expect(eventSource('lis-main', 'MSG1', 'e1')).toBe('urn:ancillary:message:lis-main:MSG1');
    expect(eventSource('rx-fhir', null, 'e1')).toBe('urn:ancillary:event:rx-fhir:e1');
  });
});
