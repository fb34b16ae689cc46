/**
 * Marks a provider method as the handler of a topic, @EventPattern-style:
 *
 *   @ConsumeTopic(Topics.labHl7Inbound)
 *   async onInbound(envelope: RawHl7Envelope, message: ConsumedMessage<RawHl7Envelope>) { … }
 *
 * The method receives the decoded value and the record (key, headers, context, attempt).
 * Throwing a permanent error dead-letters the record; a retriable one is retried with backoff;
 * returning normally lets the offset be committed.
 */
import { SetMetadata } from '@nestjs/common';
import type { TopicDefinition } from '@ancillary/contracts';
import type { RetryPolicy } from '@ancillary/retry';

export const CONSUME_TOPIC_METADATA = 'ancillary:consume-topic';

export interface ConsumeTopicOptions {
  /** Consumer group; default: the module's groupId. Separate groups make separate flows. */
  groupId?: string;
  /** Retry policy of this handler over the group's (e.g. `{ maxAttempts: Infinity }`). */
  retry?: Partial<RetryPolicy>;
}

export interface ConsumeTopicMetadata extends ConsumeTopicOptions {
  topic: TopicDefinition;
}

export const ConsumeTopic = (
  topic: TopicDefinition,
  options: ConsumeTopicOptions = {},
): MethodDecorator =>
  SetMetadata(CONSUME_TOPIC_METADATA, { topic, ...options } satisfies ConsumeTopicMetadata);
