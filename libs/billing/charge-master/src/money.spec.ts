import { extendedPriceCents, formatCents, parseCents } from './money';

describe('money in cents', () => {
  it('parses plain amounts with up to two decimals', () => {
    expect(parseCents('42.00')).toBe(4200);
    expect(parseCents('0.4')).toBe(40);
    expect(parseCents('1650')).toBe(165000);
    expect(parseCents('0.05')).toBe(5);
    for (const bad of ['', '-1', '1.005', '1,00', 'abc', '1e3'])
      expect(parseCents(bad)).toBeUndefined();
  });

  it('multiplies without floating-point drift, rounding half away from zero', () => {
    expect(extendedPriceCents(45, 30)).toBe(1350);
    expect(extendedPriceCents(10, 0.3)).toBe(3); // 0.1 * 3 would drift in floating point
    expect(extendedPriceCents(625, 4)).toBe(2500);
    expect(extendedPriceCents(15, 2.5)).toBe(38);
    expect(extendedPriceCents(15, -2.5)).toBe(-38);
  });

  it('formats with two decimals and a sign', () => {
    expect(formatCents(4200)).toBe('42.00');
    expect(formatCents(5)).toBe('0.05');
    expect(formatCents(-15)).toBe('-0.15');
    expect(formatCents(0)).toBe('0.00');
  });
});
