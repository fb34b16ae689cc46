import {
  CPT_SYSTEM,
  ICD10CM_SYSTEM,
  LOINC_SYSTEM,
  NDC_SYSTEM,
  RXNORM_SYSTEM,
  SNOMED_SYSTEM,
  UCUM_SYSTEM,
  V2_0487_SYSTEM,
  hl7CodeSystemName,
  isCptSystem,
  isLoincSystem,
  isValidCptCode,
  isValidLoincCode,
  isValidRxnormCode,
  normalizeNdc,
  standardCodeSystemUri,
} from './code-systems';

describe('isValidLoincCode', () => {
  it.each(['2345-7', '2823-3', '718-7', '6690-2', '10839-9', '24323-8', '51990-0', '58410-2'])(
    'accepts %s',
    (code) => {
      expect(isValidLoincCode(code)).toBe(true);
    },
  );

  it.each([
    ['2345-8', 'wrong check digit'],
    ['2354-7', 'swapped digits'],
    ['2345', 'no check digit'],
    ['2345-77', 'two check digits'],
    ['12345678-9', 'too long'],
    [' 2345-7', 'leading space'],
    ['GLU', 'not a LOINC'],
  ])('refuses %s (%s)', (code) => {
    expect(isValidLoincCode(code)).toBe(false);
  });
});

describe('standardCodeSystemUri', () => {
  it.each([
    ['LN', LOINC_SYSTEM],
    ['ln', LOINC_SYSTEM],
    ['LOINC', LOINC_SYSTEM],
    ['SCT', SNOMED_SYSTEM],
    ['UCUM', UCUM_SYSTEM],
    ['HL70487', 'http://terminology.hl7.org/CodeSystem/v2-0487'],
    ['HL70078', 'http://terminology.hl7.org/CodeSystem/v2-0078'],
    ['C4', CPT_SYSTEM],
    ['CPT', CPT_SYSTEM],
    ['RXNORM', RXNORM_SYSTEM],
    ['RxNorm', RXNORM_SYSTEM],
    ['NDC', NDC_SYSTEM],
    ['I10', ICD10CM_SYSTEM],
    ['ICD10CM', ICD10CM_SYSTEM],
  ])('%s is %s', (name, uri) => {
    expect(standardCodeSystemUri(name)).toBe(uri);
  });

  it.each(['L', '99EAST', '', 'HL7487'])('%j is not a standard system', (name) => {
    expect(standardCodeSystemUri(name)).toBeUndefined();
  });

  it('recognises LOINC by name or URI', () => {
    expect(isLoincSystem(' LN ')).toBe(true);
    expect(isLoincSystem('http://loinc.org')).toBe(true);
    expect(isLoincSystem('L')).toBe(false);
  });
});

describe('hl7CodeSystemName', () => {
  it.each([
    [LOINC_SYSTEM, 'LN'],
    [CPT_SYSTEM, 'C4'],
    [RXNORM_SYSTEM, 'RXNORM'],
    [NDC_SYSTEM, 'NDC'],
    [ICD10CM_SYSTEM, 'I10'],
    [SNOMED_SYSTEM, 'SCT'],
    [UCUM_SYSTEM, 'UCUM'],
    [V2_0487_SYSTEM, 'HL70487'],
  ])('%s is %s, and back', (uri, name) => {
    expect(hl7CodeSystemName(uri)).toBe(name);
    expect(standardCodeSystemUri(name)).toBe(uri);
  });

  it.each([
    'http://northwind-hospital.example.org/fhir/CodeSystem/lab-local',
    'LN',
    '',
    'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation',
  ])('%j has no table 0396 name', (uri) => {
    expect(hl7CodeSystemName(uri)).toBeUndefined();
  });
});

describe('CPT and RxNorm codes', () => {
  it('recognises CPT by name or URI', () => {
    expect(isCptSystem('C4')).toBe(true);
    expect(isCptSystem(' cpt ')).toBe(true);
    expect(isCptSystem(CPT_SYSTEM)).toBe(true);
    expect(isCptSystem('L')).toBe(false);
  });

  it.each(['71046', '70450', '0001F', '0042T'])('accepts CPT %s', (code) => {
    expect(isValidCptCode(code)).toBe(true);
  });

  it.each(['7104', '710466', 'A1046', '71046 ', '7104f'])('refuses CPT %j', (code) => {
    expect(isValidCptCode(code)).toBe(false);
  });

  it('accepts RxNorm concept ids: digits only', () => {
    expect(isValidRxnormCode('197361')).toBe(true);
    expect(isValidRxnormCode('1665021')).toBe(true);
    expect(isValidRxnormCode('0197361')).toBe(false);
    expect(isValidRxnormCode('19736A')).toBe(false);
    expect(isValidRxnormCode('')).toBe(false);
  });
});

describe('normalizeNdc', () => {
  it.each([
    ['12345-6789-01', '12345-6789-01', '11 digits 5-4-2'],
    ['12345678901', '12345-6789-01', '11 digits without hyphens'],
    [' 12345-6789-01 ', '12345-6789-01', 'spaces around'],
    ['1234-5678-90', '01234-5678-90', '10 digits 4-4-2'],
    ['12345-678-90', '12345-0678-90', '10 digits 5-3-2'],
    ['12345-6789-0', '12345-6789-00', '10 digits 5-4-1'],
  ])('%s is %s (%s)', (ndc, normalized) => {
    expect(normalizeNdc(ndc)).toBe(normalized);
  });

  it.each([
    ['1234567890', 'ambiguous 10 digits without hyphens'],
    ['123-4567-89', 'labeler of 3 digits'],
    ['1234-567-89', '9 digits'],
    ['12345-6789-012', 'package of 3 digits'],
    ['12345-6789', 'two segments'],
    ['ABCDE-6789-01', 'letters'],
    ['', 'empty'],
  ])('refuses %j (%s)', (ndc) => {
    expect(normalizeNdc(ndc)).toBeUndefined();
  });
});
