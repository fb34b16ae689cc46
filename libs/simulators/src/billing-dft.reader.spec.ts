import { Hl7Message } from '@ancillary/hl7-core';
import { DftReadError, readDftP03 } from './billing-dft.reader';

/** A v2.5 DFT^P03 as the billing trigger sends it: a lab panel, an imaging study, a drug. */
const DFT = [
  'MSH|^~\\&|ANCILLARY-HUB|NWH|SIMBILL|NWH-BILL|20260105093000+0000||DFT^P03^DFT_P03|DFT-0001|P|2.5||||||UNICODE UTF-8',
  'EVN|P03|20260105093000+0000',
  'PID|1||999-00-1234^^^SSA^SS~40001234^^^NWH^MR||Müller^Anna^J||19700101|F||||||||||ACC-7001',
  'PV1|1|O|OPC^^^NWH||||||||||||||||V-9001',
  'FT1|1|CHG-0001||20260105081500+0000^20260105081500+0000|20260105093000+0000|CG|30012345^Basic metabolic panel^NWHCDM|||1|42.00&USD|42.00&USD|LAB^Laboratory||||||E11.9^Type 2 diabetes mellitus without complications^I10~I10^Essential (primary) hypertension^I10|1234567890^Okafor^Ngozi|1234567890^Okafor^Ngozi||FLAB00001^SIMLIS||80048^Basic metabolic panel^C4',
  'FT1|2|CHG-0002||20260105091000+0000|20260105093000+0000|CG|40071046^XR chest 2 views^NWHCDM|||1|180.00|180.00|RAD^Radiology||||||R05.9^Cough, unspecified^I10|2222^Gray^Henry|1234567890^Okafor^Ngozi||AT200001^SIMRIS||71046^Radiologic examination, chest; 2 views^C4|26^Professional component^C4~LT^Left side^HCPCS',
  'FT1|3|CHG-0003||20260105092000+0000|20260105093000+0000|CG|50099901^Amlodipine 5 mg tab \\T\\ cap^NWHCDM|||30|9.00|0.30|PHARM^Pharmacy||||||I10^Essential (primary) hypertension^I10|3333^Patel^Priya|1234567890^Okafor^Ngozi||RXT200001^SIMRX||||||99901-0101-30^Amlodipine 5 mg tablet^NDC',
  '',
].join('\r');

const HEADER = [
  'MSH|^~\\&|ANCILLARY-HUB|NWH|SIMBILL|NWH-BILL|20260105093000+0000||DFT^P03^DFT_P03|DFT-0002|P|2.5',
  'EVN|P03|20260105093000+0000',
  'PID|1||40001234^^^NWH^MR||Test^Pat',
];

function read(text: string): ReturnType<typeof readDftP03> {
  return readDftP03(Hl7Message.parse(text));
}

function readError(text: string): DftReadError {
  try {
    read(text);
  } catch (error) {
    if (error instanceof DftReadError) return error;
    throw error;
  }
  throw new Error('expected a DftReadError');
}

