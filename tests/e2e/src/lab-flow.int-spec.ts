/**
 * Lab results end to end over the real stack: an ORU^R01 sent over MLLP to the lab gateway is
 * acknowledged, normalized and readable through the FHIR API; duplicates and resends change
 * nothing; a correction is version 2 of the same resources; a malformed message is refused
 * with an ERR; an unmapped code waits in the dead-letter topic until the mapping exists and
 * the replay command sends it through; and one trace links the three services' spans.
 */
import {
  CriticalAlertContract,
  DeadLetterHeaders,
  MessageHeaders,
  ResultWrittenContract,
  Topics,
  deadLetterTopicOf,
  payloadDigest,
  type CriticalAlert,
  type LabResult,
  type ResultWritten,
} from '@ancillary/contracts';
import { FhirStore } from '@ancillary/fhir-store';
import { Hl7Message } from '@ancillary/hl7-core';
import { normalizeLabMessage, resultKey } from '@ancillary/lab-normalization';
import { loadTerminology } from '@ancillary/terminology';
import { MllpClient, MllpNackError } from '@ancillary/hl7-mllp';
import { Messaging, newMessageContext } from '@ancillary/messaging-kafka';
import { startTracing, type TracingHandle } from '@ancillary/observability';
import { RawMllpConnection } from '@ancillary/simulators';
import { captureLogger, readTopic, testStack, uniqueName, waitFor } from '@ancillary/testing';
import type { KafkaMessage } from 'kafkajs';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { execFile } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fhirGet, startLabPlatform, type LabPlatform } from './platform.fixture';

interface Bundle<T = Resource> {
  resourceType: 'Bundle';
  total?: number;
  entry?: { resource: T; search?: { mode: string } }[];
}
interface Resource {
  resourceType: string;
  id: string;
  meta: { versionId: string; lastUpdated: string };
  [key: string]: unknown;
}

const spans = new InMemorySpanExporter();
const { logger, lines } = captureLogger('e2e', 'warn');
let tracing: TracingHandle;
let platform: LabPlatform;
let client: MllpClient;
let fhir: string;

let counter = 0;
function controlId(): string {
  counter += 1;
  return `${uniqueName('E2E')}-${counter}`;
}

interface Obx {
  code: string;
  value: string;
  unit: string;
  range: string;
  flag: string;
}

function oru(options: {
  controlId: string;
  mrn: string;
  filler: string;
  status?: 'F' | 'C' | 'P';
  obx: Obx[];
  orderCode?: string;
}): string {
  const status = options.status ?? 'F';
  return [
    `MSH|^~\\&|SIMLIS|NWH-LAB|EHR|NWH|20261126080000||ORU^R01^ORU_R01|${options.controlId}|P|2.5.1`,
    `PID|1||${options.mrn}^^^NWH^MR||Testpatient^Alex^J||19750412|F`,
    `ORC|RE|PL-${options.filler}|${options.filler}`,
    `OBR|1|PL-${options.filler}|${options.filler}|${options.orderCode ?? 'BMP'}^Basic metabolic panel^L|||20261126071500|||||||||DR1^Welby^Marcus||||||20261126075500|||${status}`,
    ...options.obx.map(
      (o, i) =>
        `OBX|${i + 1}|NM|${o.code}^${o.code}^L||${o.value}|${o.unit}|${o.range}|${o.flag}|||${status}|||20261126071500`,
    ),
  ].join('\r');
}

const BMP: Obx[] = [
  { code: 'NA', value: '139', unit: 'mmol/L', range: '136-145', flag: 'N' },
  { code: 'K', value: '6.8', unit: 'mmol/L', range: '3.5-5.1', flag: 'HH' },
  { code: 'GLU', value: '182', unit: 'mg/dL', range: '70-99', flag: 'H' },
];

/** The DiagnosticReport of a filler order number, once it has reached the given version. */
async function reportFor(filler: string, expectedVersion = '1'): Promise<Resource> {
  return waitFor(
    async () => {
      const reports = await fhirGet<Bundle>(
        fhir,
        `DiagnosticReport?identifier=${encodeURIComponent(filler)}`,
      );
      const report = reports.body.entry?.[0]?.resource;
      return report && report.meta.versionId === expectedVersion ? report : undefined;
    },
    {
      timeoutMs: 60_000,
      intervalMs: 200,
      description: `DiagnosticReport v${expectedVersion} for ${filler}`,
    },
  );
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
  tracing = startTracing({
    serviceName: 'e2e',
    spanProcessors: [new SimpleSpanProcessor({ exporter: spans })],
  });
  platform = await startLabPlatform(logger);
  fhir = platform.ehrWriter.fhirBaseUrl;
  client = new MllpClient({
    host: '127.0.0.1',
    port: platform.gateway.mllpPort,
    ackTimeoutMs: 15_000,
    retry: { maxAttempts: 1 },
  });
}, 180_000);

