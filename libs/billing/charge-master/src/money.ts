/**
 * Money as integer cents: prices are added and multiplied on every charge, and binary floating
 * point would drift (0.1 + 0.2). HL7 CP/MO amounts are written with two decimals.
 */

/** `"42.00"`, `"0.4"`, `"1650"` → cents; undefined for anything that is not a plain amount. */
export function parseCents(text: string): number | undefined {
  const match = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(text.trim());
  if (!match) return undefined;
  const [, whole = '0', fraction = ''] = match;
  return Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
}

/**
 * Unit price × quantity, rounded half away from zero to the cent (quantities may be fractional,
 * e.g. 2.5 mL). Negative quantities (a negative-quantity reversal) give negative amounts.
 */
export function extendedPriceCents(unitPriceCents: number, quantity: number): number {
  const exact = unitPriceCents * quantity;
  return Math.sign(exact) * Math.round(Math.abs(exact));
}

/** Cents as an amount with two decimals: 4200 → `"42.00"`, -15 → `"-0.15"`. */
export function formatCents(cents: number): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(Math.trunc(cents));
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}
