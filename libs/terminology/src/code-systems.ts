/** Code system URIs the platform writes into `Coding.system` (FHIR R4 canonical URIs). */
export const LOINC_SYSTEM = 'http://loinc.org';
export const UCUM_SYSTEM = 'http://unitsofmeasure.org';
export const SNOMED_SYSTEM = 'http://snomed.info/sct';
/** FHIR v3 ObservationInterpretation, the target of HL7 v2 table 0078 abnormal flags. */
export const V3_INTERPRETATION_SYSTEM =
  'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';

/**
 * The FHIR URI of a coding system named the HL7 v2 way (table 0396: `LN`, `SCT`, `UCUM`,
 * `HL70487`…), or undefined when the name is not a standard one (`L`, `99xxx`: a local system,
 * resolved per sending facility by `Terminology.codeSystemUri`).
 * @see https://terminology.hl7.org/CodeSystem-v2-0396.html
 */
export function standardCodeSystemUri(hl7System: string): string | undefined {
  const name = hl7System.trim().toUpperCase();
  if (isLoincSystem(name)) return LOINC_SYSTEM;
  switch (name) {
    case 'SCT':
    case 'SNOMED':
    case 'SNOMEDCT':
    case 'SNOMED-CT':
      return SNOMED_SYSTEM;
    case 'UCUM':
      return UCUM_SYSTEM;
    default: {
      const table = /^HL7(\d{4})$/.exec(name);
      return table ? `http://terminology.hl7.org/CodeSystem/v2-${table[1] ?? ''}` : undefined;
    }
  }
}

/** Whether an HL7 v2 coding-system name (or URI) means LOINC: `LN` (table 0396), `LOINC`. */
export function isLoincSystem(hl7System: string): boolean {
  const name = hl7System.trim().toUpperCase();
  return name === 'LN' || name === 'LOINC' || name === LOINC_SYSTEM.toUpperCase();
}

/**
 * Whether a LOINC code is well formed and its check digit right (LOINC Users' Guide, "Mod 10"
 * check digit, the same arithmetic as Luhn): a mistyped digit in a table row is caught at load.
 */
export function isValidLoincCode(code: string): boolean {
  const match = /^(\d{1,7})-(\d)$/.exec(code);
  if (!match) return false;
  const digits = match[1] ?? '';
  let sum = 0;
  // From the rightmost digit: odd positions are doubled (digits of the product summed).
  for (let i = digits.length - 1, position = 1; i >= 0; i--, position++) {
    let d = digits.charCodeAt(i) - 48;
    if (position % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10 === Number(match[2]);
}
