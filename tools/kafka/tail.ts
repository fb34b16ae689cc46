/**
 * Prints the records of a topic as JSON lines, decoded through the schema registry:
 *   npm run topic:tail -- clinical.results.v1 [--from-beginning] [--max N]
 * Dead-letter topics are printed with their provenance headers and the original value
 * decoded when it is Avro. A local tool for synthetic data: it prints record contents.
 */
import { kafkaEnvSchema } from '@ancillary/config';
import { headersToStrings } from '@ancillary/messaging-kafka';
import { randomUUID } from 'node:crypto';
import { bootstrapTool, runTool, toolKafka, UsageError } from '../common/tool-bootstrap';

const args = process.argv.slice(2);
const topic = args.find((a) => !a.startsWith('--'));
const fromBeginning = args.includes('--from-beginning');
const maxIndex = args.indexOf('--max');
const max = maxIndex >= 0 ? Number(args[maxIndex + 1]) : Infinity;

async function main(): Promise<void> {
  if (!topic) {
    throw new UsageError('usage: npm run topic:tail -- <topic> [--from-beginning] [--max N]');
  }
  const { config, logger } = bootstrapTool('topic-tail', kafkaEnvSchema);
  const { kafka, codec } = toolKafka('topic-tail', config, logger);
  const consumer = kafka.consumer({ groupId: `topic-tail-${randomUUID()}` });
  let seen = 0;
  let stopping: Promise<void> | undefined;
  // Not awaited from eachMessage: disconnect waits for the handler in hand, so awaiting it
  // there would wait for itself (the old --max hang).
  const stop = () =>
    (stopping ??= consumer.disconnect().then(() => {
      process.exit(0);
    }));
  process.on('SIGINT', () => void stop());
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      if (seen >= max) return;
      let value: unknown;
      try {
        value = await codec.decodeAny(message.value);
      } catch {
        value = { undecodableBytes: message.value?.length ?? 0 };
      }
      const line = {
        partition,
        offset: message.offset,
        timestamp: new Date(Number(message.timestamp)).toISOString(),
        key: message.key?.toString() ?? null,
        headers: headersToStrings(message.headers),
        value,
      };
      console.log(
        JSON.stringify(line, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('utf8') : v)),
      );
      if (++seen >= max) void stop();
    },
  });
  // Runs until SIGINT or --max: stop() ends the process.
  await new Promise<never>(() => undefined);
}

runTool(main);
