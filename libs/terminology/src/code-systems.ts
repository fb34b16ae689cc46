/** Code system URIs the platform writes into `Coding.system` (FHIR R4 canonical URIs). */
export const LOINC_SYSTEM = 'http://loinc.org';
export const UCUM_SYSTEM = 'http://unitsofmeasure.org';
export const SNOMED_SYSTEM = 'http://snomed.info/sct';
/** CPT (procedures, here imaging studies); HL7 v2 name `C4`. */
export const CPT_SYSTEM = 'http://www.ama-assn.org/go/cpt';
/** RxNorm (clinical drugs, SCD/SBD concepts); HL7 v2 name `RXNORM`. */
export const RXNORM_SYSTEM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
/** National Drug Code (the dispensed package, 11-digit 5-4-2); HL7 v2 name `NDC`. */
export const NDC_SYSTEM = 'http://hl7.org/fhir/sid/ndc';
/** ICD-10-CM (order reasons, DG1); HL7 v2 name `I10`. */
export const ICD10CM_SYSTEM = 'http://hl7.org/fhir/sid/icd-10-cm';
/** HL7 v2 table 0487 specimen type (SPM-4, `SER`, `BLD`, `UR`…). */
export const V2_0487_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v2-0487';
/** FHIR v3 ObservationInterpretation, the target of HL7 v2 table 0078 abnormal flags. */
export const V3_INTERPRETATION_SYSTEM =
  'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';

/**
 * The FHIR URI of a coding system named the HL7 v2 way (table 0396: `LN`, `C4`, `RXNORM`,
 * `NDC`, `I10`, `SCT`, `UCUM`, `HL70487`…), or undefined when the name is not a standard one
 * (`L`, `99xxx`: a local system, resolved per sending facility by `Terminology.codeSystemUri`).
 * A few spellings senders use instead of the table 0396 name (`CPT`, `RXN`, `ICD10CM`) are
 * accepted too.
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
    case 'C4':
    case 'CPT':
    case 'CPT4':
    case 'CPT-4':
      return CPT_SYSTEM;
    case 'RXNORM':
    case 'RXN':
      return RXNORM_SYSTEM;
    case 'NDC':
      return NDC_SYSTEM;
    case 'I10':
    case 'I10C':
    case 'ICD10CM':
    case 'ICD-10-CM':
      return ICD10CM_SYSTEM;
    default: {
      const table = /^HL7(\d{4})$/.exec(name);
      return table ? `http://terminology.hl7.org/CodeSystem/v2-${table[1] ?? ''}` : undefined;
    }
  }
}

/** Table 0396 names of the standard systems we write into outbound HL7 v2 messages. */
const HL7_NAMES: Readonly<Record<string, string>> = {
  [LOINC_SYSTEM]: 'LN',
  [CPT_SYSTEM]: 'C4',
  [RXNORM_SYSTEM]: 'RXNORM',
  [NDC_SYSTEM]: 'NDC',
  [ICD10CM_SYSTEM]: 'I10',
  [SNOMED_SYSTEM]: 'SCT',
  [UCUM_SYSTEM]: 'UCUM',
};

/**
 * The HL7 v2 coding-system name (table 0396) of a FHIR code system URI, for the CE/CWE third
 * component of outbound messages (OBR-4 `…^LN`, RXE-2 `…^NDC`, OBR-31 `…^I10`): the reverse of
 * {@link standardCodeSystemUri}. `http://terminology.hl7.org/CodeSystem/v2-nnnn` gives
 * `HL7nnnn`. Undefined for any other URI (a local system: the ancillary's own name, e.g. `L`,
 * comes from the table row, not from here).
 * @see https://terminology.hl7.org/CodeSystem-v2-0396.html
 */
export function hl7CodeSystemName(uri: string): string | undefined {
  const key = uri.trim();
  const name = HL7_NAMES[key];
  if (name) return name;
  const table = /^http:\/\/terminology\.hl7\.org\/CodeSystem\/v2-(\d{4})$/.exec(key);
  return table ? `HL7${table[1] ?? ''}` : undefined;
}

/** Whether an HL7 v2 coding-system name (or URI) means LOINC: `LN` (table 0396), `LOINC`. */
export function isLoincSystem(hl7System: string): boolean {
  const name = hl7System.trim().toUpperCase();
  return name === 'LN' || name === 'LOINC' || name === LOINC_SYSTEM.toUpperCase();
}

/** Whether an HL7 v2 coding-system name (or URI) means CPT: `C4` (table 0396), `CPT`. */
export function isCptSystem(hl7System: string): boolean {
  return standardCodeSystemUri(hl7System) === CPT_SYSTEM || hl7System.trim() === CPT_SYSTEM;
}

/** Whether a CPT code is well formed: five characters, digits or a final letter (`71046`, `0001F`). */
export function isValidCptCode(code: string): boolean {
  return /^\d{4}[0-9A-Z]$/.test(code);
}

/**
 * Whether an RxNorm concept id looks right (digits only, 1–9 of them; RxNorm has no check
 * digit, so a mistyped id can only be caught by review).
 */
export function isValidRxnormCode(code: string): boolean {
  return /^[1-9]\d{0,8}$/.test(code);
}

/**
 * An NDC in the 11-digit 5-4-2 form with hyphens (`00071-0155-23`), from any of the forms
 * labels and senders use: 11 digits without hyphens, or the 10-digit 4-4-2, 5-3-2 or 5-4-1
 * forms with hyphens (the short segment is padded with a leading zero, the HIPAA rule).
 * Undefined when the text is no NDC. A 10-digit NDC without hyphens is ambiguous and refused.
 * @see https://www.fda.gov/drugs/drug-approvals-and-databases/national-drug-code-directory
 */
export function normalizeNdc(ndc: string): string | undefined {
  const text = ndc.trim();
  let parts: [string, string, string] | undefined;
  const hyphenated = /^(\d{4,5})-(\d{3,4})-(\d{1,2})$/.exec(text);
  if (hyphenated) {
    const [, labeler = '', product = '', pack = ''] = hyphenated;
    const digits = labeler.length + product.length + pack.length;
    if (digits !== 10 && digits !== 11) return undefined;
    parts = [labeler.padStart(5, '0'), product.padStart(4, '0'), pack.padStart(2, '0')];
    if (digits === 11 && (labeler.length !== 5 || product.length !== 4)) return undefined;
  } else if (/^\d{11}$/.test(text)) {
    parts = [text.slice(0, 5), text.slice(5, 9), text.slice(9)];
  }
  return parts ? parts.join('-') : undefined;
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
