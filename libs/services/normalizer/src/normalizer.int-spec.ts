/**
 * The normalizer's radiology and pharmacy flows against the real broker and registry: raw
 * envelopes published on the inbound topics come out as ImagingReport, MedicationDispensed and
 * OrderStatusChanged events on the clinical topics, and an unmapped procedure lands on the
 * inbound topic's dead-letter topic with the reason. The service runs with its own consumer
 * group starting at the end of the shared topics; this run's records are found by their
 * unique source systems and control ids.
 */
import {
  CriticalAlertContract,
  DeadLetterHeaders,
  ImagingReportContract,
  LabResultContract,
  MedicationDispensedContract,
  MessageHeaders,
  OrderStatusChangedContract,
  Topics,
  deadLetterTopicOf,
  topicCatalogue,
  type CriticalAlert,
  type ImagingReport,
  type LabResult,
  type MedicationDispensed,
  type OrderStatusChanged,
  type RawFhirEnvelope,
  type RawHl7Envelope,
  type TopicDefinition,
  type ValueContract,
} from '@ancillary/contracts';
import { Hl7Message } from '@ancillary/hl7-core';
import { Messaging, newMessageContext, provisionContracts } from '@ancillary/messaging-kafka';
import { captureLogger, readTopic, testStack, uniqueName, waitFor } from '@ancillary/testing';
import type { KafkaMessage } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { startNormalizer, type NormalizerHandle } from './normalizer';

const stack = testStack();
const { logger, lines } = captureLogger('normalizer-int', 'warn');
const run = uniqueName('norm')
  .toLowerCase()
  .replace(/[^a-z0-9]/g, '');
const LIS = `lis-${run}`;
const RIS = `ris-${run}`;
const PHARMACY = `rx-${run}`;
const FHIR_PHARMACY = `rxfhir-${run}`;

let normalizer: NormalizerHandle;
let messaging: Messaging;
let counter = 0;

function controlId(): string {
  counter += 1;
  return `${run.slice(-12)}${counter}`.toUpperCase();
}

/** The envelope a gateway publishes for these bytes (its fields read from MSH). */
function hl7Envelope(text: string, sourceSystem: string): RawHl7Envelope {
  const payload = Buffer.from(text, 'utf8');
  const message = Hl7Message.parse(payload);
  return {
    envelopeId: randomUUID(),
    receivedAt: Date.now(),
    sourceSystem,
    sendingApplication: message.get('MSH-3') ?? null,
    sendingFacility: message.get('MSH-4') ?? null,
    receivingApplication: message.get('MSH-5') ?? null,
    receivingFacility: message.get('MSH-6') ?? null,
    messageControlId: message.controlId,
    messageType: message.messageType,
    messageStructure: message.messageStructure || null,
    hl7Version: message.version,
    charset: message.charset,
    payload,
    peerAddress: '127.0.0.1:40000',
  };
}

async function sendHl7(
  topic: TopicDefinition,
  text: string,
  sourceSystem: string,
): Promise<string> {
  const envelope = hl7Envelope(text, sourceSystem);
  await messaging.producer.publish<RawHl7Envelope>(topic, {
    key: 'MRN-KEY',
    value: envelope,
    context: newMessageContext({ messageControlId: envelope.messageControlId, sourceSystem }),
  });
  return envelope.messageControlId;
}

