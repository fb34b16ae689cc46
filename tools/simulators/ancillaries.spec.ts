/**
 * The sim:ancillaries command: options over the environment, event lines, and a whole run as a
 * child process — an order in over MLLP, its result out to a real MLLP server standing in for
 * the lab gateway, the summary on SIGINT.
 */
import type { Hl7Message } from '@ancillary/hl7-core';
import { MllpClient, MllpResult, MllpServer } from '@ancillary/hl7-mllp';
import { waitFor } from '@ancillary/testing';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join, resolve } from 'node:path';
import { formatAncillaryEvent, parseAncillariesOptions } from './ancillaries';

const ROOT = resolve(__dirname, '..', '..');

describe('sim:ancillaries options', () => {
  it('defaults to the ports of the design', () => {
    expect(parseAncillariesOptions([])).toMatchObject({
      SIM_ONLY: ['lis', 'ris', 'pharmacy', 'billing'],
      SIM_HOST: '127.0.0.1',
      SIM_LIS_PORT: 2590,
      SIM_RIS_PORT: 2591,
      SIM_PHARMACY_PORT: 2592,
      SIM_PHARMACY_FHIR_PORT: 8092,
      SIM_PHARMACY_MODE: 'mllp',
      SIM_LAB_GATEWAY_PORT: 2575,
      SIM_RADIOLOGY_GATEWAY_PORT: 2576,
      SIM_PHARMACY_GATEWAY_PORT: 2577,
      SIM_PHARMACY_GATEWAY_URL: 'http://127.0.0.1:8085',
      SIM_BILLING_PORT: 2593,
      SIM_BILLING_LEDGER_PORT: 2594,
      SIM_STATUS_UPDATES: false,
      SIM_SEED: 1,
      SIM_REPORT_STYLE: 'loinc',
    });
  });

  it('takes the environment, and options over it', () => {
    const env = {
      SIM_LIS_PORT: '3590',
      SIM_SCRIPT: 'drop@1',
      SIM_PHARMACY_MODE: 'fhir',
      SIM_RESULT_DELAY_MS: '100-200',
      SIM_STATUS_UPDATES: 'true',
    };
    expect(parseAncillariesOptions([], env)).toMatchObject({
      SIM_LIS_PORT: 3590,
      SIM_SCRIPT: 'drop@1',
      SIM_PHARMACY_MODE: 'fhir',
      SIM_RESULT_DELAY_MS: { minMs: 100, maxMs: 200 },
      SIM_STATUS_UPDATES: true,
    });
    expect(
      parseAncillariesOptions(
        [
          '--lis-port',
          '4590',
          '--script=accept',
          '--only',
          'lis,pharmacy',
          '--stat-delay',
          '50',
          '--run-id',
          'DEMO1',
          '--billing-port',
          '3593',
          '--billing-ledger-port=3594',
          '--billing-script',
          'reject:Closed@code=300*',
        ],
        env,
      ),
    ).toMatchObject({
      SIM_BILLING_PORT: 3593,
      SIM_BILLING_LEDGER_PORT: 3594,
      SIM_BILLING_SCRIPT: 'reject:Closed@code=300*',
      SIM_LIS_PORT: 4590,
      SIM_SCRIPT: 'accept',
      SIM_ONLY: ['lis', 'pharmacy'],
      SIM_STAT_DELAY_MS: { minMs: 50, maxMs: 50 },
      SIM_RUN_ID: 'DEMO1',
    });
    expect(parseAncillariesOptions(['--help'])).toBeUndefined();
  });

  it('names the option and the variable of a bad value', () => {
    expect(() => parseAncillariesOptions(['--script', 'reject@when-ever'])).toThrow(
      /--script \/ SIM_SCRIPT: ack script rule "reject@when-ever": unknown selector/,
    );
    expect(() => parseAncillariesOptions(['--only', 'lis,bank'])).toThrow(/--only \/ SIM_ONLY/);
    expect(() => parseAncillariesOptions(['--billing-script', 'reject@stat=1'])).toThrow(
      /--billing-script \/ SIM_BILLING_SCRIPT/,
    );
    expect(() => parseAncillariesOptions(['--result-delay', '9-1'])).toThrow(
      /--result-delay \/ SIM_RESULT_DELAY_MS: delay range/,
    );
    expect(() => parseAncillariesOptions([], { SIM_PHARMACY_MODE: 'soap' })).toThrow(
      /SIM_PHARMACY_MODE/,
    );
    expect(() => parseAncillariesOptions(['--nope'])).toThrow(/nope/);
  });

  it('prints one line per event, without patient data', () => {
    const at = new Date('2026-01-05T08:00:01.250Z');
    const receivedAt = new Date('2026-01-05T08:00:00Z');
    expect(
      formatAncillaryEvent(
        {
          type: 'received',
          ancillary: 'lis',
          message: {
            ancillary: 'lis',
            controlId: 'O1',
            messageType: 'ORM^O01',
            orderControl: 'NW',
            placerOrderNumber: 'PLC-1',
            fillerOrderNumber: null,
            code: 'BMP',
            priority: 'S',
            stat: true,
            patientMrn: '40001234',
            receivedAt,
            duplicate: false,
            scriptIndex: 1,
            action: 'delay:2000',
            answer: null,
          },
        },
        at,
      ),
    ).toBe('08:00:01.250 lis      ← ORM^O01 O1 NW PLC-1 BMP STAT [delay:2000]');
    const order = {
      ancillary: 'ris' as const,
      placerOrderNumber: 'RAD-1',
      fillerOrderNumber: 'A1',
      code: 'XRCH2V',
      priority: 'R',
      stat: false,
      patientMrn: '40005678',
      controlId: 'R1',
      status: 'resulted' as const,
      receivedAt,
      resultId: 'RX1',
      resultAttempts: 2,
      resultAcknowledgedAt: new Date('2026-01-05T08:00:02.500Z'),
    };
    expect(formatAncillaryEvent({ type: 'result-sent', ancillary: 'ris', order }, at)).toBe(
      '08:00:01.250 ris      ⇒ result RAD-1 (RX1) acknowledged, 2 attempt(s), 2.5 s after the order',
    );
    expect(
      formatAncillaryEvent(
        {
          type: 'answered',
          ancillary: 'pharmacy',
          controlId: 'P1',
          placerOrderNumber: 'RXP-1',
          answer: 'AA',
          fillerOrderNumber: 'RX1',
        },
        at,
      ),
    ).toBe('08:00:01.250 pharmacy → AA RXP-1 filler RX1');
    for (const line of [
      formatAncillaryEvent({ type: 'result-sent', ancillary: 'ris', order }, at),
    ]) {
      expect(line).not.toContain('40005678');
    }
  });
});

