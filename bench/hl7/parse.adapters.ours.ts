/**
 * Our parser, @ancillary/hl7-core, read through its public API only. Two inputs: text (like
 * every JavaScript library here) and bytes (what the MLLP gateway hands it: UTF-8 decoding per
 * MSH-18 included in the time).
 */
import type { Hl7Message, Hl7Segment } from '@ancillary/hl7-core';
import type { BytesParseAdapter, ReadObx5, TextParseAdapter } from './parse.adapters';
import { canonicalObx5 } from './obx5.value';

const API =
  "Hl7Message.parse → segments('OBX') → repetitionCount(5), get(5, rep, comp) until undefined";

/** Every repetition's components, decoded, through `get(field, rep, comp)`. */
function readObx5(obx: Hl7Segment): string[][] {
  const reps: string[][] = [];
  const count = obx.repetitionCount(5);
  for (let r = 1; r <= count; r++) {
    const components: string[] = [];
    for (let c = 1; ; c++) {
      const value = obx.get(5, r, c);
      if (value === undefined) break;
      components.push(value);
    }
    reps.push(components);
  }
  return reps;
}

function reader<Input>(parse: (input: Input) => Hl7Message): ReadObx5<Input> {
  return (input, out) => {
    const message = parse(input);
    for (const obx of message.segments('OBX')) out.push(canonicalObx5(readObx5(obx)));
    return message;
  };
}

/**
 * The same parser read the way a hot loop might: the whole encoded field once (`getRaw(5)`),
 * split on the message's delimiters, each component decoded with the exported `unescapeValue`.
 * Shows how much of the time is the per-component `get` API rather than the parse.
 */
export const OURS_RAW: TextParseAdapter = {
  id: 'ours-raw',
  packageName: '@ancillary/hl7-core',
  api: "Hl7Message.parse → segments('OBX') → getRaw(5) split on delimiters → unescapeValue",
  help: [],
  async load() {
    const { Hl7Message, unescapeValue } = await import('@ancillary/hl7-core');
    return (text: string, out) => {
      const message = Hl7Message.parse(text);
      const d = message.delimiters;
      const charset = message.charsetCodec;
      for (const obx of message.segments('OBX')) {
        const raw = obx.getRaw(5) ?? '';
        const reps = raw
          .split(d.repetition)
          .map((rep) => rep.split(d.component).map((c) => unescapeValue(c, d, charset)));
        out.push(canonicalObx5(reps));
      }
      return message;
    };
  },
};

export const OURS_TEXT: TextParseAdapter = {
  id: 'ours',
  packageName: '@ancillary/hl7-core',
  api: API,
  help: [],
  async load() {
    const { Hl7Message } = await import('@ancillary/hl7-core');
    return reader((text: string) => Hl7Message.parse(text));
  },
};

/**
 * Bytes in: the worker hands this reader the UTF-8 encoding of each message (made once, before
 * timing), so the time includes charset decoding, as on the MLLP path.
 */
export const OURS_BYTES: BytesParseAdapter = {
  id: 'ours-bytes',
  packageName: '@ancillary/hl7-core',
  api: `${API}; input: UTF-8 bytes (Buffer), decoded per MSH-18`,
  help: [],
  input: 'bytes',
  async load() {
    const { Hl7Message } = await import('@ancillary/hl7-core');
    return reader((bytes: Uint8Array) => Hl7Message.parse(bytes));
  },
};
