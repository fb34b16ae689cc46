/**
 * Ceiling (a): how many records per second this machine's broker takes from a producer with
 * acks=all, measured with Kafka's own `org.apache.kafka.tools.ProducerPerformance` from the jars
 * the local stack runs (tools/stack/stack.sh copies them into .stack/lib/kafka), against a
 * scratch topic created for the run and deleted after it.
 */
import { createKafka } from '@ancillary/messaging-kafka';
import { createLogger } from '@ancillary/observability';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');

export interface KafkaCeilingOptions {
  brokers: string[];
  /** Bytes per record (the average encoded RawHl7Envelope). */
  recordSize: number;
  records: number;
  /** Partitions of the scratch topic; default 6, as lab.hl7-inbound.v1. */
  partitions?: number;
  /** The JVM to run the tool with; default found as tools/stack/stack.sh finds Kafka's. */
  java?: string;
  /** The jars; default <STACK_DIR or .stack>/lib/kafka. */
  libDir?: string;
  /** Progress lines (the tool's own report every 5 s). */
  onProgress?: (line: string) => void;
}

export interface KafkaCeilingResult {
  topic: string;
  partitions: number;
  records: number;
  recordSize: number;
  recordsPerSecond: number;
  megabytesPerSecond: number;
  avgLatencyMs: number;
  maxLatencyMs: number;
  p50Ms: number;
  p99Ms: number;
  java: string;
  javaVersion: string;
  kafkaVersion: string;
  command: string;
}

export class KafkaCeilingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KafkaCeilingError';
  }
}

/** Major version of a `java` binary (17, 21, 25…), 0 when it does not run. */
function javaMajor(java: string): { major: number; line: string } {
  const result = spawnSync(java, ['-version'], { encoding: 'utf8' });
  if (result.error) return { major: 0, line: '' };
  const line = result.stderr.split('\n')[0] ?? '';
  const version = /version "([^"]+)"/.exec(line)?.[1] ?? '';
  const major = Number((version.startsWith('1.') ? version.slice(2) : version).split(/[.+_-]/)[0]);
  return { major: Number.isFinite(major) ? major : 0, line };
}

/**
 * A JDK ≥ 17, looked for as tools/stack/stack.sh looks for Kafka's: KAFKA_JAVA_HOME, JAVA_HOME,
 * `java` on the PATH, then the newest under /usr/lib/jvm.
 */
export function findKafkaJava(env: NodeJS.ProcessEnv = process.env): string {
  const candidates = [env['KAFKA_JAVA_HOME'], env['JAVA_HOME']]
    .filter((h): h is string => Boolean(h))
    .map((h) => join(h, 'bin', 'java'));
  candidates.push('java');
  for (const java of candidates) if (javaMajor(java).major >= 17) return java;
  let best: { java: string; major: number } | undefined;
  const jvmRoot = '/usr/lib/jvm';
  if (existsSync(jvmRoot)) {
    for (const dir of readdirSync(jvmRoot)) {
      const java = join(jvmRoot, dir, 'bin', 'java');
      if (!existsSync(java)) continue;
      const { major } = javaMajor(java);
      if (major >= 17 && (!best || major > best.major)) best = { java, major };
    }
  }
  if (!best) {
    throw new KafkaCeilingError(
      'no Java 17 or newer found (KAFKA_JAVA_HOME, JAVA_HOME, java on PATH, /usr/lib/jvm/*); Kafka 4 tools need one',
    );
  }
  return best.java;
}

export function defaultKafkaLibDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env['STACK_DIR'] ?? join(ROOT, '.stack'), 'lib', 'kafka');
}

/** The final summary line of ProducerPerformance, parsed. */
export function parseProducerPerformance(
  output: string,
): Omit<
  KafkaCeilingResult,
  'topic' | 'partitions' | 'recordSize' | 'java' | 'javaVersion' | 'kafkaVersion' | 'command'
