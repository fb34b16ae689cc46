import { Hl7Message } from '@ancillary/hl7-core';
import { BillingLedger, readDftP03 } from '@ancillary/simulators';
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
  assigningAuthority,
  buildDftP03,
  DftBuildError,
  type DftOptions,
  type DftVersion,
} from './dft-p03.builder';
import { dftControlId } from './dft-ids';

/** The golden header every message of the fixture visit starts with (v2.5). */
const HEADER = [
  'MSH|^~\\&|ANCILLARY-HUB|NWH|SIMBILL|NWH-BILL|20261204153000+0000||DFT^P03^DFT_P03|DFT0001|P|2.5',
  'EVN|P03|20261204153000+0000',
  'PID|1||MRN1001^^^NWH^MR~900112233^^^&2.16.840.1.113883.4.1&ISO^SS||Rivera^Ana^Lucia||19700315|F||||||||||ACC77001',
  'PV1|1|O|||||||||||||||||V9001',
];

const LAB_FT1 =
  'FT1|1|3CASCVJA27||20261204091500+0000|20261204153000+0000|CG|30000101^Basic metabolic panel^99CDM|||1|42.00&USD|42.00&USD|LAB-CHEM||||||E11.9^Type 2 diabetes mellitus without complications^I10~I10^Essential (primary) hypertension^I10||1234567893^Okafor^Ngozi||F1001||80048^Basic metabolic panel^C4';

/** The built message's segments; every one, the last included, ends with CR (v2.5 ch. 2.5.1). */
function segments(
  charges: Parameters<typeof buildDftP03>[0],
  options: Partial<DftOptions> = {},
): string[] {
  const text = buildDftP03(charges, { ...OPTIONS, ...options }).toString();
  expect(text.endsWith('\r')).toBe(true);
  return text.slice(0, -1).split('\r');
}

describe('buildDftP03 golden messages (v2.5)', () => {
  it('a lab charge: MSH, EVN P03, PID with PID-18, PV1 with PV1-2/19, one FT1', () => {
    expect(segments([LAB])).toEqual([...HEADER, LAB_FT1]);
  });

  it('an imaging charge: CPT 70450 with modifier 26 (professional read), performed and ordered by', () => {
    expect(segments([CT_READ])).toEqual([
      ...HEADER,
      'FT1|1|Y6MBDK9GZ6||20261204110200+0000|20261204153000+0000|CG|40010201^CT head without contrast (professional)^99CDM|||1|210.00&USD|210.00&USD|RAD-CT||||||R51.9^Headache, unspecified^I10|1245319599^Lindqvist^Maja|1234567893^Okafor^Ngozi||A2002||70450^CT head without contrast (professional)^C4|26',
    ]);
  });

  it('a drug charge: the dispensed quantity in FT1-10, unit and extended price, NDC in FT1-29', () => {
    expect(segments([DRUG])).toEqual([
      ...HEADER,
      'FT1|1|ISGDQE6OPT||20261204134000+0000|20261204153000+0000|CG|50000101^Amlodipine 5 mg tablet^99CDM|||30|13.50&USD|0.45&USD|PHARM||||||I10^Essential (primary) hypertension^I10||1234567893^Okafor^Ngozi||RX3003||||||99901-0101-30^Amlodipine 5 mg tablet^NDC',
    ]);
  });

  it('several lines: one FT1 each, set ids 1..n in the order given, repeating modifiers', () => {
    const knee = chargeEvent('charge:A2003|40000102|2026-12-04:1', {
      fillerOrderNumber: 'A2003',
      chargeCode: '40000102',
      description: 'XR knee 3 views (technical)',
      cptHcpcs: '73562',
      modifiers: ['TC', 'RT'],
      unitPriceCents: 16000,
      extendedPriceCents: 16000,
      department: 'RAD-XR',
      diagnoses: [],
      orderingProvider: null,
    });
    const lines = segments([LAB, knee, DRUG]);
    expect(lines.slice(0, 4)).toEqual(HEADER);
    expect(lines.slice(4).map((s) => s.split('|').slice(0, 3).join('|'))).toEqual([
      'FT1|1|3CASCVJA27',
      `FT1|2|${knee.transactionId}`,
      'FT1|3|ISGDQE6OPT',
    ]);
    expect(lines[5]).toMatch(/\|73562\^XR knee 3 views \(technical\)\^C4\|TC~RT$/);
    // no diagnoses, no provider: FT1-19 to FT1-21 stay empty, nothing is invented
    expect(lines[5]).toContain('|160.00&USD|160.00&USD|RAD-XR||||||||||A2003||73562^');
  });
});

