/**
 * One adapter per parser: parse a message, read every OBX-5, hand back canonical values
 * (obx5.value.ts). Each adapter uses the library's own API the way its README shows, taking the
 * fastest documented route to the field; where a library lacks a step (escape decoding,
 * repetitions) the adapter adds it with shared code, and says so in `help`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SimpleHl7Component, SimpleHl7Field } from 'simple-hl7';
import { canonicalObx5, decodeHl7Escapes } from './obx5.value';

/**
 * Parses one message and appends the canonical OBX-5 of each OBX, in order, to `out`. Returns
 * the library's parsed message, so the harness can measure what it keeps on the heap.
 */
export type ReadObx5<Input = string> = (input: Input, out: string[]) => unknown;

interface AdapterInfo {
  /** Short id used on the command line (`--only=medplum`). */
  readonly id: string;
  /** npm package (or our workspace library) whose parser is measured. */
  readonly packageName: string;
  /** The calls used. */
  readonly api: string;
  /** What the harness does for the library, if anything (shown in the table notes). */
  readonly help: readonly string[];
}

/** Takes each message as a JavaScript string (every library here). */
export interface TextParseAdapter extends AdapterInfo {
  readonly input?: 'text';
  /** The reader; rejects when the library cannot be loaded. */
  load(): Promise<ReadObx5>;
}

/** Takes each message as its UTF-8 bytes (what arrives from MLLP). */
export interface BytesParseAdapter extends AdapterInfo {
  readonly input: 'bytes';
  load(): Promise<ReadObx5<Uint8Array>>;
}

export type ParseAdapter = TextParseAdapter | BytesParseAdapter;

/** Version of an installed package, read from its package.json (exports maps may hide it). */
export function installedVersion(packageName: string): string | undefined {
  try {
    const pkg = JSON.parse(
      readFileSync(join(process.cwd(), 'node_modules', packageName, 'package.json'), 'utf8'),
    ) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : undefined;
  } catch {
    return undefined;
  }
}

const SHARED_DECODER = 'escapes decoded by the shared decoder (library returns raw text)';

const medplum: TextParseAdapter = {
  id: 'medplum',
  packageName: '@medplum/core',
  api: "Hl7Message.parse → getAllSegments('OBX') → getField(5).components",
  help: [SHARED_DECODER],
  async load() {
    const { Hl7Message } = await import('@medplum/core');
    return (text, out) => {
      const message = Hl7Message.parse(text);
      for (const obx of message.getAllSegments('OBX')) {
        const reps = obx.getField(5).components;
        out.push(canonicalObx5(reps.map((rep) => rep.map(decodeHl7Escapes))));
      }
      return message;
    };
  },
};

const simpleHl7: TextParseAdapter = {
  id: 'simple-hl7',
  packageName: 'simple-hl7',
  api: "new Parser().parse → getSegments('OBX') → fields[4].value",
  help: [SHARED_DECODER],
  async load() {
    const { Parser } = await import('simple-hl7');
    const parser = new Parser();
    const component = (c: SimpleHl7Component): string => {
      const v = c.value[0];
      return decodeHl7Escapes(Array.isArray(v) ? v.join('&') : (v ?? ''));
    };
    const repetitions = (field: SimpleHl7Field, into: string[][]): void => {
      for (const v of field.value) {
        if (Array.isArray(v)) into.push(v.map(component));
        else repetitions(v, into);
      }
    };
    return (text, out) => {
      const message = parser.parse(text);
      for (const obx of message.getSegments('OBX')) {
        const reps: string[][] = [];
        const field = obx.fields[4];
        if (field) repetitions(field, reps);
        out.push(canonicalObx5(reps));
      }
      return message;
    };
  },
};

/** hl7parser and node-hl7-client share a design (node-hl7-client started from hl7parser). */
interface TreeNode {
  forEach(callback: (node: TreeNode, index: number) => void): void;
  toString(): string;
}

function readTreeField(field: TreeNode): string[][] {
  const reps: string[][] = [];
  field.forEach((rep) => {
    const components: string[] = [];
    rep.forEach((component) => components.push(component.toString()));
    reps.push(components);
  });
  return reps;
}

