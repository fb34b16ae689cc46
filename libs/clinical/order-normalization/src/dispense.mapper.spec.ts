import { dispenseEventId } from '@ancillary/contracts';
import { NDC_SYSTEM, RXNORM_SYSTEM } from '@ancillary/terminology';
import { dispenseStatus, normalizeDispenseMessage } from './dispense.mapper';
import { SOURCE, fixtureText, parse, terminology, thrown, withoutSegments } from './test/fixtures';

const RX_SOURCE = { ...SOURCE, sourceSystem: 'pharmacy-main' };
const RX_LOCAL = 'http://northwind-hospital.example.org/fhir/CodeSystem/rx-local';
const RDS = fixtureText('rds-o13-v251-nwh-dispense.hl7');

function dispenses(text: string) {
  return normalizeDispenseMessage(parse(text), RX_SOURCE, terminology, {
    defaultTimeZone: 'America/New_York',
  });
}

describe('normalizeDispenseMessage (RDS^O13)', () => {
  const [lisinopril, vancomycin] = dispenses(RDS);

  it('maps a formulary dispense: NDC as dispensed, RxNorm from the formulary, local code as sent', () => {
    expect(lisinopril).toEqual({
      eventId: dispenseEventId('pharmacy-main', 'RX-7001001-1', 'fixture-digest'),
      sourceSystem: 'pharmacy-main',
      messageControlId: 'RX000201',
      envelopeId: SOURCE.envelopeId,
      receivedAt: SOURCE.receivedAt,
      dispenseId: 'RX-7001001-1',
      patient: {
        identifiers: [{ value: 'MRN200147', system: 'NWH', type: 'MR' }],
        familyName: 'NGUYEN',
        givenNames: ['THI', 'LAN'],
        birthDate: '1949-06-17',
        administrativeSex: 'F',
      },
      placerOrderNumber: 'PL-88001',
      fillerOrderNumber: 'RX-66001',
      ndc: { system: NDC_SYSTEM, code: '99901-0102-30', display: 'Lisinopril 10 mg tablet' },
      rxnorm: { system: RXNORM_SYSTEM, code: '314076', display: 'lisinopril 10 MG Oral Tablet' },
      localCode: { system: RX_LOCAL, code: 'LISI10', display: 'Lisinopril 10 mg tab' },
      quantityValue: 30,
      quantityUnit: 'TAB',
      daysSupply: 30,
      dispenser: 'MORALES, RITA RPH (7701)',
      dispensedAt: Date.parse('2026-11-26T20:55:00Z'),
      status: 'COMPLETED',
      notes: ['Counselled patient on dizziness.', 'Dispensed from outpatient pharmacy window 2.'],
      // PID-18 account, PV1-19 visit number, PV1-2 class, PV1-3 `4W^412^B^NWH` point^room^bed.
      visit: {
        accountNumber: 'NWHACCT5503',
        visitNumber: 'V2611200008',
        patientClass: 'I',
        assignedLocation: '4W^412^B',
      },
    });
  });

  it('gives every dispense of the message the visit, and none without PID-18 and PV1', () => {
    expect(vancomycin?.visit).toEqual(lisinopril?.visit);
    const bare = withoutSegments(RDS, 'PV1|').replace('|NWHACCT5503^^^NWH^AN', '');
    expect(bare).not.toContain('NWHACCT5503');
    expect(dispenses(bare).map((d) => d.visit)).toEqual([null, null]);
  });

  it('keeps an NDC the formulary does not have, without RxNorm', () => {
    expect(vancomycin).toMatchObject({
      dispenseId: 'RX-7001002-1',
      placerOrderNumber: 'PL-88002',
      ndc: { system: NDC_SYSTEM, code: '00338-0049-04', display: 'Vancomycin 1 g in NS 200 mL IV' },
      rxnorm: null,
      localCode: null,
      quantityValue: 1,
      quantityUnit: 'EA',
      daysSupply: null,
      dispenser: 'CHEN, WEI RPH (7702)',
      notes: [],
    });
    expect(vancomycin?.eventId).not.toBe(lisinopril?.eventId);
  });

  it('takes an NDC sent without coding system, in its 11-digit form, and the formulary local code', () => {
    const text = RDS.replace(
      'LISI10^Lisinopril 10 mg tab^L^99901-0102-30^Lisinopril 10 mg tablet^NDC',
      '99901010230^LISINOPRIL 10MG TAB',
    );
    expect(dispenses(text)[0]).toMatchObject({
      ndc: { code: '99901-0102-30', display: 'LISINOPRIL 10MG TAB' },
      rxnorm: { code: '314076' },
      localCode: { system: RX_LOCAL, code: 'LISI10', display: 'Lisinopril 10 mg tab' },
    });
  });

  it('identifies a dispense by ORC-3 when RXD-7 is empty', () => {
    const text = RDS.replace('|RX-7001001|', '||');
    expect(dispenses(text)[0]?.dispenseId).toBe('RX-66001-1');
  });

  describe('refuses', () => {
    it('a dispense without NDC', () => {
      const text = RDS.replace(
        'LISI10^Lisinopril 10 mg tab^L^99901-0102-30^Lisinopril 10 mg tablet^NDC',
        'LISI10^Lisinopril 10 mg tab^L',
      );
      const error = thrown(() => dispenses(text));
      expect(error).toMatchObject({ code: 'missing-ndc', segment: 'RXD', field: 2, orderIndex: 0 });
      expect(error.message).toMatch(/^RXD-2 \(order group 1\): /);
    });

    it('an NDC that is not one', () => {
      const text = RDS.replace(
        '00338-0049-04^Vancomycin 1 g in NS 200 mL IV^NDC|2026',
        '3380049^Vanco^NDC|2026',
      );
      expect(thrown(() => dispenses(text))).toMatchObject({
        code: 'invalid-value',
        segment: 'RXD',
        segmentIndex: 2,
        orderIndex: 1,
      });
    });

    it('a dispense without time or amount', () => {
      expect(thrown(() => dispenses(RDS.replace('|20261126155500|', '||')))).toMatchObject({
        code: 'missing-value',
        field: 3,
      });
      expect(
        thrown(() => dispenses(RDS.replace('|20261126155500|30|', '|20261126155500||'))),
      ).toMatchObject({ code: 'missing-value', field: 4 });
      expect(
        thrown(() => dispenses(RDS.replace('|20261126155500|30|', '|20261126155500|thirty|'))),
      ).toMatchObject({ code: 'invalid-value', field: 4 });
    });

    it('a dispense without identity', () => {
      const text = RDS.replace('|RX-7001001|', '||').replace('|RX-66001^SIMRX|', '||');
      expect(thrown(() => dispenses(text))).toMatchObject({
        code: 'missing-order-number',
        segment: 'RXD',
        field: 7,
      });
    });

    it('a message without PID or without RXD', () => {
      expect(thrown(() => dispenses(withoutSegments(RDS, 'PID|')))).toMatchObject({
        code: 'missing-patient-identifier',
        segment: 'ORC',
      });
      expect(thrown(() => dispenses(withoutSegments(RDS, 'RXD|')))).toMatchObject({
        code: 'invalid-structure',
      });
    });

    it('a pharmacy the terminology does not know, and another message type', () => {
      expect(
        thrown(() => dispenses(RDS.replace('|SIMRX|NWH-RX|', '|SIMRX|WEST-RX|'))),
      ).toMatchObject({
        code: 'unmapped-code',
        segment: 'RXD',
        field: 2,
      });
      expect(
        thrown(() => dispenses(RDS.replace('RDS^O13^RDS_O13', 'RDE^O11^RDE_O11'))),
      ).toMatchObject({ code: 'unsupported-message-type' });
    });
  });
});

describe('dispenseStatus', () => {
  it.each([
    ['RE', 'CM', 'COMPLETED'],
    ['RE', '', 'COMPLETED'],
    ['RE', 'IP', 'IN_PROGRESS'],
    ['RE', 'CA', 'CANCELLED'],
    ['OC', '', 'CANCELLED'],
    ['RE', 'ER', 'ENTERED_IN_ERROR'],
  ] as const)('ORC-1 %s, ORC-5 %s → %s', (control, status, expected) => {
    expect(dispenseStatus(control, status)).toBe(expected);
  });
});
