import type { ChargeEvent } from '@ancillary/contracts';
import { Hl7ParseError } from '@ancillary/hl7-core';
import {
  chargeEvent,
  creditFor,
  CT_READ,
  DRUG,
  INJECTION,
  LAB,
  NOW,
  OPTIONS,
} from '../test/charges.fixture';
import {
  buildDftP03,
  DFT_VERSIONS,
  REVERSAL_STYLES,
  type DftVersion,
  type ReversalStyle,
} from './dft-p03.builder';
import { DftParseError, dtmMillis, parseDftP03, type ParsedFt1 } from './dft-p03.parser';

/** What parseDftP03 must give back for a line built from `charge`. */
function expectedLine(
  charge: ChargeEvent,
  setId: number,
  version: DftVersion,
  style: ReversalStyle,
): ParsedFt1 {
  const credit = charge.action === 'CREDIT';
  const sign = credit && style === 'negative-charge' ? -1 : 1;
  const v25 = version === '2.5' || version === '2.5.1';
  const provider = (p: ChargeEvent['orderingProvider']) =>
    p ? { id: p.id, familyName: p.familyName, givenName: p.givenName } : null;
  return {
    setId,
    transactionId: charge.transactionId,
    batchId: credit ? charge.reversesTransactionId : null,
    dateOfService: charge.dateOfService,
    postedAt: NOW.getTime(),
    transactionType: credit && style === 'credit' ? 'CD' : 'CG',
    transactionCode: { code: charge.chargeCode, display: charge.description, system: '99CDM' },
    quantity: sign * charge.quantity,
    extendedAmountCents: sign * charge.extendedPriceCents,
    unitAmountCents: charge.unitPriceCents,
    currency: 'USD',
    department: charge.department,
    diagnoses: charge.diagnoses.map((d) => ({ code: d.code, display: d.display, system: 'I10' })),
    performedBy: provider(charge.performingProvider),
    orderedBy: provider(charge.orderingProvider),
    fillerOrderNumber: charge.fillerOrderNumber,
    procedure: charge.cptHcpcs
      ? {
          code: charge.cptHcpcs,
          display: charge.description,
          system: /^\d/.test(charge.cptHcpcs) ? 'C4' : 'HCPCS',
        }
      : null,
    modifiers: charge.modifiers,
    // before v2.5 an NDC travels only in FT1-25, and only when there is no CPT/HCPCS there
    ndc: v25 || charge.cptHcpcs === null ? charge.ndc : null,
    reversal: credit ? { style, reversesTransactionId: charge.reversesTransactionId } : null,
  };
}

describe('parseDftP03: round trip of what buildDftP03 writes', () => {
  const lines = [LAB, CT_READ, DRUG, INJECTION, creditFor(LAB), creditFor(DRUG)];
  const cases = DFT_VERSIONS.flatMap((v) => REVERSAL_STYLES.map((s) => [v, s] as const));

  it.each(cases)(
    'v%s, %s reversals: header, patient, visit and every FT1 field',
    (version, style) => {
      const parsed = parseDftP03(
        buildDftP03(lines, { ...OPTIONS, version, reversalStyle: style }).toString(),
      );
      expect(parsed).toMatchObject({
        controlId: 'DFT0001',
        messageType: 'DFT^P03',
        messageStructure: version === '2.3' ? null : 'DFT_P03',
        version,
        sendingApplication: 'ANCILLARY-HUB',
        sendingFacility: 'NWH',
        receivingApplication: 'SIMBILL',
        receivingFacility: 'NWH-BILL',
        messageTime: NOW.getTime(),
        event: { type: 'P03', recordedAt: NOW.getTime() },
        visit: { patientClass: 'O', visitNumber: 'V9001' },
      });
      expect(parsed.patient).toEqual({
        identifiers: LAB.patient.identifiers,
        familyName: 'Rivera',
        givenNames: ['Ana', 'Lucia'],
        birthDate: '1970-03-15',
        administrativeSex: 'F',
        accountNumber: 'ACC77001',
      });
      expect(parsed.lines).toEqual(lines.map((c, i) => expectedLine(c, i + 1, version, style)));
    },
  );

  it('gives back free text with delimiters exactly as it was', () => {
    const tricky = chargeEvent('charge:esc:1', {
      patient: { ...LAB.patient, familyName: "O'Brien|Smith", givenNames: ['Ann^Marie'] },
      description: 'Panel A&B ~ C\\D',
      diagnoses: [{ code: 'R51.9', display: 'Headache | unspecified' }],
      fillerOrderNumber: 'F^77',
      modifiers: ['2&6'],
    });
    const parsed = parseDftP03(buildDftP03([tricky], OPTIONS).toString());
    expect(parsed.patient.familyName).toBe("O'Brien|Smith");
    expect(parsed.patient.givenNames).toEqual(['Ann^Marie']);
    expect(parsed.lines[0]).toMatchObject({
      transactionCode: { code: '30000101', display: 'Panel A&B ~ C\\D' },
      diagnoses: [{ code: 'R51.9', display: 'Headache | unspecified', system: 'I10' }],
      fillerOrderNumber: 'F^77',
      procedure: { code: '80048', display: 'Panel A&B ~ C\\D' },
      modifiers: ['2&6'],
    });
  });

  it('accepts a parsed message or bytes as well as text', () => {
    const message = buildDftP03([DRUG], OPTIONS);
    const fromMessage = parseDftP03(message);
    expect(parseDftP03(Buffer.from(message.toString(), 'ascii'))).toEqual(fromMessage);
    expect(fromMessage.lines[0]).toMatchObject({ quantity: 30, ndc: '99901-0101-30' });
  });
});

