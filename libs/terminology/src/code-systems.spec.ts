import {
  LOINC_SYSTEM,
  SNOMED_SYSTEM,
  UCUM_SYSTEM,
  isLoincSystem,
  isValidLoincCode,
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
