/**
 * An inbound gateway against the real broker, registry and PostgreSQL: AA only once the
 * message is on the topic, one copy per resent message (also across a restart), AR with an
 * ERR for what will never be accepted, and unparseable bytes kept on the dead-letter topic.
 */
import { Module, type DynamicModule } from '@nestjs/common';
import {
  DeadLetterHeaders,
  deadLetterTopicOf,
  MessageHeaders,
  RawHl7EnvelopeContract,
  type RawHl7Envelope,
} from '@ancillary/contracts';
import { MllpClient, MllpNackError } from '@ancillary/hl7-mllp';
import { startTracing, type TracingHandle } from '@ancillary/observability';
import { deleteTopics, Messaging, provisionContracts } from '@ancillary/messaging-kafka';
import { MessagingModule } from '@ancillary/messaging-nest';
import { ObservabilityModule } from '@ancillary/observability-nest';
import { startService, type ServiceHandle } from '@ancillary/service-kit';
import { RawMllpConnection } from '@ancillary/simulators';
import { captureLogger, readTopic, testStack, testTopic, uniqueName } from '@ancillary/testing';
import type { KafkaMessage } from 'kafkajs';
import { MllpGatewayLifecycle, MllpGatewayModule } from './mllp-gateway.module';

const stack = testStack();
const topic = testTopic(RawHl7EnvelopeContract);
const sourceSystem = uniqueName('lis');
const { logger } = captureLogger('gateway-int', 'warn');
let messaging: Messaging;
let tracing: TracingHandle;

@Module({})
class TestGatewayModule {
  static forRoot(): DynamicModule {
    return {
      module: TestGatewayModule,
      imports: [
        ObservabilityModule.forRoot({ logger }),
        MessagingModule.forRoot({
          service: 'gateway-int',
          brokers: stack.kafkaBrokers,
          registryUrl: stack.registryUrl,
          groupId: uniqueName('unused'),
        }),
        MllpGatewayModule.forRoot({
          sourceSystem,
          topic,
          acceptedMessageTypes: ['ORU^R01'],
          mllp: { host: '127.0.0.1', port: 0 },
          dedupe: { databaseUrl: stack.databaseUrl, windowMs: 3_600_000 },
        }),
      ],
    };
  }
}

async function startGateway(): Promise<{ service: ServiceHandle; client: MllpClient }> {
  const service = await startService({
    module: TestGatewayModule.forRoot(),
    logger,
    host: '127.0.0.1',
    port: 0,
    shutdownHooks: false,
  });
  const port = service.app.get(MllpGatewayLifecycle).port;
  const client = new MllpClient({
    host: '127.0.0.1',
    port,
    ackTimeoutMs: 15_000,
    retry: { maxAttempts: 1 },
  });
  return { service, client };
}

function oru(
  controlId: string,
  glucose = '98',
  type = 'ORU^R01^ORU_R01',
  sentAt = '20261126010000',
): string {
  return [
    `MSH|^~\\&|SIMLIS|NWH-LAB|EHR|NWH|${sentAt}||${type}|${controlId}|P|2.5.1`,
    'PID|1||MRN-GW-1^^^NWH^MR||Doe^Jane||19800101|F',
    'OBR|1|PL-1|FL-1|GLU^Glucose^L|||20261126000000',
    `OBX|1|NM|GLU^Glucose^L||${glucose}|mg/dL|70-99|N|||F`,
  ].join('\r');
}

function records(topicName: string, atLeast: number, settleMs = 1_500): Promise<KafkaMessage[]> {
  return readTopic(messaging.kafka, topicName, {
    until: (read) => read.length >= atLeast,
    description: `${atLeast} records on ${topicName}`,
    settleMs, // and no more arrive
  });
}

/** Sends one MLLP frame over a bare socket (the client refuses to send what does not parse). */
async function rawExchange(port: number, payload: Buffer): Promise<string> {
  const connection = new RawMllpConnection({ host: '127.0.0.1', port });
  try {
    const outcome = await connection.send(payload, 10_000);
    if (outcome.type !== 'ack') throw new Error(`no ACK: ${JSON.stringify(outcome)}`);
    return outcome.ack.toString();
  } finally {
    await connection.close();
  }
}

