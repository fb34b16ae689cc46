import { criticalAlertId, labResultEventId, payloadDigest } from './ids';

describe('deterministic event ids', () => {
  it('gives the same RFC 9562 v5-shaped UUID for the same message and order group', () => {
    const id = labResultEventId('lis-main', 'MSG00001', 0, 'd1');
    expect(id).toBe(labResultEventId('lis-main', 'MSG00001', 0, 'd1'));
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('tells apart connections, control ids, message bytes and order groups, without ambiguous joins', () => {
    const ids = new Set([
      labResultEventId('lis-main', 'MSG00001', 0, 'd1'),
      labResultEventId('lis-main', 'MSG00001', 1, 'd1'),
      labResultEventId('lis-main', 'MSG00002', 0, 'd1'),
      labResultEventId('lis-east', 'MSG00001', 0, 'd1'),
      labResultEventId('lis-mainM', 'SG00001', 0, 'd1'),
      labResultEventId('lis-main', 'MSG00001', 0, 'd2'),
    ]);
    expect(ids.size).toBe(6); // a reused MSH-10 with other bytes is another event
    expect(criticalAlertId('e', 1)).not.toBe(criticalAlertId('e', 2));
  });
});

describe('payloadDigest', () => {
  const message = (sentAt: string, value: string) =>
    Buffer.from(
      `MSH|^~\\&|SIMLIS|NWH-LAB|EHR|NWH|${sentAt}||ORU^R01|MSG1|P|2.5.1\rOBX|1|NM|GLU^Glucose^L||${value}|mg/dL`,
    );

  it('is the same for a resend restamped with a new MSH-7, and differs for other content', () => {
    const original = payloadDigest(message('20261126080000', '98'));
    expect(payloadDigest(message('20261126080500', '98'))).toBe(original);
    expect(payloadDigest(message('20261126080000', '99'))).not.toBe(original);
    expect(original).toMatch(/^[0-9a-f]{64}$/);
  });

  it('leaves MSH-7 out also after a BOM or blank lines before MSH, as the parser skips them', () => {
    const withBom = (sentAt: string) =>
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf, 0x0a]), message(sentAt, '98')]);
    expect(payloadDigest(withBom('20261126080500'))).toBe(payloadDigest(withBom('20261126080000')));
  });

  it('digests every byte of what does not start with MSH', () => {
    expect(payloadDigest(Buffer.from('not hl7'))).not.toBe(payloadDigest(Buffer.from('not hl8')));
  });
});