describe('sim:ancillaries run', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  let stderr = '';
  const err = (): string => stderr;

  function start(args: string[]): { child: ChildProcessWithoutNullStreams; out: () => string } {
    const child = spawn(
      process.execPath,
      ['-r', '@swc-node/register', join(ROOT, 'tools/simulators/ancillaries.ts'), ...args],
      { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' } },
    );
    let stdout = '';
    stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    cleanups.push(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
      return Promise.resolve();
    });
    return { child, out: () => stdout };
  }

  it('takes an order, sends its result to the gateway, and prints the summary on SIGINT', async () => {
    const inbound: Hl7Message[] = [];
    const gateway = new MllpServer({
      host: '127.0.0.1',
      port: 0,
      handler: (message) => {
        inbound.push(message);
        return MllpResult.accept();
      },
      closeTimeoutMs: 1000,
    });
    const { port: gatewayPort } = await gateway.listen();
    cleanups.push(() => gateway.close());
    const { child, out } = start([
      '--only',
      'lis',
      '--lis-port',
      '0',
      '--lab-gateway-port',
      String(gatewayPort),
      '--result-delay',
      '20',
      '--run-id',
      'CLI1',
    ]);
    const listening = await waitFor(() => /listening on port (\d+)/.exec(out()), {
      timeoutMs: 60_000,
      description: 'the LIS to listen',
    });
    const client = new MllpClient({ host: '127.0.0.1', port: Number(listening[1]) });
    cleanups.push(() => client.close());
    const sent = await client.send(
      [
        'MSH|^~\\&|ANCILLARY-HUB|NWH|SIMLIS|NWH-LAB|20260105080000+0000||ORM^O01^ORM_O01|CLI-O1|P|2.5.1',
        'PID|1||40001234^^^NWH^MR||Test^Pat||19700101|F',
        'ORC|NW|CLI-PLC-1^ANCILLARY-HUB',
        'OBR|1|CLI-PLC-1^ANCILLARY-HUB||TSH^TSH^L',
        '',
      ].join('\r'),
    );
    expect(sent.ack.get('ORC-3')).toBe('FCLI100001');
    await waitFor(() => /⇒ result CLI-PLC-1 .* acknowledged/.exec(out()), {
      description: 'the result line',
    });
    expect(inbound.map((m) => [m.messageType, m.get('OBR-2'), m.get('OBR-3')])).toEqual([
      ['ORU^R01', 'CLI-PLC-1', 'FCLI100001'],
    ]);
    expect(out()).toMatch(/← ORM\^O01 CLI-O1 NW CLI-PLC-1 TSH \[accept\]/);
    expect(out()).toMatch(/→ AA CLI-PLC-1 filler FCLI100001/);

    const exited = new Promise<number | null>((resolveExit) => child.once('exit', resolveExit));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const summary = out().slice(out().indexOf('| ancillary'));
    expect(summary).toMatch(/\| lis +\| +1 \| +1 \| +0 \| +0 \| +1 \| +0 \| +0 \|/);
  });

  it('runs the billing engine: DFT^P03 in, the ledger over HTTP while running and on SIGINT', async () => {
    const { child, out } = start([
      '--only',
      'billing',
      '--billing-port',
      '0',
      '--billing-ledger-port',
      '0',
    ]);
    const listening = await waitFor(() => /billing listening on port (\d+)/.exec(out()), {
      timeoutMs: 60_000,
      description: 'the billing engine to listen',
    });
    const client = new MllpClient({ host: '127.0.0.1', port: Number(listening[1]) });
    cleanups.push(() => client.close());
    const sent = await client.send(
      [
        'MSH|^~\\&|ANCILLARY-HUB|NWH|SIMBILL|NWH-BILL|20260105093000+0000||DFT^P03^DFT_P03|CLI-B1|P|2.5',
        'EVN|P03|20260105093000+0000',
        'PID|1||40001234^^^NWH^MR||Test^Pat||19700101|F||||||||||ACC-1',
        'PV1|1|O|||||||||||||||||V-1',
        'FT1|1|T1||20260105081500+0000|20260105093000+0000|CG|30000101^Basic metabolic panel^NWHCDM|||1|42.00|42.00|LAB-CHEM||||||||||FCLI1^SIMLIS',
        '',
      ].join('\r'),
    );
    expect(sent.ack.get('MSA-1')).toBe('AA');
    await waitFor(() => /← DFT\^P03 CLI-B1 1 FT1: CG 30000101 42\.00 \[accept\] → AA/.exec(out()), {
      description: 'the DFT line',
    });
    const ledgerUrl = await waitFor(() => /ledger at (http:\/\/\S+\/ledger)/.exec(err())?.[1], {
      description: 'the ledger URL on stderr',
    });
    const live = (await (await fetch(`${ledgerUrl}?filler=FCLI1`)).json()) as {
      ledger: { transactionId: string; fillerOrderNumber: string }[];
      totals: { net: number };
    };
    expect(live.ledger.map((l) => [l.transactionId, l.fillerOrderNumber])).toEqual([
      ['T1', 'FCLI1'],
    ]);
    expect(live.totals.net).toBe(42);

    const exited = new Promise<number | null>((resolveExit) => child.once('exit', resolveExit));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out()).toContain('Billing engine ledger:');
    expect(out()).not.toContain('| ancillary');
  });
});
