/**
 * HAPI HL7v2 (Java) on the same corpus: fetches the jars with Maven (bench/hl7/hapi/pom.xml, into
 * the git-ignored hapi/target), compiles HapiBench.java with javac, runs one JVM per variant, and
 * checks the values it wrote against the corpus's expected answer.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import type { Corpus } from './corpus.generator';
import { JsonLineProcess } from './json-line.process';
import { compareValues, newResult } from './parse.result';
import type { ParseRunner } from './parse.runner';
import { LineRunner } from './parse.runner';

const run = promisify(execFile);

const HAPI_DIR = join(__dirname, 'hapi');
const LIB_DIR = join(HAPI_DIR, 'target', 'lib');
const CLASSES_DIR = join(HAPI_DIR, 'target', 'classes');
const SOURCE = join(HAPI_DIR, 'HapiBench.java');

export const HAPI_VARIANTS = {
  pipe: 'PipeParser, version structures (v23/v251), default validation; direct Group/Segment walk',
  'pipe-novalidation': 'PipeParser, version structures, no validation; direct Group/Segment walk',
  'generic-novalidation': 'PipeParser with GenericModelClassFactory (no structures), no validation',
  terser: 'PipeParser, version structures, no validation; components read with Terser.get',
} as const;

export type HapiVariant = keyof typeof HAPI_VARIANTS;

export interface HapiOptions {
  readonly warmupSeconds: number;
  /** Folder for the values files. */
  readonly workDir: string;
}

/** JDKs to try: the one on PATH, plus any Temurin under /usr/lib/jvm (newest first). */
export function defaultJavaHomes(): string[] {
  const homes: string[] = [''];
  const jvm = '/usr/lib/jvm';
  if (existsSync(jvm)) {
    for (const name of readdirSync(jvm).sort().reverse()) {
      if (name.startsWith('temurin-') && existsSync(join(jvm, name, 'bin', 'java'))) {
        homes.push(join(jvm, name));
      }
    }
  }
  return homes;
}

function bin(home: string, tool: string): string {
  return home === '' ? tool : join(home, 'bin', tool);
}

function newer(a: string, b: string): boolean {
  return !existsSync(b) || statSync(a).mtimeMs > statSync(b).mtimeMs;
}

/** Jars and classes; returns the classpath, or throws with the reason HAPI cannot run. */
export async function prepareHapi(javaHome: string): Promise<string> {
  const hasJars =
    existsSync(LIB_DIR) && readdirSync(LIB_DIR).some((f) => f.startsWith('hapi-base-'));
  if (!hasJars || newer(join(HAPI_DIR, 'pom.xml'), LIB_DIR)) {
    try {
      await run('mvn', ['-q', '-B', 'dependency:copy-dependencies'], {
        cwd: HAPI_DIR,
        maxBuffer: 16 * 1024 * 1024,
      });
    } catch (error: unknown) {
      throw new Error(`mvn dependency:copy-dependencies failed: ${String(error)}`, {
        cause: error,
      });
    }
  }
  const classpath = [join(LIB_DIR, '*'), CLASSES_DIR].join(delimiter);
  const compiled = join(CLASSES_DIR, 'HapiBench.class');
  if (newer(SOURCE, compiled)) {
    await mkdir(CLASSES_DIR, { recursive: true });
    await run(bin(javaHome, 'javac'), [
      '--release',
      '17',
      '-nowarn',
      '-cp',
      join(LIB_DIR, '*'),
      '-d',
      CLASSES_DIR,
      SOURCE,
    ]);
  }
  return classpath;
}

/** The hapi-base version Maven fetched (from the jar's name). */
function hapiVersion(): string {
  const jar = existsSync(LIB_DIR)
    ? readdirSync(LIB_DIR).find((f) => f.startsWith('hapi-base-'))
    : undefined;
  return jar?.replace(/^hapi-base-/, '').replace(/\.jar$/, '') ?? '?';
}

/** One message per MLLP block, UTF-8. */
export function writeCorpusFile(corpus: Corpus, file: string): void {
  const parts: Buffer[] = [];
  for (const m of corpus.messages) {
    parts.push(Buffer.from([0x0b]), Buffer.from(m.text, 'utf8'), Buffer.from([0x1c, 0x0d]));
  }
  writeFileSync(file, Buffer.concat(parts));
}

/** The values file HapiBench writes: values ended by NUL, messages by 0x01 (0x02 = threw). */
function readValues(file: string): (string[] | null)[] {
  const text = readFileSync(file, 'utf8');
  const messages = text.split('\u0001');
  messages.pop(); // after the last terminator
  return messages.map((m) => {
    if (m.startsWith('\u0002')) return null;
    const values = m.split('\u0000');
    values.pop();
    return values;
  });
}

/** HapiBench's last line. */
interface HapiFinal {
  type: 'result';
  variant: string;
  java: string;
  messages: number;
  values: number;
  errors: number;
  firstError: string | null;
  warmupPasses: number;
  retainedBytes: number;
  kept: number;
  peakRssKb: number;
}

/** One HAPI variant in its own JVM, driven like the Node workers (see parse.runner.ts). */
export function hapiParseRunner(
  corpus: Corpus,
  corpusFile: string,
  classpath: string,
  javaHome: string,
  variant: HapiVariant,
  options: HapiOptions,
  id = `hapi-${variant}`,
): ParseRunner {
  const valuesFile = join(options.workDir, `${id.replace(/[^\w.-]+/g, '_')}.values`);
  const base = newResult({
    id,
    library: `HAPI HL7v2 ${hapiVersion()}`,
    runtime: javaHome === '' ? 'java (PATH)' : javaHome,
    api: HAPI_VARIANTS[variant],
    help: [],
  });
  return new LineRunner<HapiFinal>(
    id,
    () =>
      JsonLineProcess.start(
        bin(javaHome, 'java'),
        [
          '-Xms512m',
          '-Xmx2g',
          '-cp',
          classpath,
          'HapiBench',
          variant,
          corpusFile,
          valuesFile,
          String(options.warmupSeconds),
        ],
        HAPI_DIR,
      ),
    (final, warmupPasses) => {
      const actual = readValues(valuesFile);
      const { mismatches, examples } = compareValues(
        corpus.messages.map((m) => m.expected),
        actual,
      );
      const timed = corpus.messages.filter((_, i) => actual[i] !== null);
      return {
        ...base,
        runtime: final.java,
        status: mismatches > 0 || final.errors > 0 ? 'wrong answer' : 'ok',
        ...(final.firstError ? { reason: final.firstError } : {}),
        mismatches,
        errors: final.errors,
        examples,
        warmupPasses,
        timedMessages: timed.length,
        timedBytes: timed.reduce((n, m) => n + Buffer.byteLength(m.text, 'utf8'), 0),
        retainedBytesPerMessage: final.kept > 0 ? final.retainedBytes / final.kept : 0,
        ...(final.peakRssKb > 0 ? { peakRssMiB: final.peakRssKb / 1024 } : {}),
      };
    },
    (reason) => ({ ...base, status: 'failed', reason }),
  );
}
