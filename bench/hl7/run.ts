/**
 * HL7 benchmark: our parser and MLLP transport against the libraries people use today, side by
 * side, on the same generated input, answers checked. Prints two Markdown tables and writes
 * reports/bench-hl7.json. See docs/benchmarks.md.
 *
 *   npm run bench:hl7 [-- --quick] [-- --only=ours,medplum] [-- --no-hapi] [-- --no-mllp]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import type { CorpusOptions } from './corpus.generator';
import { DEFAULT_CORPUS, generateCorpus } from './corpus.generator';
import type { HapiVariant } from './hapi.runner';
import {
  defaultJavaHomes,
  HAPI_VARIANTS,
  hapiParseRunner,
  prepareHapi,
  writeCorpusFile,
} from './hapi.runner';
import type { MllpImplementation, MllpRunResult } from './mllp.bench';
import { runMllpScenario } from './mllp.bench';
import { ALL_ADAPTERS } from './parse.adapters.all';
import type { ParseRunResult } from './parse.result';
import { failedResult, median, throughput } from './parse.result';
import type { ParseRunner } from './parse.runner';
import { nodeParseRunner } from './parse.runner';
import { mllpTable, parseNotes, parseTable, sortParseResults } from './report.table';

const ROOT = resolve(__dirname, '..', '..');
const OURS = 'ours';

interface Options {
  corpus: CorpusOptions;
  warmupSeconds: number;
  passes: number;
  only: string[] | undefined;
  parse: boolean;
  hapi: boolean;
  hapiWarmupSeconds: number;
  mllp: boolean;
  mllpMessages: number;
  mllpMaxSeconds: number;
  mllpRepeats: number;
  report: string;
}

const USAGE = `Options (all optional):
  --quick                 small run to try the harness (1,000 messages, 3 passes, 2,000 round trips)
  --messages=N            corpus size (default ${DEFAULT_CORPUS.messages})
  --seed=N                corpus seed (default ${DEFAULT_CORPUS.seed})
  --passes=N              timed passes per parser, taken in turns with the others (default 15)
  --warmup=S              warm-up seconds per JS parser (default 2; HAPI gets 8)
  --only=a,b              only these parser ids (${ALL_ADAPTERS.map((a) => a.id).join(', ')}, hapi)
  --no-parse              skip the parse table
  --no-hapi               skip HAPI (Java)
  --no-mllp               skip the MLLP round trips
  --mllp-messages=N       round trips per MLLP scenario (default 20000)
  --report=FILE           JSON report (default reports/bench-hl7.json)`;

function parseOptions(argv: readonly string[]): Options {
  const options: Options = {
    corpus: { ...DEFAULT_CORPUS },
    warmupSeconds: 2,
    passes: 15,
    only: undefined,
    parse: true,
    hapi: true,
    hapiWarmupSeconds: 8,
    mllp: true,
    mllpMessages: 20_000,
    mllpMaxSeconds: 120,
    mllpRepeats: 3,
    report: join(ROOT, 'reports', 'bench-hl7.json'),
  };
  const positive = (name: string, value: string | undefined): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0)
      throw new Error(`--${name} needs a positive number\n${USAGE}`);
    return n;
  };
  for (const arg of argv) {
    const [name, value] = arg.replace(/^--/, '').split('=', 2) as [string, string | undefined];
    switch (name) {
      case 'quick':
        options.corpus = { ...options.corpus, messages: 1000 };
        options.passes = 3;
        options.warmupSeconds = 0.5;
        options.hapiWarmupSeconds = 3;
        options.mllpMessages = 2000;
        options.mllpRepeats = 1;
        break;
      case 'messages':
        options.corpus = { ...options.corpus, messages: Math.floor(positive(name, value)) };
        break;
      case 'seed':
        options.corpus = { ...options.corpus, seed: Math.floor(positive(name, value)) };
        break;
      case 'passes':
        options.passes = Math.floor(positive(name, value));
        break;
      case 'warmup':
        options.warmupSeconds = positive(name, value);
        break;
      case 'only':
        options.only = (value ?? '').split(',').filter((s) => s !== '');
        break;
      case 'no-parse':
        options.parse = false;
        break;
      case 'no-hapi':
        options.hapi = false;
        break;
      case 'no-mllp':
        options.mllp = false;
        break;
      case 'mllp-messages':
        options.mllpMessages = Math.floor(positive(name, value));
        break;
      case 'report':
        options.report = resolve(value ?? options.report);
        break;
      case 'help':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${arg}\n${USAGE}`);
    }
  }
  return options;
}

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

function progress(text: string): void {
  process.stderr.write(`… ${text}\n`);
}

/** First line of `java -version` (which writes to stderr). */
function javaVersionLine(home: string): string {
  const result = spawnSync(home === '' ? 'java' : join(home, 'bin', 'java'), ['-version'], {
    encoding: 'utf8',
  });
  if (result.error) return `not found (${result.error.message})`;
  return result.stderr.trim().split('\n')[0] ?? '?';
}

