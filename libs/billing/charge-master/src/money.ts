/**
 * Money as integer cents: prices are added and multiplied on every charge, and binary floating
 * point would drift (0.1 + 0.2 !== 0.3; 100 × 1.005 = 100.49999…). Amounts are integers of cents
 * from the CSV to the wire, and only {@link formatCents} turns them into text.
 *
 * HL7 v2.5 FT1-11 (Transaction Amount - Extended) and FT1-12 (Transaction Amount - Unit) are of
 * type CP (composite price), whose first component CP.1 is MO (money): MO.1 quantity (NM) & MO.2
 * denomination (ISO 4217, e.g. USD). NM is an optional sign, digits and an optional decimal
 * point, so `42.00` and `-0.15` are valid MO.1 values; the DFT builder (libs/billing/dft) adds
 * the denomination subcomponent. https://hl7-definition.caristix.com/v2/HL7v2.5/Segments/FT1
 */

const PLAIN_AMOUNT = /^(\d{1,9})(?:\.(\d{1,2}))?$/;

/**
 * `"42.00"`, `"0.4"`, `"1650"` → cents; undefined for anything that is not a plain non-negative
 * amount with at most two decimals (no sign, no thousands separator, no exponent: a charge-master
 * price is never negative, and a third decimal would be silently rounded).
 */
export function parseCents(text: string): number | undefined {
  const match = PLAIN_AMOUNT.exec(text.trim());
  if (!match) return undefined;
  const [, whole = '0', fraction = ''] = match;
  return Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
}

/**
 * Unit price × quantity in cents, rounded half away from zero to the cent. Quantities may be
 * fractional (2.5 mL) or negative (a negative-quantity reversal gives a negative amount).
 *
 * The product is computed exactly: the quantity is taken as the decimal it prints as (1.005 is
 * 1005 / 1000, not the nearest binary double), so 100 × 1.005 rounds to 101, as a person would.
 * @throws RangeError when the unit price is not a whole number of cents, the quantity is not a
 *   finite number, or the result is beyond safe integers.
 */
export function extendedPriceCents(unitCents: number, quantity: number): number {
  if (!Number.isSafeInteger(unitCents)) {
    throw new RangeError(`unit price must be whole cents, got ${unitCents}`);
  }
  if (!Number.isFinite(quantity)) throw new RangeError(`quantity must be finite, got ${quantity}`);
  const { numerator, scale } = asDecimal(Math.abs(quantity));
  const exact = BigInt(Math.abs(unitCents)) * numerator;
  let cents = exact / scale;
  if ((exact % scale) * 2n >= scale) cents += 1n; // half away from zero (on the magnitude)
  const negative = unitCents < 0 !== quantity < 0 && cents !== 0n;
  const result = Number(negative ? -cents : cents);
  if (!Number.isSafeInteger(result)) {
    throw new RangeError(`extended price out of range: ${unitCents} × ${quantity}`);
  }
  return result;
}

/** A non-negative finite number as numerator / 10^k, read from its shortest decimal form. */
function asDecimal(value: number): { numerator: bigint; scale: bigint } {
  if (Number.isInteger(value)) return { numerator: BigInt(value), scale: 1n };
  // String() is the shortest decimal that reads back as the same double (1.005 → "1.005");
  // only quantities below 1e-6 print with an exponent, and those are written out in full.
  const shortest = String(value);
  const text = /e/i.test(shortest) ? value.toFixed(20) : shortest;
  const [whole = '0', fraction = ''] = text.split('.');
  const digits = fraction.replace(/0+$/, '');
  return { numerator: BigInt(whole + digits), scale: 10n ** BigInt(digits.length) };
}

/**
 * Cents as an amount with two decimals, for HL7 NM/MO and for people: 4200 → `"42.00"`,
 * 5 → `"0.05"`, -15 → `"-0.15"`.
 * @throws RangeError when `cents` is not a whole number (a fraction of a cent is a bug upstream).
 */
export function formatCents(cents: number): string {
  if (!Number.isSafeInteger(cents)) throw new RangeError(`not a whole number of cents: ${cents}`);
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}
