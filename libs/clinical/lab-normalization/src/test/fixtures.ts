import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Hl7Message } from '@ancillary/hl7-core';
import { loadTerminology, type Terminology } from '@ancillary/terminology';
import type { LabResult } from '@ancillary/contracts';
import { normalizeLabMessage, type LabMessageSource } from '../lab-result.mapper';
import { NormalizationError } from '../normalization.errors';

export const FIXTURES = join(__dirname, '..', '..', 'fixtures');

/** The shipped terminology, loaded once per test file. */
export const terminology: Terminology = loadTerminology();

export const SOURCE: LabMessageSource = {
  sourceSystem: 'lab-gateway/NWH-LAB',
  envelopeId: '6c1f2a9e-0d4b-4d3e-9a51-1f2f3a4b5c6d',
  receivedAt: Date.UTC(2026, 10, 15, 13, 31, 0),
  payloadDigest: 'fixture-digest',
};

/** A fixture's bytes, parsed as the gateway would (charset from MSH-18). */
export function fixtureMessage(name: string): Hl7Message {
  return Hl7Message.parse(readFileSync(join(FIXTURES, name)));
}

/** A fixture as text (segments separated by CR), for tests that edit a segment. */
export function fixtureText(name: string): string {
  return readFileSync(join(FIXTURES, name), 'latin1');
}

/**
 * Replaces the `occurrence`-th segment starting with `prefix` (e.g. `OBX|3|`) by `replacement`,
 * or removes it when `replacement` is null.
 */
export function editSegment(
  text: string,
  prefix: string,
  replacement: string | null,
  occurrence = 1,
): string {
  const segments = text.split('\r');
  let seen = 0;
  const index = segments.findIndex((s) => s.startsWith(prefix) && ++seen === occurrence);
  if (index === -1) throw new Error(`no segment starting with ${prefix}`);
  if (replacement === null) segments.splice(index, 1);
  else segments[index] = replacement;
  return segments.join('\r');
}

export function normalizeText(
  text: string,
  options: { defaultTimeZone?: string } = { defaultTimeZone: 'America/New_York' },
): LabResult[] {
  return normalizeLabMessage(Hl7Message.parse(text), SOURCE, terminology, options);
}

export function normalizeFixture(name: string): LabResult[] {
  return normalizeLabMessage(fixtureMessage(name), SOURCE, terminology, {
    defaultTimeZone: 'America/New_York',
  });
}

/** The NormalizationError a call throws (fails the test when it throws nothing or another error). */
export function normalizationError(fn: () => unknown): NormalizationError {
  try {
    fn();
  } catch (error) {
    if (error instanceof NormalizationError) return error;
    throw error;
  }
  throw new Error('expected a NormalizationError');
}
