import { deadLetterTopicOf, findTopic, topicCatalogue, Topics, valueSubjectOf } from './topics';

describe('topic catalogue', () => {
  it('names every topic <domain>.<entity>.v<major> and derives its dead-letter topic and subject', () => {
    expect(topicCatalogue.length).toBeGreaterThan(0);
    for (const topic of topicCatalogue) {
      expect(topic.name).toMatch(/^[a-z-]+\.[a-z0-9-]+\.v\d+$/);
    }
    expect(deadLetterTopicOf(Topics.labHl7Inbound.name)).toBe('lab.hl7-inbound.v1.dlt');
    expect(valueSubjectOf(Topics.clinicalResults.name)).toBe('clinical.results.v1-value');
  });

  it('has unique topic names, each with an Avro record contract', () => {
    const names = topicCatalogue.map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    for (const topic of topicCatalogue) {
      expect(JSON.parse(topic.value.schema)).toMatchObject({ type: 'record' });
    }
    expect(findTopic('lab.hl7-inbound.v1')?.value.name).toBe('health.ancillary.hl7.RawHl7Envelope');
    expect(findTopic('no.such-topic.v1')).toBeUndefined();
  });
});
