/**
 * Moves a record that cannot be processed to `<topic>.dlt` with everything needed to judge
 * and replay it: the original key, value bytes and headers, unchanged, plus provenance
 * headers (original topic, partition, offset, timestamp, error class, code and message,
 * attempts, service, time). If this publish fails the caller must not commit the offset.
 */
import { deadLetterTopicOf, DeadLetterHeaders } from '@ancillary/contracts';
import { counter, describeError, type Logger } from '@ancillary/observability';
import type { KafkaMessage } from 'kafkajs';
import { DeadLetterPublishError, errorCode } from './errors';
import { headersToStrings, type StringHeaders } from './message-context';
import type { MessageProducer } from './message.producer';

export interface DeadLetterSource {
  topic: string;
  partition: number;
  message: KafkaMessage;
}

/** Header values are bounded so that a huge exception message cannot make the record too large. */
const MAX_ERROR_MESSAGE_LENGTH = 2_000;

export class DeadLetterPublisher {
  private readonly deadLetters = counter(
    'ancillary_messaging_dead_letters_total',
    'Records sent to a dead-letter topic',
    ['topic', 'error_code'],
  );

  constructor(
    private readonly producer: MessageProducer,
    private readonly logger: Logger,
  ) {}

  async publish(source: DeadLetterSource, error: unknown, attempts: number): Promise<void> {
    const { topic, partition, message } = source;
    const dltTopic = deadLetterTopicOf(topic);
    const headers: StringHeaders = {
      ...headersToStrings(message.headers),
      [DeadLetterHeaders.originalTopic]: topic,
      [DeadLetterHeaders.originalPartition]: String(partition),
      [DeadLetterHeaders.originalOffset]: message.offset,
      [DeadLetterHeaders.originalTimestamp]: message.timestamp,
      [DeadLetterHeaders.errorClass]: error instanceof Error ? error.name : typeof error,
      [DeadLetterHeaders.errorCode]: errorCode(error),
      [DeadLetterHeaders.errorMessage]: truncate(
        error instanceof Error ? error.message : String(error),
      ),
      [DeadLetterHeaders.attempts]: String(attempts),
      [DeadLetterHeaders.service]: this.producer.service,
      [DeadLetterHeaders.failedAt]: new Date().toISOString(),
    };
    try {
      await this.producer.sendRaw(dltTopic, [{ key: message.key, value: message.value, headers }]);
    } catch (publishError) {
      throw new DeadLetterPublishError(
        `could not dead-letter ${topic}[${partition}]@${message.offset} to ${dltTopic}`,
        { cause: publishError },
      );
    }
    this.deadLetters.inc({ topic, error_code: errorCode(error) });
    this.logger.warn(
      {
        topic,
        partition,
        offset: message.offset,
        deadLetterTopic: dltTopic,
        attempts,
        ...describeError(error),
      },
      'record dead-lettered',
    );
  }
}

function truncate(text: string): string {
  return text.length > MAX_ERROR_MESSAGE_LENGTH
    ? `${text.slice(0, MAX_ERROR_MESSAGE_LENGTH)}…`
    : text;
}