describe('reversal styles', () => {
  const credit = creditFor(LAB);

  it("'credit': FT1-6 CD, quantity and amounts positive, the original's FT1-2 in FT1-3", () => {
    expect(segments([credit], { reversalStyle: 'credit' })).toEqual([
      ...HEADER,
      'FT1|1|HC4G9HPKO6|3CASCVJA27|20261204091500+0000|20261204153000+0000|CD|30000101^Basic metabolic panel^99CDM|||1|42.00&USD|42.00&USD|LAB-CHEM||||||E11.9^Type 2 diabetes mellitus without complications^I10~I10^Essential (primary) hypertension^I10||1234567893^Okafor^Ngozi||F1001||80048^Basic metabolic panel^C4',
    ]);
  });

  it("'negative-charge': FT1-6 CG, FT1-10 and FT1-11 negative, unit price positive, FT1-3 the original", () => {
    expect(segments([credit], { reversalStyle: 'negative-charge' })).toEqual([
      ...HEADER,
      'FT1|1|HC4G9HPKO6|3CASCVJA27|20261204091500+0000|20261204153000+0000|CG|30000101^Basic metabolic panel^99CDM|||-1|-42.00&USD|42.00&USD|LAB-CHEM||||||E11.9^Type 2 diabetes mellitus without complications^I10~I10^Essential (primary) hypertension^I10||1234567893^Okafor^Ngozi||F1001||80048^Basic metabolic panel^C4',
    ]);
  });

  it('a quantity correction (credit of 30, new charge of 28) in one message, credit first', () => {
    const corrected = chargeEvent('dispense:RX3003:3', {
      ...DRUG,
      eventId: 'dispense:RX3003:3',
      transactionId: 'RX3003C3',
      quantity: 28,
      extendedPriceCents: 1260,
    });
    const lines = segments([creditFor(DRUG), corrected], { reversalStyle: 'negative-charge' });
    expect(lines[4]).toContain(`|ISGDQE6OPT|20261204134000+0000|20261204153000+0000|CG|`);
    expect(lines[4]).toContain('|||-30|-13.50&USD|0.45&USD|PHARM|');
    expect(lines[5]).toMatch(/^FT1\|2\|RX3003C3\|\|.*\|CG\|.*\|\|\|28\|12\.60&USD\|0\.45&USD\|/);
  });

  it('derives the reversed FT1-2 from reversesEventId when the transaction id is not given', () => {
    const byEventId = { ...credit, reversesTransactionId: null };
    expect(segments([byEventId])[4]).toContain('|HC4G9HPKO6|3CASCVJA27|');
  });
});

describe('versions', () => {
  it('v2.3: MSH-9 without structure, and a drug NDC in FT1-25 (there is no FT1-29 before v2.5)', () => {
    const lines = segments([DRUG, INJECTION], { version: '2.3' });
    expect(lines[0]).toBe(
      'MSH|^~\\&|ANCILLARY-HUB|NWH|SIMBILL|NWH-BILL|20261204153000+0000||DFT^P03|DFT0001|P|2.3',
    );
    expect(lines.slice(1, 4)).toEqual(HEADER.slice(1));
    expect(lines[4]).toMatch(/\|RX3003\|\|99901-0101-30\^Amlodipine 5 mg tablet\^NDC$/);
    // a HCPCS-coded drug keeps its HCPCS code in FT1-25; the NDC has nowhere to go before v2.5
    expect(lines[5]).toMatch(
      /\|RX3004\|\|J0696\^Injection, ceftriaxone sodium, per 250 mg\^HCPCS$/,
    );
  });

  it('v2.5 and v2.5.1: FT1-29 carries the NDC, also beside a HCPCS code in FT1-25', () => {
    for (const version of ['2.5', '2.5.1'] as const) {
      const lines = segments([DRUG, INJECTION], { version });
      expect(lines[0]).toMatch(new RegExp(`\\|DFT\\^P03\\^DFT_P03\\|DFT0001\\|P\\|${version}$`));
      expect(lines[4]).toMatch(/\|RX3003\|\|\|\|\|\|99901-0101-30\^Amlodipine 5 mg tablet\^NDC$/);
      expect(lines[5]).toMatch(
        /\|J0696\^Injection, ceftriaxone sodium, per 250 mg\^HCPCS\|\|\|\|99902-0201-10\^Injection, ceftriaxone sodium, per 250 mg\^NDC$/,
      );
    }
  });

  it.each<[DftVersion, string]>([
    ['2.3', 'DFT^P03'],
    ['2.4', 'DFT^P03^DFT_P03'],
    ['2.5', 'DFT^P03^DFT_P03'],
    ['2.5.1', 'DFT^P03^DFT_P03'],
  ])('v%s: MSH-9 is %s, EVN-1 P03, and the lab FT1 is the same', (version, msh9) => {
    const lines = segments([LAB], { version });
    expect(lines[0]?.split('|')[8]).toBe(msh9);
    expect(lines[1]).toBe('EVN|P03|20261204153000+0000');
    expect(lines[4]).toBe(LAB_FT1);
  });

  it('defaults to v2.5', () => {
    const { version: _ignored, ...noVersion } = OPTIONS;
    expect(buildDftP03([LAB], noVersion).version).toBe('2.5');
  });
});

