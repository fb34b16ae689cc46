import { orderStatusEventId } from '@ancillary/contracts';
import { isStatusMessageType, orderStatusFromMessage } from './order-status.mapper';
import { SOURCE, fixtureText, parse, thrown, withoutSegments } from './test/fixtures';

const NY = { defaultTimeZone: 'America/New_York' };
const ORM = fixtureText('orm-o01-v23-ris-status.hl7');
const ORL = fixtureText('orl-o22-v251-lis-accepted.hl7');
const RRE = fixtureText('rre-o12-v251-rx-rejected.hl7');

function statuses(text: string) {
  return orderStatusFromMessage(parse(text), SOURCE, NY);
}

describe('orderStatusFromMessage', () => {
  it('maps an ORM^O01 with ORC-1 SC to one status per order, from ORC-5', () => {
    expect(statuses(ORM)).toEqual([
      {
        eventId: orderStatusEventId('ris-main', 'RIS000301', 0, 'fixture-digest'),
        sourceSystem: 'ris-main',
        status: 'IN_PROGRESS',
        placerOrderNumber: 'PL-77001',
        fillerOrderNumber: 'RIS-55001',
        orderEventId: null,
        orderResourceType: null,
        orderResourceId: null,
        patientIdentifier: 'MRN200145',
        ackCode: null,
        reason: null,
        messageControlId: 'RIS000301',
        occurredAt: Date.parse('2026-11-26T13:20:00Z'),
      },
      {
        eventId: orderStatusEventId('ris-main', 'RIS000301', 1, 'fixture-digest'),
        sourceSystem: 'ris-main',
        status: 'CANCELLED',
        placerOrderNumber: 'PL-77004',
        fillerOrderNumber: 'RIS-55004',
        orderEventId: null,
        orderResourceType: null,
        orderResourceId: null,
        patientIdentifier: 'MRN200145',
        ackCode: null,
        reason: 'Patient declined the study',
        messageControlId: 'RIS000301',
        occurredAt: Date.parse('2026-11-26T13:25:00Z'),
      },
    ]);
  });

  it.each([
    ['CM', 'COMPLETED'],
    ['HD', 'ON_HOLD'],
    ['DC', 'CANCELLED'],
    ['SC', 'IN_PROGRESS'],
    ['RP', 'UNKNOWN'],
  ] as const)('reads ORC-5 %s as %s', (orderStatus, expected) => {
    const text = ORM.replace('RIS-55001^SIMRIS||IP|', `RIS-55001^SIMRIS||${orderStatus}|`);
    expect(statuses(text)[0]?.status).toBe(expected);
  });

  it('maps an OML^O21 status as an ORM^O01 one, and a filler-cancelled order (OC)', () => {
    const text = ORM.replace('ORM^O01', 'OML^O21^OML_O21').replace(
      'ORC|SC|PL-77001',
      'ORC|OC|PL-77001',
    );
    expect(statuses(text).map((s) => s.status)).toEqual(['CANCELLED', 'CANCELLED']);
  });

  it('maps an ORL^O22 AA with ORC-1 OK to ACCEPTED with the filler number', () => {
    expect(statuses(ORL)).toEqual([
      expect.objectContaining({
        status: 'ACCEPTED',
        placerOrderNumber: 'PL-99001',
        fillerOrderNumber: 'LAB-44001',
        patientIdentifier: 'MRN200149',
        ackCode: 'AA',
        reason: null,
        messageControlId: 'LIS000401',
        occurredAt: Date.parse('2026-11-26T12:01:00Z'),
      }),
    ]);
  });

  it('maps an RRE^O12 AR to REJECTED with the ERR-8 text as reason', () => {
    expect(statuses(RRE)).toEqual([
      expect.objectContaining({
        status: 'REJECTED',
        placerOrderNumber: 'PL-88009',
        fillerOrderNumber: null,
        ackCode: 'AR',
        reason: 'NDC 99901-0999-99 is not stocked by this pharmacy',
      }),
    ]);
  });

  it('records an AE answer as UNKNOWN with its reason (the sender may retry), UA as REJECTED', () => {
    const ae = withoutSegments(RRE, 'ERR|').replace(
      'MSA|AR|O8812CD00AA1B2C3D4E5',
      'MSA|AE|O8812CD00AA1B2C3D4E5|Formulary service unavailable',
    );
    expect(statuses(ae)[0]).toMatchObject({
      status: 'UNKNOWN',
      ackCode: 'AE',
      reason: 'Formulary service unavailable',
    });
    const ua = withoutSegments(RRE, 'ERR|').replace('MSA|AR', 'MSA|AA');
    expect(statuses(ua)[0]).toMatchObject({ status: 'REJECTED', ackCode: 'AA' });
  });

  it('answers which message types it maps', () => {
    expect(['ORM^O01', 'oml^o21', 'ORR^O02', 'ORL^O22', 'RRE^O12'].every(isStatusMessageType)).toBe(
      true,
    );
    expect(isStatusMessageType('ORU^R01')).toBe(false);
  });

  describe('refuses', () => {
    it('an ORM^O01 that places an order instead of reporting on one', () => {
      const error = thrown(() => statuses(ORM.replace('ORC|SC|PL-77001', 'ORC|NW|PL-77001')));
      expect(error).toMatchObject({
        code: 'unsupported-order-control',
        segment: 'ORC',
        field: 1,
        orderIndex: 0,
      });
    });

    it('an answer without PID (it cannot be keyed to the patient)', () => {
      expect(thrown(() => statuses(withoutSegments(ORL, 'PID|')))).toMatchObject({
        code: 'missing-patient-identifier',
        segment: 'ORC',
      });
    });

    it('an answer without MSA-1', () => {
      expect(thrown(() => statuses(withoutSegments(ORL, 'MSA|')))).toMatchObject({
        code: 'invalid-structure',
      });
    });

    it('an order without placer and filler numbers', () => {
      const text = ORL.replace(
        'ORC|OK|PL-99001^ANCILLARY-HUB|LAB-44001^SIMLIS|',
        'ORC|OK|||',
      ).replace('OBR|1|PL-99001^ANCILLARY-HUB|LAB-44001^SIMLIS|', 'OBR|1|||');
      expect(thrown(() => statuses(text))).toMatchObject({
        code: 'missing-order-number',
        segment: 'ORC',
        field: 2,
      });
    });

    it('a message type that carries no order status', () => {
      expect(thrown(() => statuses(ORM.replace('ORM^O01', 'ORU^R01')))).toMatchObject({
        code: 'unsupported-message-type',
      });
    });
  });
});
