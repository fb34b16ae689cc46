import { HL7_NULL, type Hl7Segment } from '@ancillary/hl7-core';

/**
 * A field value as the mapper uses it: decoded, trimmed, and '' for absent, empty and the HL7
 * explicit null `""` alike — a lab result has nothing to delete, so "null" means "not sent".
 */
export function fieldValue(
  segment: Hl7Segment | undefined,
  field: number,
  repetition = 1,
  component = 1,
  subcomponent = 1,
): string {
  const v = (segment?.get(field, repetition, component, subcomponent) ?? '').trim();
  return v === HL7_NULL ? '' : v;
}

/** `fieldValue`, or null when it is ''. */
export function optionalValue(
  segment: Hl7Segment | undefined,
  field: number,
  repetition = 1,
  component = 1,
  subcomponent = 1,
): string | null {
  const v = fieldValue(segment, field, repetition, component, subcomponent);
  return v === '' ? null : v;
}