describe('escaping', () => {
  it('escapes every delimiter in free text: names, descriptions, diagnosis text, ids', () => {
    const tricky = chargeEvent('charge:esc:1', {
      patient: { ...LAB.patient, familyName: "O'Brien|Smith", givenNames: ['Zoe^Ann'] },
      description: 'Panel A&B ~ C\\D',
      diagnoses: [{ code: 'R51.9', display: 'Headache | "unspecified"' }],
      orderingProvider: { id: '1234567893', familyName: 'Okafor~Eze', givenName: null },
      fillerOrderNumber: 'F^77',
    });
    const lines = segments([tricky]);
    expect(lines[2]).toContain("|O'Brien\\F\\Smith^Zoe\\S\\Ann||");
    expect(lines[4]).toContain('|30000101^Panel A\\T\\B \\R\\ C\\E\\D^99CDM|');
    expect(lines[4]).toContain('|R51.9^Headache \\F\\ "unspecified"^I10|');
    expect(lines[4]).toContain('|1234567893^Okafor\\R\\Eze||F\\S\\77||');
    expect(lines[4]).toContain('|80048^Panel A\\T\\B \\R\\ C\\E\\D^C4');
    // still exactly 5 segments and 25 FT1 fields: nothing shifted
    expect(lines).toHaveLength(5);
    expect(lines[4]?.split('|')).toHaveLength(26);
  });
});

describe('character set', () => {
  it('declares MSH-18 UNICODE UTF-8 only when a name is not ASCII, and the bytes are UTF-8', () => {
    expect(segments([LAB])[0]?.split('|')[17]).toBeUndefined(); // plain ASCII: MSH-18 empty
    const accented = chargeEvent('charge:utf8:1', {
      patient: { ...LAB.patient, familyName: 'Núñez Søndergaard', givenNames: ['Zoë'] },
      orderingProvider: { id: '1234567893', familyName: 'Björk', givenName: 'Él' },
    });
    const message = buildDftP03([accented], OPTIONS);
    const lines = message.toString().split('\r');
    expect(lines[0]?.split('|')[17]).toBe('UNICODE UTF-8');
    expect(lines[2]).toContain('|Núñez Søndergaard^Zoë||');
    const bytes = message.toBytes();
    expect(Buffer.from(bytes).toString('utf8')).toContain('Núñez Søndergaard');
    // the billing simulator reads it back as it was
    const parsed = Hl7Message.parse(bytes);
    expect(parsed.segment('PID')?.get(5)).toBe('Núñez Søndergaard');
    expect(readDftP03(parsed).transactions).toHaveLength(1);
  });
});

