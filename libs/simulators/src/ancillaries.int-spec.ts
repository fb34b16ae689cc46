/**
 * The order-receiving simulators against real MLLP peers on loopback port 0 (no Kafka needed):
 * an MllpClient plays the gateway's order sender, an MllpServer the gateway's inbound port; a
 * small node:http server stands in for the pharmacy gateway's FHIR endpoint.
 */
import { readOruR01, type Hl7Message } from '@ancillary/hl7-core';
import {
  MllpClient,
  MllpConnectionError,
  MllpNackError,
  MllpResult,
  MllpServer,
  MllpTimeoutError,
} from '@ancillary/hl7-mllp';
import { loadTerminology } from '@ancillary/terminology';
import { waitFor } from '@ancillary/testing';
import * as http from 'node:http';
import type * as net from 'node:net';
import type { AncillaryEvent } from './ancillary-orders';
import { FhirPharmacyAncillary } from './fhir-pharmacy.ancillary';
import { LisAncillary } from './lis.ancillary';
import type { OrderReceivingAncillaryOptions } from './order-receiving.ancillary';
import { PharmacyAncillary } from './pharmacy.ancillary';
import { RisAncillary } from './ris.ancillary';

const terminology = loadTerminology();
const LOOPBACK = '127.0.0.1';

/** A FHIR resource as the tests read it. */
interface FhirJson {
  id?: string;
  status?: string;
  identifier?: { system?: string; value?: string }[];
  [key: string]: unknown;
}

interface OrderSpec {
  controlId: string;
  placer: string;
  control?: 'NW' | 'CA';
  filler?: string;
  code?: string;
  priority?: 'S' | 'R';
  type?: 'ORM^O01' | 'OML^O21';
}

/** An order as the lab gateway sends it (v2.5.1: TQ1-9 priority, OBR-4 local + LOINC). */
function labOrder(spec: OrderSpec): string {
  const type = spec.type ?? 'ORM^O01';
  const structure = type === 'ORM^O01' ? 'ORM_O01' : 'OML_O21';
  const code = spec.code ?? 'BMP^Basic metabolic panel^L^51990-0^Basic metabolic panel - Blood^LN';
  const priority = spec.priority ?? 'R';
  return [
    `MSH|^~\\&|ANCILLARY-HUB|NWH|SIMLIS|NWH-LAB|20260105080000+0000||${type}^${structure}|${spec.controlId}|P|2.5.1||||||UNICODE UTF-8`,
    'PID|1||40001234^^^NWH^MR||Müller^Anna^J||19700101|F',
    'PV1|1|O|OPC^^^NWH',
    `ORC|${spec.control ?? 'NW'}|${spec.placer}^ANCILLARY-HUB|${spec.filler ? `${spec.filler}^SIMLIS` : ''}|||||||||1234567890^Okafor^Ngozi`,
    `TQ1|1||||||||${priority}^${priority === 'S' ? 'Stat' : 'Routine'}^HL70485`,
    `OBR|1|${spec.placer}^ANCILLARY-HUB||${code}|||||||||||1234567890^Okafor^Ngozi`,
    '',
  ].join('\r');
}

function radiologyOrder(controlId: string, placer: string): string {
  return [
    `MSH|^~\\&|ANCILLARY-HUB|NWH|SIMRIS|NWH-RAD|20260105080000+0000||ORM^O01|${controlId}|P|2.3||||||8859/1`,
    'PID|1||40005678^^^NWH^MR||Dubois^Léa||19551212|F',
    'PV1|1|E|ED^12^A^NWH',
    `ORC|NW|${placer}^ANCILLARY-HUB|||||^^^^^S||20260105080000+0000|||2222^Gray^Henry`,
    `OBR|1|${placer}^ANCILLARY-HUB||XRCH2V^XR chest PA and lateral^L^71046^Radiologic examination, chest; 2 views^C4|S||||||||Cough \\T\\ fever|||2222^Gray^Henry|||||||||||^^^^^S`,
    '',
  ].join('\r');
}