const nodeHl7Client: TextParseAdapter = {
  id: 'node-hl7-client',
  packageName: 'node-hl7-client',
  api: "new Message({ text }) → get('OBX').forEach → get(5) → repetitions/components toString()",
  help: [],
  async load() {
    const { Message } = await import('node-hl7-client');
    return (text, out) => {
      const message = new Message({ text });
      message.get('OBX').forEach((obx) => {
        out.push(canonicalObx5(readTreeField(obx.get(5))));
      });
      return message;
    };
  },
};

const hl7parser: TextParseAdapter = {
  id: 'hl7parser',
  packageName: 'hl7parser',
  api: "create(text) → get('OBX').forEach → get(5) → repetitions/components toString()",
  help: [
    "the message's final CR is cut off by the adapter (the library throws 'Segment must have a name.' on the empty segment after it)",
  ],
  async load() {
    const { create } = await import('hl7parser');
    return (text, out) => {
      const message = create(text.endsWith('\r') ? text.slice(0, -1) : text);
      message.get('OBX').forEach((obx) => {
        out.push(canonicalObx5(readTreeField(obx.get(5))));
      });
      return message;
    };
  },
};

const hl7Standard: TextParseAdapter = {
  id: 'hl7-standard',
  packageName: 'hl7-standard',
  api: "new HL7(text).transform() → getSegments('OBX') → data['OBX.5']",
  help: [SHARED_DECODER],
  async load() {
    const { default: HL7 } = await import('hl7-standard');
    const text = (v: string | string[] | undefined): string =>
      decodeHl7Escapes(Array.isArray(v) ? v.join('&') : (v ?? ''));
    const components = (v: string | Record<string, string | string[]>): string[] =>
      typeof v === 'string' ? [text(v)] : Object.values(v).map(text);
    return (message, out) => {
      const hl7 = new HL7(message);
      hl7.transform();
      for (const obx of hl7.getSegments('OBX')) {
        const field = obx.data['OBX.5'] ?? '';
        let reps: string[][];
        if (Array.isArray(field)) {
          // Objects are repetitions (the text had `~`); plain strings are `&` subcomponents.
          const strings = field.filter((v) => typeof v === 'string');
          reps = strings.length === field.length ? [[text(strings)]] : field.map(components);
        } else {
          reps = [components(field)];
        }
        out.push(canonicalObx5(reps));
      }
      return hl7;
    };
  },
};

const tinyHl7: TextParseAdapter = {
  id: 'tiny-hl7',
  packageName: 'tiny-hl7',
  api: "parse(text) → segment objects → 'OBX.5' / 'OBX.5.n' keys",
  help: [
    'repetitions split by the adapter (library has no `~` support)',
    '\\R\\ decoded by the adapter (library decodes \\F\\ \\S\\ \\T\\ \\E\\ only)',
  ],
  async load() {
    const tiny = await import('tiny-hl7');
    const unescapeRepetition = (s: string): string => s.replaceAll('\\R\\', '~');
    return (text, out) => {
      const segments = tiny.parse(text);
      for (const segment of segments) {
        if (segment['OBX.1'] === undefined) continue;
        // tiny-hl7 splits on `^` only, so a `~` left in a component is a repetition boundary.
        const parts: string[] = [];
        const whole = segment['OBX.5'];
        if (whole !== undefined) parts.push(whole);
        else
          for (let c = 1; segment[`OBX.5.${c}`] !== undefined; c++)
            parts.push(segment[`OBX.5.${c}`] ?? '');
        const reps: string[][] = [[]];
        for (const part of parts) {
          const pieces = part.split('~');
          reps[reps.length - 1]?.push(unescapeRepetition(pieces[0] ?? ''));
          for (let i = 1; i < pieces.length; i++) reps.push([unescapeRepetition(pieces[i] ?? '')]);
        }
        out.push(canonicalObx5(reps));
      }
      return segments;
    };
  },
};

export const THIRD_PARTY_ADAPTERS: readonly TextParseAdapter[] = [
  medplum,
  simpleHl7,
  nodeHl7Client,
  hl7parser,
  hl7Standard,
  tinyHl7,
];
