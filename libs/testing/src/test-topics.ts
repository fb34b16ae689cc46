/**
 * A throwaway catalogue entry for one test: a unique topic name (so its dead-letter topic and
 * subject are unique too) for a given contract. Provision it with provisionContracts() and
 * remove it with deleteTopics() from @ancillary/messaging-kafka.
 */
import type { TopicDefinition, ValueContract } from '@ancillary/contracts';
import { uniqueName } from './names';

export function testTopic(value: ValueContract, partitions = 1): TopicDefinition {
  return {
    name: `${uniqueName('test')}.records.v1`.replace(/[^a-z0-9.-]/g, ''),
    description: 'test topic',
    value,
    key: 'test key',
    partitions,
    retentionMs: 60 * 60 * 1000,
  };
}
