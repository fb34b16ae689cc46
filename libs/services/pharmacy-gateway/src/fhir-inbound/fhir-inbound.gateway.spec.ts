import { Topics, type RawFhirEnvelope } from '@ancillary/contracts';
import { PublishError, type OutgoingMessage } from '@ancillary/messaging-kafka';
import { metricsRegistry } from '@ancillary/observability';
import { captureLogger } from '@ancillary/testing';
import { FhirInboundGateway } from './fhir-inbound.gateway';

const resource = {
  resourceType: 'MedicationDispense',
  identifier: [{ system: 'urn:pharmacy:dispense', value: 'D-100' }],
  status: 'completed',
  subject: { identifier: { system: 'urn:ancillary:mrn', value: 'MRN-SECRET-9' } },
};

function gateway(publish: (m: OutgoingMessage<RawFhirEnvelope>) => Promise<void>) {
  const { logger, lines } = captureLogger('fhir-inbound-spec', 'debug');
  const sent: OutgoingMessage<RawFhirEnvelope>[] = [];
  const unit = new FhirInboundGateway({
    sourceSystem: 'pharmacy-spec',
    topic: Topics.pharmacyFhirInbound,
    resourceType: 'MedicationDispense',
    producer: {
      publish: async <T>(_topic: unknown, message: OutgoingMessage<T>) => {
        const m = message as unknown as OutgoingMessage<RawFhirEnvelope>;
        await publish(m);
        sent.push(m);
        return { topicName: 'x', partition: 0, errorCode: 0 };
      },
    },
    logger,
  });
  return { unit, sent, lines };
}

async function counterValue(outcome: string): Promise<number> {
  const metric = await metricsRegistry().getSingleMetric('gateway_fhir_requests_total')?.get();
  return (
    metric?.values.find(
      (v) => v.labels['outcome'] === outcome && v.labels['source_system'] === 'pharmacy-spec',
    )?.value ?? 0
  );
}

describe('FhirInboundGateway', () => {
  it('publishes the envelope first, then answers 202 with an informational OperationOutcome', async () => {
    const { unit, sent } = gateway(() => Promise.resolve());
    const text = JSON.stringify(resource);
    const answer = await unit.handle({
      contentType: 'application/fhir+json',
      body: Buffer.from(text),
      peerAddress: '10.0.0.7:51000',
    });
    expect(sent).toHaveLength(1);
    const { key, value } = sent[0]!;
    expect(key).toBe('MRN-SECRET-9');
    expect(value).toMatchObject({
      sourceSystem: 'pharmacy-spec',
      resourceType: 'MedicationDispense',
      interaction: 'create',
      idempotencyKey: 'urn:pharmacy:dispense|D-100',
      payload: text,
      peerAddress: '10.0.0.7:51000',
    });
    expect(answer.status).toBe(202);
    expect(answer.headers['X-Envelope-Id']).toBe(value.envelopeId);
    expect(answer.body).toEqual({
      resourceType: 'OperationOutcome',
      issue: [
        {
          severity: 'information',
          code: 'informational',
          diagnostics: `MedicationDispense accepted for processing as envelope ${value.envelopeId}`,
        },
      ],
    });
    expect(await counterValue('accepted')).toBeGreaterThanOrEqual(1);
  });

  it('answers 503 with Retry-After when Kafka does not store it, logging no patient data', async () => {
    const { unit, lines } = gateway(() => Promise.reject(new PublishError('broker down')));
    const before = await counterValue('failed');
    const answer = await unit.handle({
      contentType: 'application/json',
      body: Buffer.from(JSON.stringify(resource)),
      peerAddress: null,
    });
    expect(answer.status).toBe(503);
    expect(answer.headers['Retry-After']).toBe('5');
    expect(answer.body.issue[0]).toMatchObject({ severity: 'error', code: 'transient' });
    expect(await counterValue('failed')).toBe(before + 1);
    const logged = JSON.stringify(lines());
    expect(logged).toMatch(/could not store the FHIR resource/);
    expect(logged).not.toMatch(/MRN-SECRET-9|D-100/);
  });

  it('refuses what it cannot store with a 4xx, publishing nothing and logging the kind of problem', async () => {
    const { unit, sent, lines } = gateway(() => Promise.resolve());
    const bad = await unit.handle({
      contentType: 'application/fhir+json',
      body: Buffer.from('{"resourceType":"MedicationDispense","subject":{"display":"Jane'),
      peerAddress: null,
    });
    expect(bad.status).toBe(400);
    expect(bad.body.issue[0]?.diagnostics).toMatch(/not valid JSON/);
    const xml = await unit.handle({
      contentType: 'application/fhir+xml',
      body: Buffer.from('<MedicationDispense/>'),
      peerAddress: null,
    });
    expect(xml.status).toBe(415);
    expect(unit.tooLarge(1024).status).toBe(413);
    expect(sent).toHaveLength(0);
    const logged = JSON.stringify(lines());
    expect(logged).toMatch(/"problem":"not-json"/);
    expect(logged).not.toMatch(/Jane/);
  });
});