describe('parseDftP03: other senders', () => {
  it('reads a v2.3 DFT with \\n segment ends, no EVN, bare amounts, a TS without offset and "" nulls', () => {
    const text = [
      'MSH|^~\\&|OTHER|HOSP|BILL|HOSP|200612041530||DFT^P03|X1|P|2.3',
      'PID|||4711^^^HOSP^MR||DOE^JANE||19800131|F||||||||||A-55',
      'PV1||I|||||||||||||||||V-1',
      'FT1|1|T-1|B-9|20061204|200612041530|CG|1001^Chest XR^L|||2|200|100|RAD|||||||""|||||71046^^C4|26~LT',
      'FT1|2|T-2||200612041015|""|CD|1002|||.5|-12.345',
    ].join('\n');
    const parsed = parseDftP03(text);
    expect(parsed).toMatchObject({
      messageStructure: null,
      version: '2.3',
      messageTime: Date.UTC(2006, 11, 4, 15, 30),
      event: { type: null, recordedAt: null },
      patient: {
        identifiers: [{ value: '4711', system: 'HOSP', type: 'MR' }],
        givenNames: ['JANE'],
        birthDate: '1980-01-31',
        accountNumber: 'A-55',
      },
      visit: { patientClass: 'I', visitNumber: 'V-1' },
    });
    expect(parsed.lines[0]).toMatchObject({
      transactionId: 'T-1',
      batchId: 'B-9',
      dateOfService: Date.UTC(2006, 11, 4),
      postedAt: Date.UTC(2006, 11, 4, 15, 30),
      transactionCode: { code: '1001', display: 'Chest XR', system: 'L' },
      quantity: 2,
      extendedAmountCents: 20000,
      unitAmountCents: 10000,
      currency: null,
      performedBy: null,
      procedure: { code: '71046', display: null, system: 'C4' },
      modifiers: ['26', 'LT'],
      ndc: null,
      reversal: null,
    });
    expect(parsed.lines[1]).toMatchObject({
      postedAt: null,
      transactionType: 'CD',
      transactionCode: { code: '1002', display: null, system: null },
      quantity: 0.5,
      extendedAmountCents: -1235,
      unitAmountCents: null,
      department: null,
      diagnoses: [],
      modifiers: [],
      reversal: { style: 'credit', reversesTransactionId: null },
    });
  });

  it('takes an unreadable number as absent rather than guess', () => {
    const text =
      'MSH|^~\\&|A|B|C|D|20261204||DFT^P03|X|P|2.5\rPID|||1\rFT1|1|T||20261204||CG|C|||two|4,00|1.2.3';
    expect(parseDftP03(text).lines[0]).toMatchObject({
      quantity: null,
      extendedAmountCents: null,
      unitAmountCents: null,
    });
  });

  it('refuses what is not a DFT^P03 or has no PID', () => {
    expect(() => parseDftP03('MSH|^~\\&|A|B|C|D|20261204||ADT^A01|X|P|2.5\rPID|||1')).toThrow(
      DftParseError,
    );
    expect(() => parseDftP03('MSH|^~\\&|A|B|C|D|20261204||DFT^P03|X|P|2.5\rFT1|1|T')).toThrow(
      /has no PID/,
    );
    expect(() => parseDftP03('not hl7 at all')).toThrow(Hl7ParseError);
  });
});

describe('dtmMillis', () => {
  it.each<[string, number | null]>([
    ['20261204153000+0000', Date.UTC(2026, 11, 4, 15, 30)],
    ['20261204103000-0500', Date.UTC(2026, 11, 4, 15, 30)],
    ['20261204170000+0130', Date.UTC(2026, 11, 4, 15, 30)],
    ['20261204153000.25+0000', Date.UTC(2026, 11, 4, 15, 30, 0, 250)],
    ['202612041530', Date.UTC(2026, 11, 4, 15, 30)],
    ['20261204', Date.UTC(2026, 11, 4)],
    ['202612', Date.UTC(2026, 11, 1)],
    ['20260230', null],
    ['20261204250000', null],
    ['4 Dec 2026', null],
    ['', null],
  ])('%s', (text, expected) => {
    expect(dtmMillis(text)).toBe(expected);
  });
});