/** The records of one control id (or source system) on a topic, decoded. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the contract's type
async function recordsOf<T>(
  topic: string,
  contract: ValueContract,
  header: string,
  value: string,
  expected = 1,
): Promise<{ message: KafkaMessage; value: T }[]> {
  const ours = (m: KafkaMessage) => m.headers?.[header]?.toString() === value;
  const records = (
    await readTopic(messaging.kafka, topic, {
      until: (all) => all.filter(ours).length >= expected,
      description: `${expected} record(s) with ${header}=${value} on ${topic}`,
      timeoutMs: 60_000,
    })
  ).filter(ours);
  return Promise.all(
    records.map(async (message) => ({
      message,
      value: await messaging.codec.decode<T>(contract, message.value),
    })),
  );
}

const MSH = (app: string, facility: string, type: string, id: string, version: string) =>
  `MSH|^~\\&|${app}|${facility}|ANCILLARY-HUB|NWH|20261126093000||${type}|${id}|P|${version}`;

function risReport(id: string, mrn: string, procedure: string): string {
  return [
    MSH('SIMRIS', 'NWH-RAD', 'ORU^R01^ORU_R01', id, '2.5.1'),
    `PID|1||${mrn}^^^NWH^MR||TESTPATIENT^RAY||19700101|F`,
    `ORC|RE|PL-${id}^ANCILLARY-HUB|RIS-${id}^SIMRIS||CM`,
    `OBR|1|PL-${id}^ANCILLARY-HUB|RIS-${id}^SIMRIS|${procedure}|||20261126084000|||||||||||ACC-${id}||||20261126092800|||F`,
    'TQ1|1||||||||S',
    'OBX|1|TX|18782-3^Radiology Study observation^LN|1|The lungs are clear.||||||F',
    'OBX|2|TX|18782-3^Radiology Study observation^LN|1|||||||F',
    'OBX|3|FT|18782-3^Radiology Study observation^LN|1|Heart size is normal.\\.br\\No effusion.||||||F',
    'OBX|4|TX|19005-8^Radiology Impression^LN|1|No acute cardiopulmonary process.||||||F',
    'OBX|5|ST|113014^Study Instance UID^DCM||1.2.840.113619.2.55.3.604688119.868.1732608000.7||||||F',
  ].join('\r');
}

beforeAll(async () => {
  messaging = new Messaging(
    {
      service: 'normalizer-int-client',
      brokers: stack.kafkaBrokers,
      registryUrl: stack.registryUrl,
    },
    logger,
  );
  // Topics and subjects exist before services start, as provisioning does in a deployment.
  await provisionContracts(messaging.kafka, messaging.codec, topicCatalogue, logger);
  await messaging.connect();
  normalizer = await startNormalizer(
    {
      KAFKA_BROKERS: stack.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: stack.registryUrl,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      LOG_LEVEL: 'warn',
      CONSUMER_GROUP: `normalizer-${run}`,
      CONSUMER_START: 'latest',
      TERMINOLOGY_WATCH: 'false',
      DEFAULT_TIME_ZONE: 'America/New_York',
    },
    { logger, shutdownHooks: false },
  );
  // A group that starts at the end must have joined before anything is sent.
  await waitFor(async () => (await fetch(`${normalizer.url}/ready`)).ok, {
    timeoutMs: 60_000,
    description: 'the normalizer to be ready',
  });
}, 120_000);

afterAll(async () => {
  await (normalizer as NormalizerHandle | undefined)?.close();
  await (messaging as Messaging | undefined)?.close();
});

describe('radiology', () => {
  it('publishes a RIS report as an ImagingReport with its line breaks, keyed by patient', async () => {
    const mrn = uniqueName('MRN');
    const id = await sendHl7(
      Topics.radiologyHl7Inbound,
      risReport(controlId(), mrn, 'XRCH2V^XR chest PA and lateral^L'),
      RIS,
    );
    const [report] = await recordsOf<ImagingReport>(
      Topics.clinicalImagingReports.name,
      ImagingReportContract,
      MessageHeaders.messageControlId,
      id,
    );
    expect(report?.message.key?.toString()).toBe(mrn);
    expect(report?.value).toMatchObject({
      sourceSystem: RIS,
      messageControlId: id,
      procedure: { system: 'http://www.ama-assn.org/go/cpt', code: '71046' },
      accessionNumber: `ACC-${id}`,
      studyInstanceUid: '1.2.840.113619.2.55.3.604688119.868.1732608000.7',
      priority: 'stat',
      highPriority: true,
      status: 'FINAL',
      reportText:
        'The lungs are clear.\n\nHeart size is normal.\nNo effusion.\nNo acute cardiopulmonary process.',
      impression: 'No acute cardiopulmonary process.',
    });
  });

  it('dead-letters an unmapped procedure with the reason', async () => {
    const id = await sendHl7(
      Topics.radiologyHl7Inbound,
      risReport(controlId(), uniqueName('MRN'), 'XRWHAT^XR something unknown^L'),
      RIS,
    );
    const [dead] = await readTopic(
      messaging.kafka,
      deadLetterTopicOf(Topics.radiologyHl7Inbound.name),
      {
        until: (all) =>
          all.some((m) => m.headers?.[MessageHeaders.messageControlId]?.toString() === id),
        description: 'the dead letter of the unmapped procedure',
        timeoutMs: 60_000,
      },
    ).then((all) =>
      all.filter((m) => m.headers?.[MessageHeaders.messageControlId]?.toString() === id),
    );
    expect(dead?.headers?.[DeadLetterHeaders.errorCode]?.toString()).toBe('unmapped-code');
    expect(dead?.headers?.[DeadLetterHeaders.errorMessage]?.toString()).toMatch(
      /^OBR-4 \(order group 1\): .*XRWHAT.*NWH-RAD/,
    );
    expect(lines().some((l) => l['code'] === 'unmapped-code' && l['flow'] === 'radiology')).toBe(
      true,
    );
  });

  it('publishes an ORM^O01 status (ORC-1 SC, ORC-5 IP) as OrderStatusChanged', async () => {
    const mrn = uniqueName('MRN');
    const id = controlId();
    await sendHl7(
      Topics.radiologyHl7Inbound,
      [
        MSH('SIMRIS', 'NWH-RAD', 'ORM^O01', id, '2.3'),
        `PID|1||${mrn}^^^NWH^MR||TESTPATIENT^RAY||19700101|F`,
        `ORC|SC|PL-${id}^ANCILLARY-HUB|RIS-${id}^SIMRIS||IP||||20261126082000`,
        `OBR|1|PL-${id}^ANCILLARY-HUB|RIS-${id}^SIMRIS|XRCH2V^XR chest PA and lateral^L`,
      ].join('\r'),
      RIS,
    );
    const [status] = await recordsOf<OrderStatusChanged>(
      Topics.clinicalOrderStatus.name,
      OrderStatusChangedContract,
      MessageHeaders.messageControlId,
      id,
    );
    expect(status?.message.key?.toString()).toBe(mrn);
    expect(status?.value).toMatchObject({
      sourceSystem: RIS,
      status: 'IN_PROGRESS',
      placerOrderNumber: `PL-${id}`,
      fillerOrderNumber: `RIS-${id}`,
      patientIdentifier: mrn,
      occurredAt: Date.parse('2026-11-26T13:20:00Z'),
    });
  });
});

describe('pharmacy', () => {
  it('publishes an RDS^O13 as MedicationDispensed with the RxNorm of the formulary', async () => {
    const mrn = uniqueName('MRN');
    const id = controlId();
    await sendHl7(
      Topics.pharmacyHl7Inbound,
      [
        MSH('SIMRX', 'NWH-RX', 'RDS^O13^RDS_O13', id, '2.5.1'),
        `PID|1||${mrn}^^^NWH^MR||TESTPATIENT^PILL||19700101|M`,
        `ORC|RE|PL-${id}^ANCILLARY-HUB|RX-${id}^SIMRX||CM`,
        'TQ1|1||QD^Once daily^HL70335|||30^d',
        'RXE||99901-0101-30^Amlodipine 5 mg tablet^NDC|5||mg^milligram^UCUM',
        `RXD|1|99901-0101-30^Amlodipine 5 mg tablet^NDC|20261126155500|30|TAB^tablet^HL70292||RXN-${id}||||7701^MORALES^RITA^^^^RPH`,
      ].join('\r'),
      PHARMACY,
    );
    const [dispense] = await recordsOf<MedicationDispensed>(
      Topics.clinicalDispenses.name,
      MedicationDispensedContract,
      MessageHeaders.messageControlId,
      id,
    );
    expect(dispense?.message.key?.toString()).toBe(mrn);
    expect(dispense?.value).toMatchObject({
      sourceSystem: PHARMACY,
      dispenseId: `RXN-${id}-1`,
      ndc: { code: '99901-0101-30' },
      rxnorm: { system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '197361' },
      quantityValue: 30,
      quantityUnit: 'TAB',
      daysSupply: 30,
      placerOrderNumber: `PL-${id}`,
      status: 'COMPLETED',
    });
  });

  it('publishes a FHIR MedicationDispense as MedicationDispensed', async () => {
    const mrn = uniqueName('MRN');
    const resource = {
      resourceType: 'MedicationDispense',
      identifier: [{ system: 'http://pharmacy.example.org/dispense', value: `DSP-${run}` }],
      status: 'completed',
      medicationCodeableConcept: {
        coding: [{ system: 'http://hl7.org/fhir/sid/ndc', code: '99901010360' }],
      },
      subject: { identifier: { system: 'NWH', value: mrn } },
      authorizingPrescription: [{ identifier: { value: `PL-${run}` } }],
      quantity: { value: 60, unit: 'tablet' },
      whenHandedOver: '2026-11-26T11:05:00-05:00',
    };
    const envelope: RawFhirEnvelope = {
      envelopeId: randomUUID(),
      receivedAt: Date.now(),
      sourceSystem: FHIR_PHARMACY,
      resourceType: 'MedicationDispense',
      interaction: 'create',
      idempotencyKey: `http://pharmacy.example.org/dispense|DSP-${run}`,
      payload: JSON.stringify(resource),
      peerAddress: null,
    };
    await messaging.producer.publish<RawFhirEnvelope>(Topics.pharmacyFhirInbound, {
      key: mrn,
      value: envelope,
      context: newMessageContext({ sourceSystem: FHIR_PHARMACY }),
    });
    const [dispense] = await recordsOf<MedicationDispensed>(
      Topics.clinicalDispenses.name,
      MedicationDispensedContract,
      MessageHeaders.sourceSystem,
      FHIR_PHARMACY,
    );
    expect(dispense?.message.key?.toString()).toBe(mrn);
    expect(dispense?.value).toMatchObject({
      sourceSystem: FHIR_PHARMACY,
      messageControlId: null,
      dispenseId: `DSP-${run}`,
      ndc: { code: '99901-0103-60' },
      rxnorm: { code: '861007' },
      quantityValue: 60,
      placerOrderNumber: `PL-${run}`,
      dispensedAt: Date.parse('2026-11-26T16:05:00Z'),
    });
  });
});

describe('pharmacy failures', () => {
  it('dead-letters a FHIR payload that is not JSON, with the reason', async () => {
    const source = `${FHIR_PHARMACY}-bad`;
    await messaging.producer.publish<RawFhirEnvelope>(Topics.pharmacyFhirInbound, {
      key: 'MRN-BAD',
      value: {
        envelopeId: randomUUID(),
        receivedAt: Date.now(),
        sourceSystem: source,
        resourceType: 'MedicationDispense',
        interaction: 'create',
        idempotencyKey: `bad-${run}`,
        payload: '{"resourceType":"MedicationDispense",',
        peerAddress: null,
      },
      context: newMessageContext({ sourceSystem: source }),
    });
    const ours = (m: KafkaMessage) =>
      m.headers?.[MessageHeaders.sourceSystem]?.toString() === source;
    const [dead] = (
      await readTopic(messaging.kafka, deadLetterTopicOf(Topics.pharmacyFhirInbound.name), {
        until: (all) => all.some(ours),
        description: 'the dead letter of the invalid JSON',
        timeoutMs: 60_000,
      })
    ).filter(ours);
    expect(dead?.headers?.[DeadLetterHeaders.errorCode]?.toString()).toBe('invalid-json');
    expect(dead?.headers?.[DeadLetterHeaders.errorMessage]?.toString()).toMatch(
      /^the payload is not JSON/,
    );
  });
});

describe('lab', () => {
  it('flags the results of a STAT order high priority, and their critical alerts too', async () => {
    const mrn = uniqueName('MRN');
    const id = controlId();
    await sendHl7(
      Topics.labHl7Inbound,
      [
        MSH('SIMLIS', 'NWH-LAB', 'ORU^R01^ORU_R01', id, '2.5.1'),
        `PID|1||${mrn}^^^NWH^MR||TESTPATIENT^LAB||19700101|F`,
        `ORC|RE|PL-${id}|FL-${id}`,
        `OBR|1|PL-${id}|FL-${id}|BMP^Basic metabolic panel^L|||20261126071500||||||||||||||||||F`,
        'TQ1|1||||||||S',
        'OBX|1|NM|K^Potassium^L||6.8|mmol/L|3.5-5.1|HH|||F|||20261126071500',
      ].join('\r'),
      LIS,
    );
    const [result] = await recordsOf<LabResult>(
      Topics.clinicalResults.name,
      LabResultContract,
      MessageHeaders.messageControlId,
      id,
    );
    expect(result?.value).toMatchObject({ highPriority: true, order: { priority: 'stat' } });
    const [alert] = await recordsOf<CriticalAlert>(
      Topics.clinicalAlerts.name,
      CriticalAlertContract,
      MessageHeaders.messageControlId,
      id,
    );
    expect(alert?.value).toMatchObject({ highPriority: true, loincCode: '2823-3' });
  });

  it('publishes an ORL^O22 answer as OrderStatusChanged ACCEPTED with the filler number', async () => {
    const mrn = uniqueName('MRN');
    const id = controlId();
    await sendHl7(
      Topics.labHl7Inbound,
      [
        MSH('SIMLIS', 'NWH-LAB', 'ORL^O22^ORL_O22', id, '2.5.1'),
        'MSA|AA|O1234567890ABCDEF012',
        `PID|1||${mrn}^^^NWH^MR||TESTPATIENT^LAB||19700101|F`,
        `ORC|OK|PL-${id}^ANCILLARY-HUB|FL-${id}^SIMLIS||SC`,
        `OBR|1|PL-${id}^ANCILLARY-HUB|FL-${id}^SIMLIS|BMP^Basic metabolic panel^L`,
      ].join('\r'),
      LIS,
    );
    const [status] = await recordsOf<OrderStatusChanged>(
      Topics.clinicalOrderStatus.name,
      OrderStatusChangedContract,
      MessageHeaders.messageControlId,
      id,
    );
    expect(status?.message.key?.toString()).toBe(mrn);
    expect(status?.value).toMatchObject({
      sourceSystem: LIS,
      status: 'ACCEPTED',
      ackCode: 'AA',
      fillerOrderNumber: `FL-${id}`,
    });
  });
});
