/**
 * The answer every parser must give: for each OBX, its OBX-5 as repetitions of components,
 * escape sequences decoded. Two parsers agree when their canonical strings are equal.
 *
 * Decoding follows HL7 v2.5.1 ch. 2.7.1 for the delimiter escapes (\F\ \S\ \T\ \R\ \E\).
 * Formatting commands such as \.br\ (ch. 2.7.6, FT only) are display mark-up, not characters:
 * they stay in the value verbatim, which is what every library that decodes at all does.
 */

/** Repetitions (outer) of components (inner), decoded text. */
export type Obx5Value = readonly (readonly string[])[];

const COMPONENT_MARK = '\u001f';
const REPETITION_MARK = '\u001e';

/**
 * One string per OBX-5; the marks cannot occur in HL7 text data. Trailing empty components are
 * dropped: HL7 lets a sender omit them (v2.5.1 ch. 2.5.3), and structured parsers such as HAPI
 * hand back every component of the data type.
 */
export function canonicalObx5(value: Obx5Value): string {
  let out = '';
  for (let r = 0; r < value.length; r++) {
    if (r > 0) out += REPETITION_MARK;
    const rep = value[r] ?? [];
    let last = rep.length - 1;
    while (last >= 0 && !rep[last]) last--;
    for (let c = 0; c <= last; c++) {
      if (c > 0) out += COMPONENT_MARK;
      out += rep[c] ?? '';
    }
  }
  return out;
}

/** Readable form of a canonical value, for mismatch examples. */
export function showCanonical(value: string): string {
  return JSON.stringify(value.replaceAll(REPETITION_MARK, '~').replaceAll(COMPONENT_MARK, '^'));
}

/**
 * The shared escape decoder, used for libraries that hand back raw text. One pass; an unknown
 * sequence or an unterminated escape is kept as it is.
 */
export function decodeHl7Escapes(text: string): string {
  let start = text.indexOf('\\');
  if (start < 0) return text;
  let out = '';
  let from = 0;
  while (start >= 0) {
    const end = text.indexOf('\\', start + 1);
    if (end < 0) break;
    const seq = text.slice(start + 1, end);
    let decoded: string | undefined;
    switch (seq) {
      case 'F':
        decoded = '|';
        break;
      case 'S':
        decoded = '^';
        break;
      case 'T':
        decoded = '&';
        break;
      case 'R':
        decoded = '~';
        break;
      case 'E':
        decoded = '\\';
        break;
      default:
        decoded = undefined;
    }
    if (decoded === undefined) {
      // Not a delimiter escape (e.g. \.br\): keep it whole and go on after it.
      out += text.slice(from, end + 1);
    } else {
      out += text.slice(from, start) + decoded;
    }
    from = end + 1;
    start = text.indexOf('\\', from);
  }
  return out + text.slice(from);
}