function pharmacyOrder(controlId: string, placer: string): string {
  return [
    `MSH|^~\\&|ANCILLARY-HUB|NWH|SIMRX|NWH-RX|20260105080000+0000||RDE^O11^RDE_O11|${controlId}|P|2.5.1`,
    'PID|1||40009999^^^NWH^MR||Nakamura^Hiroshi||19800303|M',
    'PV1|1|I|4W^412^B^NWH',
    `ORC|NW|${placer}^ANCILLARY-HUB||||||||||3333^Patel^Priya`,
    'RXO|AMLO5^Amlodipine 5 mg tab^L^197361^amlodipine 5 MG Oral Tablet^RXNORM|5||mg^mg^UCUM|||||||30|TAB|2',
    'RXR|PO^Oral^HL70162',
    'RXE||99901-0101-30^Amlodipine 5 mg tablet (bottle of 30; synthetic)^NDC|5||mg^mg^UCUM|^Oral Tablet|^Take one tablet daily|||30|TAB|2',
    'TQ1|1||QD||||||R^Routine^HL70485',
    'RXR|PO^Oral^HL70162',
    '',
  ].join('\r');
}

describe('order-receiving simulators over MLLP', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** The gateway's inbound MLLP port: keeps every message and answers AA. */
  async function gatewayInbound() {
    const messages: Hl7Message[] = [];
    const server = new MllpServer({
      host: LOOPBACK,
      port: 0,
      handler: (message) => {
        messages.push(message);
        return MllpResult.accept();
      },
      closeTimeoutMs: 1000,
    });
    const { port } = await server.listen();
    cleanups.push(() => server.close());
    return { port, messages };
  }

  function client(port: number, maxAttempts = 1, ackTimeoutMs = 5000): MllpClient {
    const c = new MllpClient({
      host: LOOPBACK,
      port,
      ackTimeoutMs,
      retry: { maxAttempts, initialDelayMs: 10, maxDelayMs: 20 },
    });
    cleanups.push(() => c.close());
    return c;
  }

  async function startLis(
    resultPort: number,
    options: Partial<OrderReceivingAncillaryOptions> = {},
  ): Promise<{ sim: LisAncillary; events: AncillaryEvent[] }> {
    const events: AncillaryEvent[] = [];
    const sim = new LisAncillary({
      terminology,
      port: 0,
      resultPort,
      resultDelayMs: 30,
      seed: 7,
      runId: 'T1',
      resultRetry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 20 },
      onEvent: (event) => events.push(event),
      ...options,
    });
    await sim.start();
    cleanups.push(() => sim.stop());
    return { sim, events };
  }

  it('LIS: answers ORR^O02 AA with a filler number, then sends the ORU^R01 for exactly that order', async () => {
    const gateway = await gatewayInbound();
    const { sim } = await startLis(gateway.port);
    const sent = await client(sim.port).send(
      labOrder({ controlId: 'O1', placer: 'PLC-1', priority: 'S' }),
    );

    expect(sent.ack.messageType).toBe('ORR^O02');
    expect(sent.ack.get('MSH-9.3')).toBe('ORR_O02');
    expect(sent.ack.get('MSH-3')).toBe('SIMLIS');
    expect(sent.ack.get('MSA-1')).toBe('AA');
    expect(sent.ack.get('MSA-2')).toBe('O1');
    expect(sent.ack.get('ORC-1')).toBe('OK');
    expect(sent.ack.getRaw('ORC-2')).toBe('PLC-1^ANCILLARY-HUB');
    const filler = sent.ack.get('ORC-3') ?? '';
    expect(filler).toMatch(/^FT1\d{5}$/);
    expect(sent.ack.get('ORC-3.2')).toBe('SIMLIS');

    const [result] = await sim.waitForResults(1);
    await waitFor(() => gateway.messages.length === 1, { description: 'the ORU at the gateway' });
    const oru = gateway.messages[0]!;
    expect(oru.messageType).toBe('ORU^R01');
    expect(oru.version).toBe('2.5.1');
    expect(oru.get('MSH-3')).toBe('SIMLIS');
    expect(oru.get('MSH-4')).toBe('NWH-LAB');
    expect(oru.controlId).toBe(result?.resultId);
    expect(oru.getRaw('PID-3')).toBe('40001234^^^NWH^MR');
    expect(oru.get('PID-5')).toBe('Müller');
    expect(oru.getRaw('ORC-2')).toBe('PLC-1^ANCILLARY-HUB');
    expect(oru.get('ORC-3')).toBe(filler);
    expect(oru.getRaw('OBR-2')).toBe('PLC-1^ANCILLARY-HUB');
    expect(oru.get('OBR-3')).toBe(filler);
    expect(oru.getRaw('OBR-4')).toBe(
      'BMP^Basic metabolic panel^L^51990-0^Basic metabolic panel - Blood^LN',
    );
    expect(oru.get('OBR-25')).toBe('F');
    expect(oru.get('OBR-27.6')).toBe('S');
    expect(oru.getRaw('TQ1-9')).toBe('S^Stat^HL70485');
    // every component of the panel, coded as the laboratory codes them
    const order = readOruR01(oru).patientResults[0]?.orders[0];
    expect(order?.observations.map((o) => o.obx.get(3))).toEqual([
      'NA',
      'K',
      'CL',
      'CO2',
      'BUN',
      'CREA',
      'GLU',
      'CA',
    ]);
    expect(result).toMatchObject({
      placerOrderNumber: 'PLC-1',
      fillerOrderNumber: filler,
      code: 'BMP',
      stat: true,
      patientMrn: '40001234',
      status: 'resulted',
    });
    expect(sim.timings()).toEqual([
      expect.objectContaining({
        placerOrderNumber: 'PLC-1',
        stat: true,
        receivedAt: expect.any(Date) as Date,
        resultSentAt: expect.any(Date) as Date,
        resultAcknowledgedAt: expect.any(Date) as Date,
      }),
    ]);
  });

  it('LIS: OML^O21 is answered ORL^O22; a single test of lab-codes.csv is reported alone', async () => {
    const gateway = await gatewayInbound();
    const { sim } = await startLis(gateway.port);
    const sent = await client(sim.port).send(
      labOrder({
        controlId: 'O2',
        placer: 'PLC-2',
        type: 'OML^O21',
        code: 'K^Potassium^L^2823-3^Potassium^LN',
      }),
    );
    expect(sent.ack.messageType).toBe('ORL^O22');
    expect(sent.ack.get('MSA-1')).toBe('AA');
    await sim.waitForResults(1);
    await waitFor(() => gateway.messages.length === 1);
    expect(gateway.messages[0]!.getAll('OBX-3')).toEqual(['K']);
  });

  it('refuses what the script says with AR and the ERR text, and sends no result', async () => {
    const gateway = await gatewayInbound();
    const { sim } = await startLis(gateway.port, {
      script: 'reject:Analyzer offline@placer=PLC-9*',
    });
    const orders = client(sim.port);
    const refused = orders.send(labOrder({ controlId: 'O3', placer: 'PLC-9001' }));
    await expect(refused).rejects.toThrow(MllpNackError);
    const nack = (await refused.catch((e: unknown) => e)) as MllpNackError;
    expect(nack.ackCode).toBe('AR');
    expect(nack.errorText).toContain('Analyzer offline');
    expect(nack.ack.messageType).toBe('ORR^O02');
    expect(nack.ack.get('ORC-1')).toBe('UA');
    expect(nack.ack.get('ERR-8')).toBe('Analyzer offline');

    // another placer is accepted; its result is the only one
    await orders.send(labOrder({ controlId: 'O4', placer: 'PLC-1' }));
    await sim.waitForResults(1);
    await waitFor(() => gateway.messages.length === 1);
    expect(gateway.messages[0]!.get('OBR-2')).toBe('PLC-1');
    expect(sim.order('PLC-9001')).toMatchObject({
      status: 'rejected',
      rejectReason: 'Analyzer offline',
    });
  });

  it('refuses a test it does not run (AR, 103), whatever the script', async () => {
    const gateway = await gatewayInbound();
    const { sim } = await startLis(gateway.port);
    const refused = await client(sim.port)
      .send(labOrder({ controlId: 'O5', placer: 'PLC-5', code: 'ZZ999^Unknown^L' }))
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(MllpNackError);
    expect((refused as MllpNackError).ack.get('ERR-3')).toBe('103');
    expect((refused as MllpNackError).errorText).toContain('Unknown test code ZZ999');
    const adt = await client(sim.port)
      .send(
        'MSH|^~\\&|ANCILLARY-HUB|NWH|SIMLIS|NWH-LAB|20260105080000+0000||ADT^A01|A1|P|2.5.1\rPID|1||1^^^NWH^MR\r',
      )
      .catch((e: unknown) => e);
    expect((adt as MllpNackError).ackCode).toBe('AR');
    expect((adt as MllpNackError).errorText).toContain('SIMLIS does not accept ADT^A01');
    expect(sim.received()).toHaveLength(1);
  });

  it('drop: hangs up; the resend (same MSH-10) is taken once, and a later repeat gets the same answer', async () => {
    const gateway = await gatewayInbound();
    const { sim } = await startLis(gateway.port, { script: 'drop@1' });
    const order = labOrder({ controlId: 'O6', placer: 'PLC-6' });
    // the gateway's client resends after the connection loss
    const first = await client(sim.port, 2).send(order);
    expect(first.attempts).toBe(2);
    const filler = first.ack.get('ORC-3');
    // a third send of the same message (a replayed outbox row): same answer, not a new order
    const again = await client(sim.port).send(order);
    expect(again.ack.get('ORC-3')).toBe(filler);
    expect(again.ack.toString()).toBe(first.ack.toString());
    expect(sim.received().map((r) => [r.action, r.duplicate, r.answer])).toEqual([
      ['drop', false, 'dropped'],
      ['accept', false, 'AA'],
      ['repeat', true, 'AA'],
    ]);
    // a marker order: results go out in order of their (equal) delays, so a second result
    // for PLC-6 would reach the gateway before this one's
    await client(sim.port).send(labOrder({ controlId: 'O7', placer: 'PLC-7' }));
    await sim.waitForResults(2);
    await waitFor(() => gateway.messages.length >= 2);
    expect(gateway.messages.map((m) => m.get('OBR-2'))).toEqual(['PLC-6', 'PLC-7']);
    expect(sim.orders()).toHaveLength(2);
  });

  it('lose-ack: takes the order, hangs up; the resend gets the same filler and no second result', async () => {
    const gateway = await gatewayInbound();
    const { sim } = await startLis(gateway.port, { script: 'lose-ack@1' });
    const sent = await client(sim.port, 2).send(labOrder({ controlId: 'O8', placer: 'PLC-8' }));
    expect(sent.attempts).toBe(2);
    expect(sim.received().map((r) => r.answer)).toEqual(['dropped', 'AA']);
    expect(sim.received()[1]?.duplicate).toBe(true);
    await client(sim.port).send(labOrder({ controlId: 'O9', placer: 'PLC-9' }));
    await sim.waitForResults(2);
    await waitFor(() => gateway.messages.length >= 2);
    expect(gateway.messages.map((m) => m.get('OBR-3'))).toEqual([
      sent.ack.get('ORC-3'),
      expect.stringMatching(/^FT1/),
    ]);
  });

  it('error: AE first (transient), the resend of the same message is accepted', async () => {
    const gateway = await gatewayInbound();
    const { sim } = await startLis(gateway.port, { script: 'error:Interface engine busy@1' });
    const sent = await client(sim.port, 2).send(labOrder({ controlId: 'O10', placer: 'PLC-10' }));
    expect(sent.attempts).toBe(2);
    expect(sim.received().map((r) => r.answer)).toEqual(['AE', 'AA']);
    await sim.waitForResults(1);
  });

  it('delay answers late; silent never answers; down() refuses connections and up() listens again', async () => {
    const gateway = await gatewayInbound();
    const { sim } = await startLis(gateway.port, { script: 'delay:300@1, silent@2' });
    const started = Date.now();
    await client(sim.port).send(labOrder({ controlId: 'O11', placer: 'PLC-11' }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    await expect(
      client(sim.port, 1, 300).send(labOrder({ controlId: 'O12', placer: 'PLC-12' })),
    ).rejects.toThrow(MllpTimeoutError);
    expect(sim.order('PLC-12')).toBeUndefined();

    const port = sim.port;
    await sim.down();
    expect(sim.isUp).toBe(false);
    await expect(
      client(port).send(labOrder({ controlId: 'O13', placer: 'PLC-13' })),
    ).rejects.toThrow(MllpConnectionError);
    await sim.up();
    expect(sim.port).toBe(port);
    const sent = await client(port).send(labOrder({ controlId: 'O13', placer: 'PLC-13' }));
    expect(sent.ack.get('MSA-1')).toBe('AA');
    // state survived: PLC-11 still known
    expect(sim.order('PLC-11')?.fillerOrderNumber).toMatch(/^FT1/);
  });

  it('cancel before the result: ORC-1 CR and no result; cancel after the result: AR, ORC-1 UC', async () => {
    const gateway = await gatewayInbound();
    const { sim, events } = await startLis(gateway.port, { resultDelayMs: 1000 });
    const orders = client(sim.port);
    const accepted = await orders.send(labOrder({ controlId: 'O20', placer: 'PLC-20' }));
    const filler = accepted.ack.get('ORC-3') ?? '';
    const cancelled = await orders.send(
      labOrder({ controlId: 'O21', placer: 'PLC-20', control: 'CA', filler }),
    );
    expect(cancelled.ack.get('ORC-1')).toBe('CR');
    expect(cancelled.ack.get('ORC-3')).toBe(filler);
    expect(sim.order('PLC-20')?.status).toBe('cancelled');
    await waitFor(
      () =>
        events.find((e) => e.type === 'result-skipped' && e.order.placerOrderNumber === 'PLC-20'),
      { description: 'the skipped result' },
    );

    sim.setScript('accept');
    await orders.send(labOrder({ controlId: 'O22', placer: 'PLC-22' }));
    await sim.waitForResults(1);
    await waitFor(() => gateway.messages.length === 1);
    expect(gateway.messages.map((m) => m.get('OBR-2'))).toEqual(['PLC-22']);
    const late = await orders
      .send(labOrder({ controlId: 'O23', placer: 'PLC-22', control: 'CA' }))
      .catch((e: unknown) => e);
    expect(late).toBeInstanceOf(MllpNackError);
    expect((late as MllpNackError).ack.get('ORC-1')).toBe('UC');
    expect((late as MllpNackError).errorText).toContain('already resulted');
  });

  it('sends an ORC-5 IP status update before the result when asked', async () => {
    const gateway = await gatewayInbound();
    const { sim } = await startLis(gateway.port, { statusUpdates: true, resultDelayMs: 100 });
    await client(sim.port).send(labOrder({ controlId: 'O30', placer: 'PLC-30' }));
    await sim.waitForResults(1);
    await waitFor(() => gateway.messages.length === 2);
    const [status, result] = gateway.messages;
    expect(status?.messageType).toBe('ORM^O01');
    expect(status?.get('ORC-1')).toBe('SC');
    expect(status?.get('ORC-5')).toBe('IP');
    expect(status?.get('ORC-2')).toBe('PLC-30');
    expect(result?.messageType).toBe('ORU^R01');
  });

  it('RIS: ORR^O02 with an accession number, then a v2.3 report with TX lines, FT impression and study UID', async () => {
    const gateway = await gatewayInbound();
    const sim = new RisAncillary({
      terminology,
      port: 0,
      resultPort: gateway.port,
      resultDelayMs: 30,
      seed: 3,
      runId: 'T2',
    });
    await sim.start();
    cleanups.push(() => sim.stop());
    const sent = await client(sim.port).send(radiologyOrder('R1', 'RAD-1'));
    expect(sent.ack.get('MSA-1')).toBe('AA');
    expect(sent.ack.getRaw('MSH-9')).toBe('ORR^O02'); // v2.3 has no message structure
    const accession = sent.ack.get('ORC-3') ?? '';
    expect(accession).toMatch(/^AT2\d{5}$/);
    await sim.waitForResults(1);
    await waitFor(() => gateway.messages.length === 1);
    const report = gateway.messages[0]!;
    expect(report.version).toBe('2.3');
    expect(report.get('MSH-3')).toBe('SIMRIS');
    expect(report.get('MSH-4')).toBe('NWH-RAD');
    expect(report.getRaw('OBR-4')).toBe('XRCH2V^XR chest PA and lateral^L');
    expect(report.get('OBR-18')).toBe(accession);
    expect(report.get('OBR-3')).toBe(accession);
    expect(report.get('OBR-25')).toBe('F');
    expect(report.get('OBR-27.6')).toBe('S');
    expect(report.get('OBR-32')).toMatch(/^17400000\d\d$/);
    const obx = report.segments('OBX');
    expect(obx.filter((s) => s.get(2) === 'TX').length).toBeGreaterThanOrEqual(6);
    expect(obx.find((s) => s.get(2) === 'TX')?.getRaw(3)).toBe('18782-3^Study observation^LN');
    expect(obx.some((s) => s.get(5) === 'CLINICAL HISTORY: Cough & fever')).toBe(true);
    const impression = obx.find((s) => s.get(2) === 'FT');
    expect(impression?.getRaw(3)).toBe('19005-8^Impression^LN');
    const uid = obx.find((s) => s.get(3) === '113014');
    expect(uid?.getRaw(3)).toBe('113014^Study Instance UID^DCM');
    expect(uid?.get(5)).toMatch(/^1\.2\.826\.0\.1\.3680043\.8\.498\.\d+$/);
  });

  it('pharmacy: RRE^O12 with a prescription number, then RDS^O13 with the formulary NDC', async () => {
    const gateway = await gatewayInbound();
    const sim = new PharmacyAncillary({
      terminology,
      port: 0,
      resultPort: gateway.port,
      resultDelayMs: 30,
      runId: 'T3',
    });
    await sim.start();
    cleanups.push(() => sim.stop());
    const sent = await client(sim.port).send(pharmacyOrder('P1', 'RXP-1'));
    expect(sent.ack.messageType).toBe('RRE^O12');
    expect(sent.ack.get('MSA-1')).toBe('AA');
    const prescription = sent.ack.get('ORC-3') ?? '';
    expect(prescription).toMatch(/^RXT3\d{5}$/);
    expect(sent.ack.get('RXE-2')).toBe('99901-0101-30');
    await sim.waitForResults(1);
    await waitFor(() => gateway.messages.length === 1);
    const rds = gateway.messages[0]!;
    expect(rds.messageType).toBe('RDS^O13');
    expect(rds.get('MSH-3')).toBe('SIMRX');
    expect(rds.get('MSH-4')).toBe('NWH-RX');
    expect(rds.get('ORC-2')).toBe('RXP-1');
    expect(rds.get('ORC-3')).toBe(prescription);
    expect(rds.getRaw('RXD-2')).toBe(
      '99901-0101-30^Amlodipine 5 mg tablet (bottle of 30; synthetic)^NDC',
    );
    expect(rds.get('RXD-4')).toBe('30');
    expect(rds.get('RXD-5')).toBe('TAB');
    expect(rds.get('RXD-7')).toBe(prescription);
    expect(rds.get('RXD-8')).toBe('2');
    expect(rds.get('RXD-10.7')).toBe('PharmD');
  });
});

