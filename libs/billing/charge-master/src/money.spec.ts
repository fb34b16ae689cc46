import { extendedPriceCents, formatCents, parseCents } from './money';

describe('money in cents', () => {
  it('parses plain amounts with up to two decimals', () => {
    expect(parseCents('42.00')).toBe(4200);
    expect(parseCents('0.4')).toBe(40);
    expect(parseCents('1650')).toBe(165000);
    expect(parseCents('0.05')).toBe(5);
    expect(parseCents('0.00')).toBe(0);
    expect(parseCents(' 19.99 ')).toBe(1999);
    for (const bad of ['', '-1', '+1', '1.005', '1,00', '1,000.00', 'abc', '1e3', '.5', '$5'])
      expect(parseCents(bad)).toBeUndefined();
  });

  it('multiplies without floating-point drift, rounding half away from zero', () => {
    expect(extendedPriceCents(45, 30)).toBe(1350);
    expect(extendedPriceCents(10, 0.3)).toBe(3); // 10 * 0.3 is 3.0000000000000004 in binary
    expect(extendedPriceCents(625, 4)).toBe(2500);
    expect(extendedPriceCents(15, 2.5)).toBe(38); // 37.5 → 38
    expect(extendedPriceCents(15, -2.5)).toBe(-38); // away from zero, not towards +∞
    expect(extendedPriceCents(100, 1.005)).toBe(101); // 100 * 1.005 is 100.49999… in binary
    expect(extendedPriceCents(1, 0.5)).toBe(1);
    expect(extendedPriceCents(1, 0.49)).toBe(0);
    expect(extendedPriceCents(4200, 0)).toBe(0);
    expect(Object.is(extendedPriceCents(4200, -0), 0)).toBe(true); // no "-0.00"
    expect(extendedPriceCents(0, -3)).toBe(0);
    expect(extendedPriceCents(999_999_99, 1000)).toBe(99_999_999_000);
  });

  it('refuses fractions of a cent and quantities that are no number', () => {
    expect(() => extendedPriceCents(42.5, 1)).toThrow(RangeError);
    expect(() => extendedPriceCents(4200, Number.NaN)).toThrow(RangeError);
    expect(() => extendedPriceCents(4200, Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => extendedPriceCents(Number.MAX_SAFE_INTEGER, 10)).toThrow(RangeError);
  });

  it('formats with two decimals and a sign, as HL7 NM (FT1-11/12 MO.1) wants', () => {
    expect(formatCents(4200)).toBe('42.00');
    expect(formatCents(5)).toBe('0.05');
    expect(formatCents(-15)).toBe('-0.15');
    expect(formatCents(0)).toBe('0.00');
    expect(formatCents(-0)).toBe('0.00');
    expect(formatCents(165000)).toBe('1650.00'); // no thousands separator
    expect(formatCents(extendedPriceCents(45, 30))).toBe('13.50');
    expect(() => formatCents(0.5)).toThrow(RangeError);
  });

  it('round-trips every price the charge master can hold', () => {
    for (const text of ['0.00', '0.01', '0.10', '9.99', '42.00', '1650.00', '999999999.99']) {
      expect(formatCents(parseCents(text) ?? Number.NaN)).toBe(text);
    }
  });
});