describe('identifiers and defaults', () => {
  it('writes CX-4 as a namespace, an ISO OID or a URI (table 0301)', () => {
    expect(assigningAuthority('NWH')).toBe('NWH');
    expect(assigningAuthority('urn:oid:2.16.840.1.113883.4.1')).toEqual([
      null,
      '2.16.840.1.113883.4.1',
      'ISO',
    ]);
    expect(assigningAuthority('https://nwh.example.org/mrn')).toEqual([
      null,
      'https://nwh.example.org/mrn',
      'URI',
    ]);
    expect(assigningAuthority(null)).toBeNull();
  });

  it('sends PV1-2 U when the class is unknown, and another FT1-7 coding system when configured', () => {
    const lines = segments([{ ...LAB, patientClass: null, visitNumber: null }], {
      chargeCodeSystem: 'CDM',
    });
    expect(lines[3]).toBe('PV1|1|U');
    expect(lines[4]).toContain('|30000101^Basic metabolic panel^CDM|');
  });

  it('derives MSH-10 from the lines when no control id is given: a resend repeats it', () => {
    const { controlId: _none, ...options } = OPTIONS;
    const first = buildDftP03([LAB, DRUG], options);
    const resend = buildDftP03([LAB, DRUG], { ...options, now: new Date(NOW.getTime() + 60_000) });
    expect(first.controlId).toBe(dftControlId([LAB, DRUG]));
    expect(resend.controlId).toBe(first.controlId);
  });
});

describe('refusals (DftBuildError, permanent)', () => {
  it('refuses no lines, lines of two visits or patients, and a credit naming nothing', () => {
    expect(() => buildDftP03([], OPTIONS)).toThrow(DftBuildError);
    expect(() => buildDftP03([LAB, { ...CT_READ, visitNumber: 'V9999' }], OPTIONS)).toThrow(
      /another patient, account or visit/,
    );
    const otherPatient = {
      ...CT_READ,
      patient: { ...CT_READ.patient, identifiers: [{ value: 'MRN2', system: 'NWH', type: 'MR' }] },
    };
    expect(() => buildDftP03([LAB, otherPatient], OPTIONS)).toThrow(DftBuildError);
    const orphan = { ...creditFor(LAB), reversesTransactionId: null, reversesEventId: null };
    expect(() => buildDftP03([orphan], OPTIONS)).toThrow(/does not name the charge it reverses/);
  });

  it('refuses a negative or zero quantity and negative or fractional cents: the style signs, not the event', () => {
    expect(() => buildDftP03([{ ...LAB, quantity: -1 }], OPTIONS)).toThrow(/not positive/);
    expect(() => buildDftP03([{ ...LAB, quantity: 0 }], OPTIONS)).toThrow(/not positive/);
    expect(() => buildDftP03([{ ...LAB, extendedPriceCents: -4200 }], OPTIONS)).toThrow(
      /extendedPriceCents/,
    );
    expect(() => buildDftP03([{ ...LAB, unitPriceCents: 42.5 }], OPTIONS)).toThrow(
      /unitPriceCents/,
    );
  });
});

describe('the billing simulator (an independent reader) agrees', () => {
  const read = (message: Hl7Message) => readDftP03(Hl7Message.parse(message.toString()));

  it('reads every field it posts the way the builder meant it', () => {
    const dft = read(buildDftP03([LAB, CT_READ, DRUG], OPTIONS));
    expect(dft.patient).toEqual({
      mrn: 'MRN1001',
      assigningAuthority: 'NWH',
      accountNumber: 'ACC77001',
    });
    expect(dft.visit).toEqual({ visitNumber: 'V9001', patientClass: 'O' });
    const [lab, ct, rx] = dft.transactions;
    expect(lab).toMatchObject({
      transactionId: LAB.transactionId,
      transactionType: 'CG',
      dateOfService: '20261204',
      chargeCode: '30000101',
      quantity: 1,
      extendedAmount: 42,
      unitAmount: 42,
      department: 'LAB-CHEM',
      diagnoses: ['E11.9', 'I10'],
      orderedBy: '1234567893',
      fillerOrderNumber: 'F1001',
      procedureCode: '80048',
      procedureCodeSystem: 'C4',
    });
    expect(ct).toMatchObject({
      procedureCode: '70450',
      modifiers: ['26'],
      performedBy: '1245319599',
    });
    expect(rx).toMatchObject({ quantity: 30, extendedAmount: 13.5, ndc: '99901-0101-30' });
  });

  it.each(['credit', 'negative-charge'] as const)(
    "a '%s' reversal nets the charge to zero on its ledger, with no duplicate flagged",
    (reversalStyle) => {
      const ledger = new BillingLedger();
      ledger.post(read(buildDftP03([LAB], { ...OPTIONS, reversalStyle })), NOW);
      ledger.post(read(buildDftP03([creditFor(LAB)], { ...OPTIONS, reversalStyle })), NOW);
      expect(ledger.netByChargeKey()).toEqual([
        expect.objectContaining({ quantity: 0, amount: 0 }),
      ]);
      expect(ledger.totals().duplicates).toBe(0);
    },
  );
});
