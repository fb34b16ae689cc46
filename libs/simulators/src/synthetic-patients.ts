/**
 * Synthetic patients and ordering providers: made-up names and numbers from a seeded PRNG, never
 * real people. A pool, so that one patient gets several results over a run (as in a ward), which
 * exercises the chart's patient matching.
 */
import type { SeededRandom } from './seeded-random';

export interface SyntheticPatient {
  /** PID-3.1, the medical record number. */
  readonly mrn: string;
  /** PID-3.4, the assigning authority (namespace id). */
  readonly assigningAuthority: string;
  readonly familyName: string;
  readonly givenName: string;
  /** May be ''. */
  readonly middleName: string;
  /** YYYYMMDD. */
  readonly birthDate: string;
  /** HL7 table 0001: F, M, U. */
  readonly sex: 'F' | 'M' | 'U';
  /** PV1-2 patient class (table 0004): I inpatient, O outpatient, E emergency. */
  readonly patientClass: 'I' | 'O' | 'E';
  /** PV1-3 point of care^room^bed. */
  readonly location: readonly [string, string, string];
}

export interface OrderingProvider {
  readonly id: string;
  readonly familyName: string;
  readonly givenName: string;
}

// Names from many languages; some need Latin-1 or UTF-8 (ü, ñ, ø) and some carry characters HL7
// must not confuse with delimiters (the apostrophe is data, not an escape).
const FAMILY_NAMES = [
  'Abbott',
  'Adeyemi',
  'Andersen',
  'Bauer',
  'Becker',
  'Chen',
  'Dubois',
  'Fernández',
  'Fischer',
  'García',
  'Haddad',
  'Hoffmann',
  'Ivanova',
  'Jansen',
  'Kowalski',
  'Lefèvre',
  'Martin',
  'Meyer',
  'Müller',
  'Nakamura',
  'Nguyen',
  'Novak',
  'Núñez',
  "O'Brien",
  'Okafor',
  'Olsen',
  'Patel',
  'Rossi',
  'Schmidt',
  'Silva',
  'Søndergaard',
  'Tanaka',
  'Walker',
  'Weber',
  'Wright',
  'Zimmermann',
];
const FEMALE_NAMES = [
  'Amelia',
  'Ana',
  'Chloé',
  'Emma',
  'Fatima',
  'Grace',
  'Hanna',
  'Ingrid',
  'Julia',
  'Léa',
  'Maria',
  'Mei',
  'Nora',
  'Olivia',
  'Priya',
  'Sofia',
  'Zoë',
];
const MALE_NAMES = [
  'Adam',
  'Ahmed',
  'Ben',
  'Carlos',
  'David',
  'Erik',
  'François',
  'Hiroshi',
  'Ivan',
  'Jonas',
  'Kwame',
  'Liam',
  'Lukas',
  'Mateo',
  'Noah',
  'Omar',
  'Raj',
  'Søren',
];
const UNITS: readonly (readonly [string, string])[] = [
  ['4W', 'I'],
  ['5E', 'I'],
  ['ICU', 'I'],
  ['CCU', 'I'],
  ['ED', 'E'],
  ['OPC', 'O'],
  ['ONC', 'O'],
  ['DIAB', 'O'],
];
const MIDDLE_INITIALS = ['', '', '', 'A', 'J', 'M', 'R', 'S'];

export function createPatientPool(
  random: SeededRandom,
  size: number,
  assigningAuthority: string,
): SyntheticPatient[] {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`patient pool size must be a positive integer, got ${size}`);
  }
  const patients: SyntheticPatient[] = [];
  const mrns = new Set<string>();
  while (patients.length < size) {
    // 8 digits, leading 4: looks like an MRN, and a pool of thousands rarely collides
    const mrn = `4${random.chars('0123456789', 7)}`;
    if (mrns.has(mrn)) continue;
    mrns.add(mrn);
    const sexRoll = random.next();
    const sex = sexRoll < 0.49 ? 'F' : sexRoll < 0.98 ? 'M' : 'U';
    const given =
      sex === 'F'
        ? random.pick(FEMALE_NAMES)
        : sex === 'M'
          ? random.pick(MALE_NAMES)
          : random.pick([...FEMALE_NAMES, ...MALE_NAMES]);
    const year = random.int(1932, 2023);
    const month = random.int(1, 12);
    const day = random.int(1, 28);
    const [unit, patientClass] = random.pick(UNITS);
    patients.push({
      mrn,
      assigningAuthority,
      familyName: random.pick(FAMILY_NAMES),
      givenName: given,
      middleName: random.pick(MIDDLE_INITIALS),
      birthDate: `${year}${String(month).padStart(2, '0')}${String(day).padStart(2, '0')}`,
      sex,
      patientClass: patientClass as 'I' | 'O' | 'E',
      location: [
        unit,
        patientClass === 'O' ? '' : String(random.int(100, 599)),
        patientClass === 'O' ? '' : random.pick(['A', 'B']),
      ],
    });
  }
  return patients;
}

export function createProviderPool(random: SeededRandom, size = 12): OrderingProvider[] {
  const providers: OrderingProvider[] = [];
  for (let i = 0; i < size; i++) {
    providers.push({
      // NPI-like 10 digits (synthetic)
      id: `1${random.chars('0123456789', 9)}`,
      familyName: random.pick(FAMILY_NAMES),
      givenName: random.pick([...FEMALE_NAMES, ...MALE_NAMES]),
    });
  }
  return providers;
}
