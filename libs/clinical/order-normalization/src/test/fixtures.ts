import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Hl7Message } from '@ancillary/hl7-core';
import { NormalizationError, type Hl7MessageSource } from '@ancillary/lab-normalization';
import { loadTerminology, type Terminology } from '@ancillary/terminology';

export const FIXTURES = join(__dirname, '..', '..', 'fixtures');

/** The shipped terminology, loaded once per test file. */
export const terminology: Terminology = loadTerminology();

export const SOURCE: Hl7MessageSource = {
  sourceSystem: 'ris-main',
  envelopeId: '0b7e4c1a-2f3d-4e5f-8a9b-0c1d2e3f4a5b',
  receivedAt: Date.UTC(2026, 10, 26, 14, 30, 0),
  payloadDigest: 'fixture-digest',
};

/** A fixture as text (segments separated by CR). */
export function fixtureText(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8');
}

export function parse(text: string): Hl7Message {
  return Hl7Message.parse(text);
}

/** The text without the segments whose line starts with `prefix` (e.g. `PID|`). */
export function withoutSegments(text: string, prefix: string): string {
  return text
    .split('\r')
    .filter((line) => !line.startsWith(prefix))
    .join('\r');
}

/** What `fn` throws, which must be a NormalizationError. */
export function thrown(fn: () => unknown): NormalizationError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(NormalizationError);
  return caught as NormalizationError;
}