> {
  // "200000 records sent, 41237.1 records/sec (79.12 MB/sec), 301.2 ms avg latency,
  //  812.0 ms max latency, 284 ms 50th, 640 ms 95th, 780 ms 99th, 806 ms 99.9th."
  const line = output
    .split('\n')
    .reverse()
    .find((l) => /records sent,.*50th/.test(l));
  const match =
    line &&
    /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, \d+ ms 95th, (\d+) ms 99th/.exec(
      line,
    );
  if (!match) {
    throw new KafkaCeilingError(
      `ProducerPerformance printed no summary line; its output ends with:\n${output.split('\n').slice(-15).join('\n')}`,
    );
  }
  const [, records, perSecond, mbPerSecond, avg, max, p50, p99] = match;
  return {
    records: Number(records),
    recordsPerSecond: Number(perSecond),
    megabytesPerSecond: Number(mbPerSecond),
    avgLatencyMs: Number(avg),
    maxLatencyMs: Number(max),
    p50Ms: Number(p50),
    p99Ms: Number(p99),
  };
}

export async function measureKafkaCeiling(
  options: KafkaCeilingOptions,
): Promise<KafkaCeilingResult> {
  const libDir = options.libDir ?? defaultKafkaLibDir();
  const jars = existsSync(libDir) ? readdirSync(libDir) : [];
  const toolsJar = jars.find((j) => /^kafka-tools-\d.*\.jar$/.test(j));
  if (!toolsJar) {
    throw new KafkaCeilingError(
      `no kafka-tools jar in ${libDir}: run \`npm run stack:up\` (tools/stack/stack.sh fetches Kafka's jars there)`,
    );
  }
  const kafkaVersion = toolsJar.replace(/^kafka-tools-/, '').replace(/\.jar$/, '');
  const java = options.java ?? findKafkaJava();
  const javaVersion = javaMajor(java).line;
  const partitions = options.partitions ?? 6;
  const topic = `bench-e2e-ceiling-${randomBytes(4).toString('hex')}`;
  const logger = createLogger({ service: 'bench-e2e', level: 'silent' });
  const kafka = createKafka({ clientId: 'bench-e2e', brokers: options.brokers }, logger);
  const admin = kafka.admin();
  await admin.connect();
  let created = false;
  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions: partitions, replicationFactor: -1 }],
      waitForLeaders: true,
    });
    created = true;
    const args = [
      '-Xmx512m',
      `-Dlog4j2.configurationFile=${join(ROOT, 'tools/stack/kafka/tools-log4j2.properties')}`,
      '-cp',
      `${libDir}/*`,
      'org.apache.kafka.tools.ProducerPerformance',
      '--topic',
      topic,
      '--num-records',
      String(options.records),
      '--record-size',
      String(options.recordSize),
      '--throughput',
      '-1',
      // as the platform's producer: acks=all, idempotent, uncompressed
      '--command-property',
      `bootstrap.servers=${options.brokers.join(',')}`,
      'acks=all',
      'enable.idempotence=true',
      'compression.type=none',
    ];
    const output = await new Promise<string>((resolvePromise, reject) => {
      const child = spawn(java, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let partial = '';
      child.stdout.on('data', (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        stdout += text;
        const lines = (partial + text).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) if (line.trim()) options.onProgress?.(line.trim());
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString('utf8');
      });
      child.on('error', (error) => {
        reject(new KafkaCeilingError(`cannot run ${java}: ${error.message}`));
      });
      child.on('close', (code) => {
        if (code === 0) resolvePromise(stdout);
        else {
          reject(
            new KafkaCeilingError(
              `ProducerPerformance exited with ${String(code)}:\n${(stderr || stdout).split('\n').slice(-20).join('\n')}`,
            ),
          );
        }
      });
    });
    return {
      ...parseProducerPerformance(output),
      topic,
      partitions,
      recordSize: options.recordSize,
      java,
      javaVersion,
      kafkaVersion,
      command: `${java} -cp '${libDir}/*' org.apache.kafka.tools.ProducerPerformance ${args.slice(5).join(' ')}`,
    };
  } finally {
    try {
      if (created) await admin.deleteTopics({ topics: [topic] });
    } finally {
      await admin.disconnect();
    }
  }
}