afterAll(async () => {
  // Set-up may have failed part-way: clean up what exists, leave its error to speak.
  await (client as MllpClient | undefined)?.close();
  await (platform as LabPlatform | undefined)?.stop();
  await (tracing as TracingHandle | undefined)?.shutdown();
}, 120_000);

describe('lab results end to end', () => {
  const mrn = uniqueName('MRN');
  const filler = uniqueName('FL');
  const first = controlId();

  it('acknowledges an ORU^R01 with AA and serves it as DiagnosticReport + Observations (LOINC, UCUM, interpretation, range)', async () => {
    const ack = await client.send(oru({ controlId: first, mrn, filler, obx: BMP }));
    expect(ack.code).toBe('AA');

    const report = await reportFor(filler);
    expect(report).toMatchObject({
      resourceType: 'DiagnosticReport',
      status: 'final',
      code: {
        coding: expect.arrayContaining([
          expect.objectContaining({ system: 'http://loinc.org', code: '51990-0' }),
        ]) as unknown,
      },
    });
    const bundle = await fhirGet<Bundle>(
      fhir,
      `DiagnosticReport?identifier=${filler}&_include=DiagnosticReport:result`,
    );
    const observations = (bundle.body.entry ?? [])
      .map((e) => e.resource)
      .filter((r) => r.resourceType === 'Observation');
    expect(observations).toHaveLength(3);
    const potassium = observations.find((o) =>
      JSON.stringify(o['code']).includes('"2823-3"'),
    ) as Resource & Record<string, unknown>;
    expect(potassium).toMatchObject({
      status: 'final',
      valueQuantity: {
        value: 6.8,
        unit: 'mmol/L',
        system: 'http://unitsofmeasure.org',
        code: 'mmol/L',
      },
      interpretation: [{ coding: [expect.objectContaining({ code: 'HH' })] }],
      referenceRange: [
        expect.objectContaining({
          low: expect.objectContaining({ value: 3.5 }) as unknown,
          high: expect.objectContaining({ value: 5.1 }) as unknown,
        }),
      ],
    });
    // The original local code travels with the LOINC code.
    expect(JSON.stringify(potassium['code'])).toContain('"K"');
  });

  it('raises a critical-value alert for the potassium of that message and announces the written report', async () => {
    const stack = testStack();
    const reader = new Messaging(
      { service: 'e2e-reader', brokers: stack.kafkaBrokers, registryUrl: stack.registryUrl },
      logger,
    );
    const ofFirst = (m: KafkaMessage) =>
      m.headers?.[MessageHeaders.messageControlId]?.toString() === first;
    try {
      const [alertRecord] = (
        await readTopic(reader.kafka, Topics.clinicalAlerts.name, {
          until: (records) => records.some(ofFirst),
          description: 'the critical alert',
        })
      ).filter(ofFirst);
      const alert = await reader.codec.decode<CriticalAlert>(
        CriticalAlertContract,
        alertRecord!.value,
      );
      expect(alert).toMatchObject({ loincCode: '2823-3', numeric: 6.8, unit: 'mmol/L' });
      expect(alert.reason).toMatch(/HH|critical high/);

      const [writtenRecord] = (
        await readTopic(reader.kafka, Topics.clinicalResultsWritten.name, {
          until: (records) => records.some(ofFirst),
          description: 'the ResultWritten event',
        })
      ).filter(ofFirst);
      const written = await reader.codec.decode<ResultWritten>(
        ResultWrittenContract,
        writtenRecord!.value,
      );
      const report = await reportFor(filler);
      expect(written).toMatchObject({
        messageControlId: first,
        diagnosticReportId: report.id,
        versionId: 1,
        observationCount: 3,
        outcome: 'CREATED',
      });
      expect(written.writtenAt).toBeGreaterThanOrEqual(written.receivedAt);
    } finally {
      await reader.close();
    }
  });

  it('announces a result redelivered after a crash between its commit and its announcement as CREATED', async () => {
    // The ehr-writer committed this result and died before publishing ResultWritten: the write
    // goes through its repository directly, then Kafka delivers the record again.
    const redeliveredId = controlId();
    const bytes = Buffer.from(
      oru({ controlId: redeliveredId, mrn: uniqueName('MRN'), filler: uniqueName('FL'), obx: BMP }),
    );
    const [result] = normalizeLabMessage(
      Hl7Message.parse(bytes),
      {
        sourceSystem: platform.sourceSystem,
        envelopeId: null,
        receivedAt: Date.now(),
        payloadDigest: payloadDigest(bytes),
      },
      loadTerminology(),
    );
    const committed = await platform.ehrWriter.app.get(FhirStore).writeLabResult(result!);
    expect(committed.outcome).toBe('CREATED');

    const stack = testStack();
    const messaging = new Messaging(
      { service: 'e2e-redelivery', brokers: stack.kafkaBrokers, registryUrl: stack.registryUrl },
      logger,
    );
    try {
      await messaging.connect();
      await messaging.producer.publish<LabResult>(Topics.clinicalResults, {
        key: resultKey(result!),
        value: result!,
        context: newMessageContext({
          messageControlId: redeliveredId,
          sourceSystem: platform.sourceSystem,
        }),
      });
      const ofRedelivered = (m: KafkaMessage) =>
        m.headers?.[MessageHeaders.messageControlId]?.toString() === redeliveredId;
      const [record] = (
        await readTopic(messaging.kafka, Topics.clinicalResultsWritten.name, {
          until: (records) => records.some(ofRedelivered),
          description: 'the ResultWritten of the redelivered result',
        })
      ).filter(ofRedelivered);
      const written = await messaging.codec.decode<ResultWritten>(
        ResultWrittenContract,
        record!.value,
      );
      expect(written).toMatchObject({
        eventId: result!.eventId,
        outcome: 'CREATED',
        diagnosticReportId: committed.diagnosticReportId,
      });
    } finally {
      await messaging.close();
    }
  });

  it('links the gateway, normalizer and ehr-writer spans of that message in one trace', async () => {
    await waitFor(
      () =>
        spans.getFinishedSpans().some((s) => s.name === `${Topics.clinicalResults.name} process`),
      { description: 'the ehr-writer span' },
    );
    const received = spans
      .getFinishedSpans()
      .find((s) => s.attributes['hl7.message_control_id'] === first);
    expect(received).toBeDefined();
    const traceId = received!.spanContext().traceId;
    const names = spans
      .getFinishedSpans()
      .filter((s) => s.spanContext().traceId === traceId)
      .map((s) => s.name);
    expect(names).toEqual(
      expect.arrayContaining([
        `${Topics.labHl7Inbound.name} receive`,
        `${Topics.labHl7Inbound.name} process`,
        `${Topics.clinicalResults.name} publish`,
        `${Topics.clinicalResults.name} process`,
      ]),
    );
  });

  it('gives one report for a message sent twice, and for the same result resent under a new MSH-10', async () => {
    expect((await client.send(oru({ controlId: first, mrn, filler, obx: BMP }))).code).toBe('AA');
    expect((await client.send(oru({ controlId: controlId(), mrn, filler, obx: BMP }))).code).toBe(
      'AA',
    );
    // A later message for the same patient (same partition) is processed after both.
    const marker = uniqueName('FL');
    await client.send(oru({ controlId: controlId(), mrn, filler: marker, obx: BMP.slice(0, 1) }));
    await waitFor(
      async () =>
        (await fhirGet<Bundle>(fhir, `DiagnosticReport?identifier=${marker}`)).body.total === 1,
      {
        timeoutMs: 60_000,
        description: 'the marker report',
      },
    );
    const reports = await fhirGet<Bundle>(fhir, `DiagnosticReport?identifier=${filler}`);
    expect(reports.body.total).toBe(1);
    expect(reports.body.entry![0]!.resource.meta.versionId).toBe('1');
  });

  it('makes a corrected result (status C) version 2 of the same Observation and DiagnosticReport', async () => {
    const before = await reportFor(filler);
    const corrected = BMP.map((o) => (o.code === 'GLU' ? { ...o, value: '128', flag: 'H' } : o));
    const ack = await client.send(
      oru({ controlId: controlId(), mrn, filler, status: 'C', obx: corrected }),
    );
    expect(ack.code).toBe('AA');
    const after = await reportFor(filler, '2');
    expect(after.id).toBe(before.id);
    expect(after['status']).toBe('corrected');

    const glucose = await fhirGet<Bundle>(
      fhir,
      `Observation?code=http://loinc.org|2345-7&patient=${(after['subject'] as { reference: string }).reference.replace('Patient/', '')}`,
    );
    expect(glucose.body.total).toBe(1);
    const observation = glucose.body.entry![0]!.resource;
    expect(observation.meta.versionId).toBe('2');
    expect(observation['valueQuantity']).toMatchObject({ value: 128 });
    const history = await fhirGet<Bundle>(fhir, `Observation/${observation.id}/_history`);
    expect(history.body.total ?? history.body.entry?.length).toBe(2);
  });

  it('does not take a new message under a reused MSH-10 for a resend: both reach the chart', async () => {
    // LIS control-id counters restart after a restore; a new result under an old MSH-10 must
    // not be acknowledged as a duplicate by the gateway nor skipped as a replay by the chart.
    const reused = controlId();
    const [firstFiller, secondFiller] = [uniqueName('FL'), uniqueName('FL')];
    const reusedMrn = uniqueName('MRN');
    for (const f of [firstFiller, secondFiller]) {
      const ack = await client.send(
        oru({ controlId: reused, mrn: reusedMrn, filler: f, obx: BMP }),
      );
      expect(ack.code).toBe('AA');
    }
    await reportFor(firstFiller);
    await reportFor(secondFiller);
  });

  it('answers a malformed or unaccepted message with AR and an ERR naming the problem, and stays up', async () => {
    const notAResult = oru({
      controlId: controlId(),
      mrn,
      filler: uniqueName('FL'),
      obx: BMP,
    }).replace('ORU^R01^ORU_R01', 'ADT^A01^ADT_A01');
    const refused = await client.send(notAResult).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(MllpNackError);
    expect((refused as MllpNackError).ackCode).toBe('AR');
    expect((refused as MllpNackError).errorText).toMatch(/ADT\^A01 is not accepted/);
    // Bytes that are not a message at all (a truncated MSH) get AR with the parse error.
    const answer = await rawExchange(platform.gateway.mllpPort, Buffer.from('MSH|^~'));
    expect(answer).toMatch(/MSA\|AR/);
    expect(answer).toMatch(/ERR\|/);
    // Still serving.
    expect(
      (await client.send(oru({ controlId: controlId(), mrn, filler: uniqueName('FL'), obx: BMP })))
        .code,
    ).toBe('AA');
  });

  it('dead-letters an unmapped code with its reason; after the mapping is added, the replay command brings it to the chart', async () => {
    const unmappedMrn = uniqueName('MRN');
    const unmappedId = controlId();
    const unmappedFiller = uniqueName('FL');
    const obx = [{ code: 'ZZTOX', value: '12', unit: 'ng/mL', range: '0-20', flag: 'N' }];
    expect(
      (
        await client.send(
          oru({ controlId: unmappedId, mrn: unmappedMrn, filler: unmappedFiller, obx }),
        )
      ).code,
    ).toBe('AA');

    const stack = testStack();
    const isOurs = (m: KafkaMessage) =>
      m.headers?.[MessageHeaders.messageControlId]?.toString() === unmappedId;
    const reader = new Messaging(
      { service: 'e2e-reader', brokers: stack.kafkaBrokers, registryUrl: stack.registryUrl },
      logger,
    );
    let deadLetters: KafkaMessage[];
    try {
      deadLetters = await readTopic(reader.kafka, deadLetterTopicOf(Topics.labHl7Inbound.name), {
        until: (records) => records.some(isOurs),
        timeoutMs: 60_000,
        description: 'the dead letter',
      });
    } finally {
      await reader.close();
    }
    const reason = deadLetters.find(isOurs)?.headers?.[DeadLetterHeaders.errorMessage]?.toString();
    expect(reason).toMatch(/ZZTOX/);
    expect(reason).toMatch(/NWH-LAB/);

    // The analyst adds the mapping and reloads the tables…
    appendFileSync(
      join(platform.terminologyDir, 'lab-codes.csv'),
      'NWH-LAB,ZZTOX,L,Tox screen quant,3426-4,Tetrahydrocannabinol [Mass/volume] in Urine,NM,ng/mL,ng/mL,0,20,0\n',
    );
    const reload = await fetch(`${platform.normalizer.url}/admin/terminology/reload`, {
      method: 'POST',
    });
    expect(reload.status).toBe(200);
    // …and replays the dead letter with the command from the runbook.
    const { stdout } = await promisify(execFile)(
      'npm',
      [
        'run',
        '--silent',
        'dlt:replay',
        '--',
        '--topic',
        deadLetterTopicOf(Topics.labHl7Inbound.name),
        '--control-id',
        unmappedId,
        '--yes',
      ],
      {
        cwd: join(__dirname, '../../..'),
        env: { ...process.env, NODE_OPTIONS: '' },
        timeout: 120_000,
      },
    );
    expect(stdout).toMatch(/replayed/i);
    const report = await reportFor(unmappedFiller);
    expect(report['status']).toBe('final');
  });

  it('logged no unexpected errors', () => {
    const errors = lines().filter((l) => l.level === 'error' || l.level === 50);
    expect(errors).toEqual([]);
  });
});
