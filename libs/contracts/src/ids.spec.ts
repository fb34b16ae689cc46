import {
  chargeRecordKey,
  criticalAlertId,
  dispenseEventId,
  imagingReportEventId,
  labResultEventId,
  orderStatusEventId,
  payloadDigest,
  resourceDigest,
} from './ids';

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

describe('order-flow event ids', () => {
  it('are deterministic, per kind, and tell every part apart', () => {
    expect(imagingReportEventId('ris-main', 'R1', 0, 'd')).toBe(
      imagingReportEventId('ris-main', 'R1', 0, 'd'),
    );
    // Same parts, other kinds: never the same id.
    const kinds = new Set([
      labResultEventId('ris-main', 'R1', 0, 'd'),
      imagingReportEventId('ris-main', 'R1', 0, 'd'),
      orderStatusEventId('ris-main', 'R1', 0, 'd'),
    ]);
    expect(kinds.size).toBe(3);
    const statuses = new Set([
      orderStatusEventId('ris-main', 'R1', 0, 'd'),
      orderStatusEventId('ris-main', 'R1', 1, 'd'),
      orderStatusEventId('ris-main', 'R2', 0, 'd'),
      orderStatusEventId('ris-east', 'R1', 0, 'd'),
      orderStatusEventId('ris-main', 'R1', 0, 'e'),
    ]);
    expect(statuses.size).toBe(5);
    const dispenses = new Set([
      dispenseEventId('pharmacy-main', 'RX1-1', 'v1'),
      dispenseEventId('pharmacy-main', 'RX1-2', 'v1'),
      dispenseEventId('pharmacy-main', 'RX1-1', 'v2'),
      dispenseEventId('pharmacy-east', 'RX1-1', 'v1'),
    ]);
    expect(dispenses.size).toBe(4);
    expect(dispenseEventId('p', 'RX1-1', 'v1')).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });
});

describe('resourceDigest', () => {
  const dispense = {
    resourceType: 'MedicationDispense',
    id: 'md-1',
    meta: { versionId: '1', lastUpdated: '2026-11-26T08:00:00Z' },
    status: 'completed',
    quantity: { value: 30, unit: 'tablet' },
  };

  it('ignores key order, whitespace and meta, as a resend may change them', () => {
    const reordered = JSON.parse(
      `{ "quantity": {"unit":"tablet","value":30}, "status":"completed", "id":"md-1",
         "meta": {"versionId":"7"}, "resourceType":"MedicationDispense" }`,
    ) as unknown;
    expect(resourceDigest(reordered)).toBe(resourceDigest(dispense));
  });

  it('differs when the content differs', () => {
    expect(resourceDigest({ ...dispense, quantity: { value: 60, unit: 'tablet' } })).not.toBe(
      resourceDigest(dispense),
    );
    expect(resourceDigest(dispense)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('chargeRecordKey', () => {
  it('is the first patient identifier, else the charge key', () => {
    const identifiers = [{ value: 'MRN-1' }, { value: 'SSN-1' }];
    expect(chargeRecordKey({ patient: { identifiers }, chargeKey: 'F1|C|2026-12-04' })).toBe(
      'MRN-1',
    );
    expect(chargeRecordKey({ patient: { identifiers: [] }, chargeKey: 'dispense:D1' })).toBe(
      'dispense:D1',
    );
  });
});