/** The commit measured, and whether our libraries had uncommitted changes. */
function revision(): { commit: string; hl7LibsModified: boolean } {
  const git = (args: string[]): string =>
    spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  return {
    commit: git(['rev-parse', '--short', 'HEAD']) || '?',
    hl7LibsModified: git(['status', '--porcelain', '--', 'libs/hl7', 'libs/retry']) !== '',
  };
}

function machine(): Record<string, unknown> {
  const meminfo = readFileSync('/proc/meminfo', 'utf8');
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? '?',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    memAvailable: /MemAvailable:\s+(\d+ kB)/.exec(meminfo)?.[1] ?? '?',
    node: process.version,
    loadAverage: loadavg(),
  };
}

/**
 * Starts (answer check + warm-up) each runner in turn, then times one pass of every runner per
 * round, round after round, the order rotating; then collects each runner's result. A burst of
 * other load on the machine thus falls on every parser alike, and the ratio to ours is taken
 * within each round.
 */
async function timeParsers(
  runners: readonly ParseRunner[],
  passes: number,
  corpusMessages: number,
  corpusBytes: number,
): Promise<ParseRunResult[]> {
  const results: ParseRunResult[] = [];
  let live: ParseRunner[] = [];
  for (const runner of runners) {
    progress(`parse: ${runner.id}: answer check and warm-up`);
    const early = await runner.start();
    if (early) results.push(early);
    else live.push(runner);
  }
  const times = new Map<string, number[]>(live.map((r) => [r.id, []]));
  for (let round = 0; round < passes; round++) {
    progress(`parse: timed round ${String(round + 1)}/${String(passes)}`);
    const order = [...live.slice(round % live.length), ...live.slice(0, round % live.length)];
    for (const runner of order) {
      try {
        times.get(runner.id)?.push(await runner.pass());
      } catch (error: unknown) {
        runner.stop();
        results.push(failedResult(runner.id, '?', String(error)));
        live = live.filter((r) => r !== runner);
      }
    }
  }
  const oursTimes = times.get(OURS) ?? [];
  for (const runner of live) {
    let result: ParseRunResult;
    try {
      result = await runner.finish();
    } catch (error: unknown) {
      results.push(failedResult(runner.id, '?', String(error)));
      continue;
    }
    const passMs = times.get(runner.id) ?? [];
    const ratios = passMs
      .map((ms, i) => {
        const ours = oursTimes[i];
        return ours === undefined ? Number.NaN : ms / ours;
      })
      .filter((r) => Number.isFinite(r));
    results.push({
      ...result,
      passMs,
      ...throughput(
        passMs,
        result.timedMessages ?? corpusMessages,
        result.timedBytes ?? corpusBytes,
      ),
      ...(ratios.length > 0 && oursTimes.length === passMs.length
        ? { pairedRatioToOurs: median(ratios) }
        : {}),
    });
  }
  return results;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const started = new Date();
  const host = machine();
  const selected = (id: string): boolean =>
    options.parse && (!options.only || options.only.includes(id));
  // Other work on the machine skews the figures: sample the 1-minute load while we run.
  const loadSamples: number[] = [];
  const sampler = setInterval(() => loadSamples.push(loadavg()[0] ?? 0), 5000);
  sampler.unref();

  progress('generating the corpus');
  const corpus = generateCorpus(options.corpus);
  say(`# HL7 benchmark — ${started.toISOString()}`);
  say('');
  say(
    `Machine: ${String(host.cpus)} × ${String(host.cpuModel)}, ${String(host.memoryGiB)} GiB; Node ${process.version}; load average at start ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const rev = revision();
  say(
    `Code: commit ${rev.commit}${rev.hl7LibsModified ? ' + uncommitted changes in libs/hl7' : ''}`,
  );
  say(
    `Corpus: ${corpus.messages.length.toLocaleString('en-US')} ORU^R01 (v2.3 + v2.5.1), ${(corpus.bytes / 1e6).toFixed(2)} MB, ${corpus.obxCount.toLocaleString('en-US')} OBX; seed ${corpus.seed}`,
  );
  say(
    `OBX-5 features: ${Object.entries(corpus.features)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );

  // 1. Parse throughput: every JS parser in a Node process of its own, HAPI in JVMs.
  const runners: ParseRunner[] = ALL_ADAPTERS.filter((a) => selected(a.id)).map((a) =>
    nodeParseRunner({
      adapter: a.id,
      corpus: options.corpus,
      warmupSeconds: options.warmupSeconds,
    }),
  );
  const parseResults: ParseRunResult[] = [];
  const javaVersions: Record<string, string> = {};
  const workDir = mkdtempSync(join(tmpdir(), 'bench-hl7-'));
  try {
    if (options.hapi && selected('hapi')) {
      const homes = defaultJavaHomes();
      for (const home of homes) {
        javaVersions[home === '' ? 'java (PATH)' : home] = javaVersionLine(home);
      }
      try {
        progress('HAPI: fetching jars (Maven) and compiling');
        const classpath = await prepareHapi(homes[0] ?? '');
        const corpusFile = join(workDir, 'corpus.mllp');
        writeCorpusFile(corpus, corpusFile);
        // Every variant on the newest JDK; the fastest variant on the other JDKs too.
        const newest = homes[homes.length > 1 ? 1 : 0] ?? '';
        const hapi = { warmupSeconds: options.hapiWarmupSeconds, workDir };
        for (const variant of Object.keys(HAPI_VARIANTS) as HapiVariant[]) {
          runners.push(hapiParseRunner(corpus, corpusFile, classpath, newest, variant, hapi));
        }
        for (const home of homes.filter((h) => h !== newest)) {
          const jdk = /version "(\d+)/.exec(javaVersions[home === '' ? 'java (PATH)' : home] ?? '');
          runners.push(
            hapiParseRunner(
              corpus,
              corpusFile,
              classpath,
              home,
              'generic-novalidation',
              hapi,
              `hapi-generic-novalidation (JDK ${jdk?.[1] ?? '?'})`,
            ),
          );
        }
      } catch (error: unknown) {
        parseResults.push({
          id: 'hapi',
          library: 'HAPI HL7v2',
          runtime: 'JVM',
          api: 'PipeParser',
          help: [],
          status: 'not available',
          reason: String(error),
          mismatches: 0,
          errors: 0,
          examples: [],
          warmupPasses: 0,
          passMs: [],
        });
      }
    }
    parseResults.push(
      ...(await timeParsers(runners, options.passes, corpus.messages.length, corpus.bytes)),
    );
  } finally {
    for (const runner of runners) runner.stop();
    rmSync(workDir, { recursive: true, force: true });
  }

  const verdict = target(parseResults);
  if (options.parse) {
    say('');
    say('## Parse: every OBX-5 of every message, escapes decoded');
    say('');
    say(parseTable(parseResults, OURS));
    say('');
    say(parseNotes(parseResults));
    say('');
    say(verdict.text);
  }

  // 2. MLLP round trips: each scenario several times, interleaved; the median run is shown.
  const mllpResults: MllpRunResult[] = [];
  const mllpRuns: MllpRunResult[] = [];
  if (options.mllp) {
    const scenarios: { implementation: MllpImplementation; connections: number }[] = [];
    for (const implementation of ['ours', 'simple-hl7'] as const) {
      for (const connections of [1, 8]) scenarios.push({ implementation, connections });
    }
    const runs = new Map<string, MllpRunResult[]>();
    for (let repeat = 1; repeat <= options.mllpRepeats; repeat++) {
      for (const { implementation, connections } of scenarios) {
        progress(
          `MLLP: ${implementation}, ${String(connections)} connection(s), run ${String(repeat)}/${String(options.mllpRepeats)}`,
        );
        const result = await runMllpScenario(corpus, {
          implementation,
          connections,
          messages: options.mllpMessages,
          warmupMessages: Math.min(2000, Math.ceil(options.mllpMessages / 10)),
          maxSeconds: options.mllpMaxSeconds,
        });
        mllpRuns.push(result);
        const key = `${implementation}/${String(connections)}`;
        runs.set(key, [...(runs.get(key) ?? []), result]);
      }
    }
    for (const results of runs.values()) {
      const failed = results.find((r) => r.status !== 'ok');
      const byRate = [...results].sort(
        (a, b) => (a.roundTripsPerSecond ?? 0) - (b.roundTripsPerSecond ?? 0),
      );
      const middle = byRate[Math.floor(byRate.length / 2)];
      const shown = failed ?? middle;
      if (shown) mllpResults.push(shown);
    }
    say('');
    say(
      `## MLLP round trips on 127.0.0.1 (server process ACKs at once; ${options.mllpMessages.toLocaleString('en-US')} messages per row after warm-up; median of ${String(options.mllpRepeats)} interleaved runs)`,
    );
    say('');
    say(mllpTable(mllpResults));
  }

  clearInterval(sampler);
  loadSamples.push(loadavg()[0] ?? 0);
  const finished = new Date();
  const load = {
    min: Math.min(...loadSamples),
    median: median(loadSamples),
    max: Math.max(...loadSamples),
  };
  say('');
  say(
    `1-minute load average during the run (every 5 s): min ${load.min.toFixed(2)}, median ${load.median.toFixed(2)}, max ${load.max.toFixed(2)} on ${String(host.cpus)} CPUs (the benchmark itself adds about 1); took ${((finished.getTime() - started.getTime()) / 1000).toFixed(0)} s.`,
  );

  mkdirSync(resolve(options.report, '..'), { recursive: true });
  writeFileSync(
    options.report,
    JSON.stringify(
      {
        started: started.toISOString(),
        finished: finished.toISOString(),
        command: process.argv.slice(2),
        revision: rev,
        machine: { ...host, loadAverageAtEnd: loadavg(), loadDuringRun: load, java: javaVersions },
        corpus: {
          ...options.corpus,
          bytes: corpus.bytes,
          obx: corpus.obxCount,
          features: corpus.features,
        },
        parse: sortParseResults(parseResults),
        target: verdict,
        mllp: mllpResults,
        mllpRuns,
      },
      null,
      2,
    ),
  );
  progress(`report written to ${options.report}`);
}

/** The issue's target: ours ≥ 2× the fastest JavaScript library that gives the same answer. */
function target(results: readonly ParseRunResult[]): {
  met: boolean | undefined;
  ratio?: number;
  against?: string;
  text: string;
} {
  const ours = results.find((r) => r.id === OURS);
  const others = results.filter(
    (r) =>
      r.status === 'ok' &&
      r.runtime.startsWith('Node') &&
      !r.id.startsWith(OURS) &&
      r.messagesPerSecond !== undefined,
  );
  const fastest = others.sort((a, b) => (b.messagesPerSecond ?? 0) - (a.messagesPerSecond ?? 0))[0];
  if (!ours || ours.status !== 'ok' || !ours.messagesPerSecond || !fastest?.messagesPerSecond) {
    return {
      met: undefined,
      text: `Target (ours ≥ 2× the fastest correct JS library): cannot tell — ours: ${ours?.status ?? 'not run'}${ours?.reason ? ` (${ours.reason})` : ''}.`,
    };
  }
  const ratio = fastest.pairedRatioToOurs ?? ours.messagesPerSecond / fastest.messagesPerSecond;
  const met = ratio >= 2;
  const variants = results
    .filter((r) => r.id.startsWith(`${OURS}-`) && r.status === 'ok' && r.messagesPerSecond)
    .map(
      (r) =>
        `${r.id} ×${((r.messagesPerSecond ?? 0) / (fastest.messagesPerSecond ?? 1)).toFixed(2)} (of the medians)`,
    );
  return {
    met,
    ratio,
    against: fastest.id,
    text:
      `Target (ours ≥ 2× the fastest correct JS library, with the same answer): ${met ? 'MET' : 'NOT MET'} — ours ${Math.round(ours.messagesPerSecond).toLocaleString('en-US')} msgs/s is ×${ratio.toFixed(2)} ${fastest.id}${fastest.pairedRatioToOurs !== undefined ? ' (median of the per-round ratios)' : ''} (${Math.round(fastest.messagesPerSecond).toLocaleString('en-US')} msgs/s).` +
      (variants.length > 0 ? ` Other ways to call ours: ${variants.join(', ')}.` : ''),
  };
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
