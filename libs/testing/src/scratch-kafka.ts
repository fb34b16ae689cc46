/**
 * A second, private Kafka broker for tests that stop and restart the broker (the shared one
 * also carries the schema registry's storage and every other test's topics). It runs from the
 * same jars tools/stack/stack.sh fetched from Maven Central, KRaft, one node, free ports, its
 * own data directory — a real broker, started and stopped for real.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { freePort } from './ports';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { workspaceRoot } from './stack';
import { waitFor } from './wait-for';

export interface ScratchKafka {
  brokers: string[];
  /** Stops the broker (SIGTERM, controlled shutdown) and waits for the process to end. */
  stop(): Promise<void>;
  /** Starts it again on the same ports and data. */
  start(): Promise<void>;
  /** Stops it and deletes its data. */
  destroy(): Promise<void>;
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => {
      resolve(false);
    });
  });
}

export async function startScratchKafka(): Promise<ScratchKafka> {
  const lib = join(workspaceRoot(), '.stack', 'lib', 'kafka');
  if (!existsSync(lib)) {
    throw new Error(
      `Kafka jars not found in ${lib}: the scratch broker runs from the jars tools/stack/stack.sh fetches (run \`npm run stack:up\`).`,
    );
  }
  const java = process.env['JAVA_HOME'] ? join(process.env['JAVA_HOME'], 'bin', 'java') : 'java';
  const dir = mkdtempSync(join(tmpdir(), 'scratch-kafka-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const [port, controllerPort] = [await freePort(), await freePort()];
  const conf = join(dir, 'server.properties');
  writeFileSync(
    conf,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.bootstrap.servers=127.0.0.1:${controllerPort}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      `log.dirs=${data}`,
      'num.partitions=1',
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'share.coordinator.state.topic.replication.factor=1',
      'share.coordinator.state.topic.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      'auto.create.topics.enable=false',
      '',
    ].join('\n'),
  );
  const classpath = `${lib}/*`;
  const quiet = [
    '-Dlog4j2.configurationFile=' +
      join(workspaceRoot(), 'tools/stack/kafka/tools-log4j2.properties'),
  ];
  execFileSync(
    java,
    [
      '-Xmx256m',
      ...quiet,
      '-cp',
      classpath,
      'kafka.tools.StorageTool',
      'format',
      '--standalone',
      '-t',
      randomUUID().replace(/-/g, '').slice(0, 22),
      '-c',
      conf,
    ],
    { stdio: 'pipe' },
  );

  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    const log = openSync(join(dir, 'kafka.log'), 'a');
    child = spawn(
      java,
      [
        '-Xms64m',
        '-Xmx384m',
        ...quiet,
        `-Dkafka.logs.dir=${dir}`,
        '-cp',
        classpath,
        'kafka.Kafka',
        conf,
      ],
      { stdio: ['ignore', log, log] },
    );
    const started = child;
    await waitFor(
      async () => {
        if (started.exitCode !== null) {
          throw new Error(
            `scratch Kafka exited with ${started.exitCode}; log: ${join(dir, 'kafka.log')}`,
          );
        }
        return portAnswers(port);
      },
      { timeoutMs: 60_000, description: `scratch Kafka on 127.0.0.1:${port}` },
    );
  };
  const stop = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise<void>((resolve) =>
      running.once('exit', () => {
        resolve();
      }),
    );
    running.kill('SIGTERM');
    const timer = setTimeout(() => running.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  };
  await start();
  return {
    brokers: [`127.0.0.1:${port}`],
    start,
    stop,
    destroy: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