beforeAll(async () => {
  tracing = startTracing({ serviceName: 'gateway-int' });
  messaging = new Messaging(
    { service: 'gateway-int-reader', brokers: stack.kafkaBrokers, registryUrl: stack.registryUrl },
    logger,
  );
  await messaging.connect();
  await provisionContracts(messaging.kafka, messaging.codec, [topic], logger);
});

afterAll(async () => {
  await tracing.shutdown();
  await messaging.close();
  await deleteTopics(messaging.kafka, stack.registryUrl, [topic]);
});

describe('MLLP inbound gateway (real Kafka, registry and PostgreSQL)', () => {
  it('answers AA after the envelope is on the topic, stores a resend once, also across a restart', async () => {
    let { service, client } = await startGateway();
    const controlId = uniqueName('MSG');
    const first = await client.send(oru(controlId));
    expect(first.code).toBe('AA');
    expect((await client.send(oru(controlId))).code).toBe('AA'); // a resend: acked, not stored again
    // Some senders restamp MSH-7 when they resend: still the same message.
    expect(
      (await client.send(oru(controlId, '98', 'ORU^R01^ORU_R01', '20261126010500'))).code,
    ).toBe('AA');

    // Same MSH-10, different content: a sender reusing control ids must not lose a result.
    expect((await client.send(oru(controlId, '250'))).code).toBe('AA');
    await client.close();
    await service.close();

    ({ service, client } = await startGateway());
    expect((await client.send(oru(controlId))).code).toBe('AA'); // remembered across the restart
    await client.close();
    await service.close();

    const stored = await records(topic.name, 2);
    expect(stored).toHaveLength(2);
    const envelope = await messaging.codec.decode<RawHl7Envelope>(
      RawHl7EnvelopeContract,
      stored[0]!.value,
    );
    expect(envelope).toMatchObject({
      sourceSystem,
      messageControlId: controlId,
      messageType: 'ORU^R01',
      messageStructure: 'ORU_R01',
      hl7Version: '2.5.1',
      sendingApplication: 'SIMLIS',
      sendingFacility: 'NWH-LAB',
    });
    expect(envelope.payload.toString('utf8')).toBe(oru(controlId));
    expect(stored[0]!.key!.toString()).toBe('MRN-GW-1');
    expect(stored[0]!.headers![MessageHeaders.messageControlId]!.toString()).toBe(controlId);
    expect(stored[0]!.headers![MessageHeaders.traceparent]).toBeDefined();
  });

  it('answers AR with an ERR naming the problem for a type it does not accept, and keeps garbage on the DLT', async () => {
    const { service, client } = await startGateway();
    try {
      const refused = client.send(oru(uniqueName('MSG'), '98', 'ADT^A01^ADT_A01'));
      await expect(refused).rejects.toBeInstanceOf(MllpNackError);
      const nack = (await refused.catch((e: unknown) => e)) as MllpNackError;
      expect(nack.ackCode).toBe('AR');
      const ack = nack.ack;
      expect(ack.get('ERR-3')).toBe('200');
      expect(ack.get('ERR-8')).toMatch(/ADT\^A01 is not accepted/);

      // The client refuses to send what does not parse, so the bytes go over a bare socket.
      const answer = await rawExchange(
        service.app.get(MllpGatewayLifecycle).port,
        Buffer.from('this is not HL7 at all'),
      );
      expect(answer).toMatch(/MSA\|AR\r/);
      expect(answer).toMatch(/does not start with an MSH segment/);
      const kept = await records(deadLetterTopicOf(topic.name), 1, 0);
      expect(kept[0]!.value!.toString()).toBe('this is not HL7 at all');
      expect(kept[0]!.headers![DeadLetterHeaders.errorCode]!.toString()).toBe('unparseable');
      expect(kept[0]!.headers![MessageHeaders.sourceSystem]!.toString()).toBe(sourceSystem);
    } finally {
      await client.close();
      await service.close();
    }
  });
});