describe('readDftP03', () => {
  it('reads the header, the patient, the visit and every FT1 field a charge needs', () => {
    const dft = read(DFT);
    expect(dft).toMatchObject({
      controlId: 'DFT-0001',
      messageType: 'DFT^P03',
      version: '2.5',
      sendingApplication: 'ANCILLARY-HUB',
      sendingFacility: 'NWH',
      eventType: 'P03',
      // the MR repetition, not the first one
      patient: { mrn: '40001234', assigningAuthority: 'NWH', accountNumber: 'ACC-7001' },
      visit: { visitNumber: 'V-9001', patientClass: 'O' },
    });
    expect(dft.transactions).toHaveLength(3);
    const [lab, imaging, drug] = dft.transactions;
    expect(lab).toEqual({
      setId: 1,
      occurrence: 1,
      transactionId: 'CHG-0001',
      batchId: null,
      transactionDate: '20260105081500+0000',
      dateOfService: '20260105',
      postingDate: '20260105093000+0000',
      transactionType: 'CG',
      chargeCode: '30012345',
      chargeDescription: 'Basic metabolic panel',
      quantity: 1,
      extendedAmount: 42,
      unitAmount: 42,
      department: 'LAB',
      diagnoses: ['E11.9', 'I10'],
      performedBy: '1234567890',
      orderedBy: '1234567890',
      fillerOrderNumber: 'FLAB00001',
      fillerNamespace: 'SIMLIS',
      procedureCode: '80048',
      procedureCodeSystem: 'C4',
      modifiers: [],
      duplicateReason: null,
      ndc: null,
    });
    expect(imaging).toMatchObject({
      transactionId: 'CHG-0002',
      chargeCode: '40071046',
      extendedAmount: 180,
      department: 'RAD',
      diagnoses: ['R05.9'],
      performedBy: '2222',
      fillerOrderNumber: 'AT200001',
      procedureCode: '71046',
      modifiers: ['26', 'LT'],
      ndc: null,
    });
    expect(drug).toMatchObject({
      chargeCode: '50099901',
      chargeDescription: 'Amlodipine 5 mg tab & cap',
      quantity: 30,
      extendedAmount: 9,
      unitAmount: 0.3,
      department: 'PHARM',
      procedureCode: null,
      ndc: '99901-0101-30',
    });
  });

  it('reads a credit, a negative quantity, a v2.3 TS date, \\n endings and the explicit null', () => {
    const text = [
      'MSH|^~\\&|ANCILLARY-HUB|NWH|SIMBILL|NWH-BILL|20260106100000||DFT^P03|DFT-0003|P|2.3',
      'EVN|P03|20260106100000',
      'PID|1||40001234^^^NWH^MR||Test^Pat',
      'PV1|1|I',
      'FT1|1|CHG-0009|CHG-0001|20260105|20260106100000|cd|30012345|||""|-42.001||LAB',
      'FT1||CHG-0010||20260105|20260106100000|CG|30012345^^NWHCDM|||-2||21.50|""|||||||||||||||overridden^Repeat test ordered by physician',
      '',
    ].join('\n');
    const dft = read(text);
    expect(dft.visit).toEqual({ visitNumber: null, patientClass: 'I' });
    expect(dft.patient.accountNumber).toBeNull();
    const [credit, negative] = dft.transactions;
    expect(credit).toMatchObject({
      setId: 1,
      transactionId: 'CHG-0009',
      batchId: 'CHG-0001',
      transactionType: 'CD',
      dateOfService: '20260105',
      quantity: 1, // "" is no quantity, and no quantity is one
      extendedAmount: -42, // kept to the cent
      unitAmount: null,
    });
    expect(negative).toMatchObject({
      setId: 2, // FT1-1 empty: its position
      occurrence: 2,
      transactionType: 'CG',
      chargeDescription: null,
      quantity: -2,
      extendedAmount: null,
      unitAmount: 21.5,
      department: null,
      duplicateReason: 'overridden',
    });
  });

  it.each([
    [
      'a message that is not a DFT^P03',
      'MSH|^~\\&|A|B|C|D|20260105||DFT^P11^DFT_P11|X1|P|2.5\rPID|1||1^^^NWH^MR\r',
      { hl7ErrorCode: '200', segment: 'MSH', field: 9 },
      'DFT^P11 is not a DFT^P03',
    ],
    [
      'no PID',
      'MSH|^~\\&|A|B|C|D|20260105||DFT^P03|X2|P|2.5\rFT1|1|T1||20260105||CG|C1|||1|10\r',
      { hl7ErrorCode: '100', segment: 'PID' },
      'no PID',
    ],
    [
      'no patient identifier',
      'MSH|^~\\&|A|B|C|D|20260105||DFT^P03|X3|P|2.5\rPID|1||^^^NWH^MR\rFT1|1|T1||20260105||CG|C1|||1|10\r',
      { hl7ErrorCode: '101', segment: 'PID', field: 3 },
      'PID-3',
    ],
    ['no FT1', [...HEADER, ''].join('\r'), { hl7ErrorCode: '100', segment: 'FT1' }, 'no FT1'],
    [
      'an FT1 without transaction ID (the second one)',
      [...HEADER, 'FT1|1|T1||20260105||CG|C1|||1|10', 'FT1|2|||20260105||CG|C1|||1|10', ''].join(
        '\r',
      ),
      { hl7ErrorCode: '101', segment: 'FT1', segmentIndex: 2, field: 2 },
      'FT1 #2: FT1-2',
    ],
    [
      'no transaction date',
      [...HEADER, 'FT1|1|T1||||CG|C1|||1|10', ''].join('\r'),
      { hl7ErrorCode: '101', segment: 'FT1', segmentIndex: 1, field: 4 },
      'FT1-4 transaction date is required',
    ],
    [
      'a transaction date that is not a day',
      [...HEADER, 'FT1|1|T1||20260231||CG|C1|||1|10', ''].join('\r'),
      { hl7ErrorCode: '102', field: 4 },
      '"20260231" is not a date',
    ],
    [
      'a payment (PY): not posted from an ancillary interface',
      [...HEADER, 'FT1|1|T1||20260105||PY|C1|||1|10', ''].join('\r'),
      { hl7ErrorCode: '103', field: 6 },
      'transaction type PY is not posted',
    ],
    [
      'no transaction type',
      [...HEADER, 'FT1|1|T1||20260105|||C1|||1|10', ''].join('\r'),
      { hl7ErrorCode: '101', field: 6 },
      'FT1-6',
    ],
    [
      'no charge code',
      [...HEADER, 'FT1|1|T1||20260105||CG|^Panel|||1|10', ''].join('\r'),
      { hl7ErrorCode: '101', field: 7 },
      'charge code',
    ],
    [
      'a quantity that is not a number',
      [...HEADER, 'FT1|1|T1||20260105||CG|C1|||one|10', ''].join('\r'),
      { hl7ErrorCode: '102', field: 10 },
      'FT1-10 quantity "one" is not a number',
    ],
    [
      'an amount that is not a number',
      [...HEADER, 'FT1|1|T1||20260105||CG|C1|||1|$10', ''].join('\r'),
      { hl7ErrorCode: '102', field: 11 },
      'FT1-11 extended amount "$10"',
    ],
    [
      'no amount at all',
      [...HEADER, 'FT1|1|T1||20260105||CG|C1|||1', ''].join('\r'),
      { hl7ErrorCode: '101', field: 11 },
      'no amount',
    ],
  ])('refuses %s with the ERR it answers', (_what, text, location, reason) => {
    const error = readError(text);
    expect(error.ackError).toMatchObject(location);
    expect(error.message).toContain(reason);
  });
});