describe('FHIR pharmacy mode', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** The pharmacy gateway's POST /fhir/MedicationDispense: the first answer is 503. */
  async function gatewayFhir() {
    const dispenses: Record<string, unknown>[] = [];
    let calls = 0;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        calls += 1;
        if (req.method !== 'POST' || req.url !== '/fhir/MedicationDispense') {
          res.writeHead(404).end();
          return;
        }
        if (calls === 1) {
          res.writeHead(503).end();
          return;
        }
        dispenses.push(
          JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
        );
        res.writeHead(201, { 'content-type': 'application/fhir+json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => {
            resolve();
          });
        }),
    );
    return { url: `http://${LOOPBACK}:${(server.address() as net.AddressInfo).port}`, dispenses };
  }

  function medicationRequest(placer: string, rxnorm = '197361') {
    return {
      resourceType: 'MedicationRequest',
      identifier: [
        {
          type: {
            coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'PLAC' }],
          },
          system: 'urn:ancillary:placer-order',
          value: placer,
        },
      ],
      status: 'active',
      intent: 'order',
      priority: 'routine',
      medicationCodeableConcept: {
        coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: rxnorm }],
      },
      // as the pharmacy gateway sends it: the patient contained, MRN typed MR
      contained: [
        {
          resourceType: 'Patient',
          id: 'patient',
          identifier: [
            {
              type: {
                coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }],
              },
              system: 'urn:oid:2.16.840.1.113883.3.999',
              value: '40009999',
            },
          ],
        },
      ],
      subject: { reference: '#patient' },
      dosageInstruction: [{ timing: { repeat: { frequency: 2, period: 1, periodUnit: 'd' } } }],
      dispenseRequest: { quantity: { value: 30, unit: 'TAB' } },
    };
  }

  async function post(base: string, body: unknown, placer?: string) {
    const response = await fetch(`${base}/MedicationRequest`, {
      method: 'POST',
      headers: {
        'content-type': 'application/fhir+json',
        ...(placer
          ? {
              'if-none-exist': `identifier=${encodeURIComponent('urn:ancillary:placer-order')}|${encodeURIComponent(placer)}`,
            }
          : {}),
      },
      body: JSON.stringify(body),
    });
    return {
      status: response.status,
      headers: response.headers,
      body: (await response.json()) as FhirJson,
    };
  }

  async function startPharmacy(gatewayUrl: string, script?: string) {
    const sim = new FhirPharmacyAncillary({
      terminology,
      port: 0,
      gatewayUrl,
      resultDelayMs: 50,
      runId: 'T4',
      dispenseRetry: { maxAttempts: 5, initialDelayMs: 10, maxDelayMs: 20 },
      ...(script ? { script } : {}),
    });
    await sim.start();
    cleanups.push(() => sim.stop());
    return sim;
  }

  it('201 then 200 for the same placer; the MedicationDispense reaches the gateway (after a 503)', async () => {
    const gateway = await gatewayFhir();
    const sim = await startPharmacy(gateway.url);
    const created = await post(sim.baseUrl, medicationRequest('MRX-1'), 'MRX-1');
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toContain(
      `/MedicationRequest/${created.body.id ?? '?'}`,
    );
    const filler = created.body.identifier?.find(
      (i) => i.system === 'urn:ancillary:filler-order:pharmacy-main',
    );
    expect(filler?.value).toMatch(/^RXT4\d{5}$/);
    const repeated = await post(sim.baseUrl, medicationRequest('MRX-1'), 'MRX-1');
    expect(repeated.status).toBe(200);
    expect(repeated.body.id).toBe(created.body.id);

    const [order] = await sim.waitForResults(1);
    expect(order?.resultAttempts).toBe(2);
    expect(gateway.dispenses).toHaveLength(1);
    expect(gateway.dispenses[0]).toMatchObject({
      resourceType: 'MedicationDispense',
      status: 'completed',
      identifier: [
        { system: 'urn:ancillary:dispense:pharmacy-main', value: `${filler?.value ?? '?'}-1` },
      ],
      medicationCodeableConcept: {
        coding: [
          { system: 'http://hl7.org/fhir/sid/ndc', code: '99901-0101-30' },
          { system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '197361' },
        ],
      },
      subject: { identifier: { system: 'urn:oid:2.16.840.1.113883.3.999', value: '40009999' } },
      authorizingPrescription: [
        { identifier: { system: 'urn:ancillary:placer-order', value: 'MRX-1' } },
      ],
      quantity: { value: 30, unit: 'TAB' },
      daysSupply: { value: 15, code: 'd' },
      performer: [
        { actor: { identifier: { value: expect.stringMatching(/^16500000\d\d$/) as string } } },
      ],
      whenHandedOver: expect.any(String) as string,
    });
    expect(sim.received().map((r) => [r.duplicate, r.answer])).toEqual([
      [false, 'HTTP 201'],
      [true, 'HTTP 200'],
    ]);
  });

  it('scripted 422 and 503; a drug outside the formulary is refused; a cancel stops the dispense', async () => {
    const gateway = await gatewayFhir();
    const sim = await startPharmacy(
      gateway.url,
      'reject:Prescriber not credentialed@placer=BAD*, error@2',
    );
    const refused = await post(sim.baseUrl, medicationRequest('BAD-1'));
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', diagnostics: 'Prescriber not credentialed' }],
    });
    expect((await post(sim.baseUrl, medicationRequest('MRX-2'))).status).toBe(503);
    expect((await post(sim.baseUrl, medicationRequest('MRX-3', '000000'))).status).toBe(422);

    sim.setScript('accept');
    const response = await post(sim.baseUrl, medicationRequest('MRX-4'));
    expect(response.status).toBe(201);
    const cancel = await fetch(
      `${sim.baseUrl}/MedicationRequest?identifier=urn:ancillary:placer-order|MRX-4`,
      {
        method: 'PUT',
        headers: { 'content-type': 'application/fhir+json' },
        body: JSON.stringify({ ...medicationRequest('MRX-4'), status: 'cancelled' }),
      },
    );
    expect(cancel.status).toBe(200);
    expect(((await cancel.json()) as { status: string }).status).toBe('cancelled');
    expect(sim.order('MRX-4')?.status).toBe('cancelled');
    // the resend of the 503'd request is accepted and dispensed; the cancelled one never is
    expect((await post(sim.baseUrl, medicationRequest('MRX-2'))).status).toBe(201);
    await sim.waitForResults(1);
    expect(
      gateway.dispenses.map(
        (d) =>
          (d.authorizingPrescription as { identifier: { value: string } }[])[0]?.identifier.value,
      ),
    ).toEqual(['MRX-2']);
    expect(sim.order('MRX-4')?.status).toBe('cancelled');
  });
});
