import { labResultEventId, payloadDigest } from '@ancillary/contracts';
import { adtA08, envelopeOf, oruR01 } from '../../test/hl7.fixtures';
import { expectedResults, identityOf } from './inbound-message';

describe('expectedResults', () => {
  it('expects one LabResult per order group, with the normalizer’s event ids', () => {
    const envelope = envelopeOf(oruR01('CTRL-1', 3), 'LIS-MAIN');
    expect(expectedResults(envelope)).toEqual({
      expectedEventIds: [0, 1, 2].map((i) =>
        labResultEventId('LIS-MAIN', 'CTRL-1', i, payloadDigest(envelope.payload)),
      ),
    });
  });

  it('counts order groups across patient groups in message order', () => {
    const message = oruR01('CTRL-2', 1);
    message.addSegment('PID', ['1', '', 'MRN-TEST-9']);
    message.addSegment('OBR', ['1', 'PLC9', 'FIL9', ['K', 'Potassium', 'L']]);
    const envelope = envelopeOf(message, 'LIS-MAIN');
    const ids = expectedResults(envelope).expectedEventIds;
    expect(ids).toEqual(
      [0, 1].map((i) => labResultEventId('LIS-MAIN', 'CTRL-2', i, payloadDigest(envelope.payload))),
    );
  });

  it('expects nothing of a message that is not ORU^R01', () => {
    expect(expectedResults(envelopeOf(adtA08('ADT-1'), 'LIS-MAIN'))).toEqual({});
  });

  it('names the problem when the payload cannot be read as ORU^R01', () => {
    const envelope = envelopeOf(oruR01('CTRL-3'), 'LIS-MAIN');
    envelope.payload = Buffer.from(
      'MSH|^~\\&|TESTLIS||||20260101||ORU^R01|CTRL-3|P|2.5.1\rOBX|1|NM|GLU||5\r',
    );
    expect(expectedResults(envelope).problem).toMatch(
      /cannot be read as ORU\^R01.*OBX before any OBR/,
    );
  });

  it('reads a payload in the charset the gateway accepted it with', () => {
    const latin1 = Buffer.from(
      'MSH|^~\\&|TESTLIS||||20260101||ORU^R01|CTRL-4|P|2.5.1\rPID|1||M1||M\xdcLLER\rOBR|1|P|F|GLU\r',
      'latin1',
    );
    const envelope = {
      ...envelopeOf(oruR01('CTRL-4'), 'LIS-MAIN'),
      payload: latin1,
      charset: 'ISO-8859-1',
    };
    expect(expectedResults(envelope).expectedEventIds).toHaveLength(1);
  });
});

describe('identityOf', () => {
  it('is defined only with both parts', () => {
    expect(identityOf('LIS', 'C1')).toBe('LIS\u0000C1');
    expect(identityOf(undefined, 'C1')).toBeUndefined();
    expect(identityOf('LIS', undefined)).toBeUndefined();
  });
});
