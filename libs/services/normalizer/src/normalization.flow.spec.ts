import { Hl7Message, fallbackCharset } from '@ancillary/hl7-core';
import { fallbackCharsetOf } from './normalization.flow';

describe('the charset the normalizer decodes an envelope with', () => {
  it.each(['latin1', 'windows-1252', 'utf-8'] as const)(
    'is the one the gateway decoded with, from the IANA name in the envelope (fallback %s)',
    (gatewayFallback) => {
      const ianaName = fallbackCharset(gatewayFallback).name;
      expect(fallbackCharsetOf(ianaName)).toBe(gatewayFallback);
    },
  );

  it('reads a Latin-1 name without MSH-18 as the gateway did', () => {
    const bytes = Buffer.concat([
      Buffer.from(
        'MSH|^~\\&|SIMLIS|NWH-LAB|EHR|NWH|20261126080000||ORU^R01|M1|P|2.5.1\rPID|1||1^^^NWH^MR||M',
      ),
      Buffer.from([0xfc]), // ü in ISO-8859-1
      Buffer.from('ller^Anna\r'),
    ]);
    const atGateway = Hl7Message.parse(bytes, { fallbackCharset: 'latin1' });
    const fallback = fallbackCharsetOf(atGateway.charset);
    expect(fallback).toBe('latin1');
    const atNormalizer = Hl7Message.parse(bytes, {
      ...(fallback ? { fallbackCharset: fallback } : {}),
    });
    expect(atNormalizer.get('PID-5')).toBe('Müller');
  });
});
