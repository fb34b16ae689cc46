import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { peekMsh } from './msh.reader';

const fixture = (name: string): Buffer => readFileSync(join(__dirname, '..', 'fixtures', name));

describe('peekMsh', () => {
  it('reads MSH-3..MSH-18 from bytes without parsing the message', () => {
    expect(peekMsh(fixture('oru-r01-v251-cbc.hl7'))).toEqual({
      delimiters: { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' },
      sendingApplication: 'BEAKER',
      sendingFacility: 'GENHOSP^2.16.840.1.113883.3.999^ISO',
      receivingApplication: 'INTERFACE_ENGINE',
      receivingFacility: 'GENHOSP',
      dateTime: '20240316101530-0500',
      messageType: 'ORU^R01^ORU_R01',
      messageCode: 'ORU',
      triggerEvent: 'R01',
      messageStructure: 'ORU_R01',
      controlId: 'BKR000000042',
      processingId: 'P',
      version: '2.5.1',
      acceptAckType: 'AL',
      applicationAckType: 'NE',
      charset: 'UNICODE UTF-8',
      fieldCount: 21,
    });
  });

  it('reads a Latin-1 header as Latin-1 and a UTF-8 one as UTF-8', () => {
    expect(peekMsh(fixture('oru-r01-v25-latin1.hl7'))?.sendingFacility).toBe('HÔPITAL GÉNÉRAL');
    const utf8 = Buffer.from('MSH|^~\\&|LIS|CAFÉ|||1||ORU^R01|1|P|2.5||||||UNICODE UTF-8\r');
    expect(peekMsh(utf8)?.sendingFacility).toBe('CAFÉ');
  });

  it('works on truncated headers and text, and after leading junk', () => {
    const peek = peekMsh('\x0b\r\nMSH|^~\\&|A|B');
    expect(peek?.sendingFacility).toBe('B');
    expect(peek?.controlId).toBe('');
    expect(peek?.fieldCount).toBe(4);
  });

  it('is undefined for no MSH or unusable delimiters, and never throws', () => {
    expect(peekMsh('PID|1')).toBeUndefined();
    expect(peekMsh('MSH|^^\\&|x')).toBeUndefined();
    expect(peekMsh(new Uint8Array([0xff, 0x00, 0x4d]))).toBeUndefined();
    expect(peekMsh('')).toBeUndefined();
  });
});
