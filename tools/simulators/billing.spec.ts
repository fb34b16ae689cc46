/**
 * The sim:billing command: options over the environment, event lines, and a whole run as a
 * child process — DFT^P03 in over MLLP, a duplicate and a credit, the ledger on SIGINT and in
 * the --ledger-file.
 */
import { MllpClient, MllpNackError } from '@ancillary/hl7-mllp';
import type { BillingArrival } from '@ancillary/simulators';
import { waitFor } from '@ancillary/testing';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { formatBillingEvent, parseBillingSimOptions } from './billing';

const ROOT = resolve(__dirname, '..', '..');

/** A v2.5 DFT^P03 with one FT1 (hand-written; FT1-3 the charge a credit reverses). */
function dft(controlId: string, txn: string, type = 'CG', ref = ''): string {
  return [
    `MSH|^~\\&|ANCILLARY-HUB|NWH|SIMBILL|NWH-BILL|20260105093000+0000||DFT^P03^DFT_P03|${controlId}|P|2.5`,
    'EVN|P03|20260105093000+0000',
    'PID|1||40001234^^^NWH^MR||Test^Pat||19700101|F||||||||||ACC-7001',
    'PV1|1|O|OPC^^^NWH||||||||||||||||V-9001',
    `FT1|1|${txn}|${ref}|20260105081500+0000|20260105093000+0000|${type}|30012345^Basic metabolic panel^NWHCDM|||1|42.00|42.00|LAB^Laboratory||||||E11.9^^I10|1234567890^Okafor^Ngozi|1234567890^Okafor^Ngozi||FLAB00001^SIMLIS||80048^Basic metabolic panel^C4`,
    '',
  ].join('\r');
}

describe('sim:billing options', () => {
  it('defaults to port 2593 on loopback, the ledger on 2594, accepting everything', () => {
    expect(parseBillingSimOptions([])).toEqual({
      SIM_BILLING_PORT: 2593,
      SIM_BILLING_HOST: '127.0.0.1',
      SIM_BILLING_LEDGER_PORT: 2594,
      SIM_BILLING_LOG_LEVEL: 'warn',
    });
  });

  it('takes the environment, and options over it', () => {
    const env = { SIM_BILLING_PORT: '3593', SIM_BILLING_SCRIPT: 'drop@1' };
    expect(parseBillingSimOptions([], env)).toMatchObject({
      SIM_BILLING_PORT: 3593,
      SIM_BILLING_SCRIPT: 'drop@1',
    });
    expect(
      parseBillingSimOptions(
        [
          '--port',
          '0',
          '--host=0.0.0.0',
          '--ledger-port',
          '3594',
          '--script',
          'reject:Closed@code=300*',
          '--ledger-file',
          '/tmp/l.json',
          '--log-level',
          'info',
        ],
        env,
      ),
    ).toEqual({
      SIM_BILLING_PORT: 0,
      SIM_BILLING_HOST: '0.0.0.0',
      SIM_BILLING_LEDGER_PORT: 3594,
      SIM_BILLING_SCRIPT: 'reject:Closed@code=300*',
      SIM_BILLING_LEDGER_FILE: '/tmp/l.json',
      SIM_BILLING_LOG_LEVEL: 'info',
    });
    expect(parseBillingSimOptions(['--help'])).toBeUndefined();
  });

  it('names the option and the variable of a bad value', () => {
    expect(() => parseBillingSimOptions(['--script', 'reject@stat=1'])).toThrow(
      /--script \/ SIM_BILLING_SCRIPT: ack script rule "reject@stat=1": unknown selector/,
    );
    expect(() => parseBillingSimOptions(['--port', 'x'])).toThrow(/--port \/ SIM_BILLING_PORT/);
    expect(() => parseBillingSimOptions(['--ledger-port', '70000'])).toThrow(
      /--ledger-port \/ SIM_BILLING_LEDGER_PORT/,
    );
    expect(() => parseBillingSimOptions([], { SIM_BILLING_LOG_LEVEL: 'loud' })).toThrow(
      /SIM_BILLING_LOG_LEVEL/,
    );
    expect(() => parseBillingSimOptions(['--nope'])).toThrow(/nope/);
  });

  it('prints one line per DFT: transactions, action, answer, what was posted, no patient data', () => {
    const at = new Date('2026-01-05T09:30:01.250Z');
    const base: Omit<BillingArrival, 'message'> = {
      seq: 1,
      controlId: 'BILL-1',
      messageType: 'DFT^P03',
      receivedAt: at,
      dft: {
        controlId: 'BILL-1',
        messageType: 'DFT^P03',
        version: '2.5',
        sendingApplication: 'ANCILLARY-HUB',
        sendingFacility: 'NWH',
        eventType: 'P03',
        patient: { mrn: '40001234', assigningAuthority: 'NWH', accountNumber: 'ACC-7001' },
        visit: { visitNumber: 'V-9001', patientClass: 'O' },
        transactions: [
          {
            setId: 1,
            occurrence: 1,
            transactionId: 'T1',
            batchId: null,
            transactionDate: '20260105',
            dateOfService: '20260105',
            postingDate: null,
            transactionType: 'CG',
            chargeCode: '50099901',
            chargeDescription: null,
            quantity: 30,
            extendedAmount: 9,
            unitAmount: 0.3,
            department: 'PHARM',
            diagnoses: [],
            performedBy: null,
            orderedBy: null,
            fillerOrderNumber: null,
            fillerNamespace: null,
            procedureCode: null,
            procedureCodeSystem: null,
            modifiers: [],
            duplicateReason: null,
            ndc: '99901-0101-30',
          },
        ],
      },
      duplicate: false,
      scriptIndex: 1,
      action: 'accept',
      answer: 'AA',
      errorText: null,
      posted: [4],
    };
    const arrival = base as BillingArrival;
    const line = formatBillingEvent({ type: 'answered', arrival }, at);
    expect(line).toBe(
      '09:30:01.250 billing ← DFT^P03 BILL-1 1 FT1: CG 50099901 ×30 9.00 [accept] → AA, posted #4',
    );
    expect(line).not.toContain('40001234');
    expect(
      formatBillingEvent(
        {
          type: 'answered',
          arrival: {
            ...arrival,
            action: 'reject:Account closed',
            answer: 'AR',
            errorText: 'Account closed',
            posted: [],
          },
        },
        at,
      ),
    ).toBe(
      '09:30:01.250 billing ← DFT^P03 BILL-1 1 FT1: CG 50099901 ×30 9.00 [reject:Account closed] → AR: Account closed',
    );
    expect(
      formatBillingEvent(
        {
          type: 'answered',
          arrival: { ...arrival, duplicate: true, action: 'repeat', posted: [] },
        },
        at,
      ),
    ).toBe('09:30:01.250 billing ← DFT^P03 BILL-1 (resend: same answer AA, not posted again)');
    expect(formatBillingEvent({ type: 'listening', port: 2593 }, at)).toBe(
      '09:30:01.250 billing listening on port 2593',
    );
  });
});

describe('sim:billing run', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  function start(args: string[]): {
    child: ChildProcessWithoutNullStreams;
    out: () => string;
    err: () => string;
  } {
    const child = spawn(
      process.execPath,
      ['-r', '@swc-node/register', join(ROOT, 'tools/simulators/billing.ts'), ...args],
      { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' } },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    cleanups.push(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
      return Promise.resolve();
    });
    return { child, out: () => stdout, err: () => stderr };
  }

  it('answers per its script, prints one line per DFT, and the ledger on SIGINT and in the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-billing-'));
    cleanups.push(() => {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    });
    const ledgerFile = join(dir, 'ledger.json');
    const { child, out, err } = start([
      '--port',
      '0',
      '--ledger-port',
      '0',
      '--script',
      'reject:Account closed for posting@4',
      '--ledger-file',
      ledgerFile,
    ]);
    const listening = await waitFor(() => /listening on port (\d+)/.exec(out()), {
      timeoutMs: 60_000,
      description: 'the billing engine to listen',
    });
    const client = new MllpClient({ host: '127.0.0.1', port: Number(listening[1]) });
    cleanups.push(() => client.close());
    await client.send(dft('CLI-1', 'T1'));
    await client.send(dft('CLI-1', 'T1')); // a resend: not posted again
    await client.send(dft('CLI-2', 'T2')); // same charge, new message: a duplicate
    await client.send(dft('CLI-3', 'T3', 'CD', 'T1')); // the credit of the first
    const refused = await client.send(dft('CLI-4', 'T4')).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(MllpNackError);
    expect((refused as MllpNackError).ackCode).toBe('AR');
    expect((refused as MllpNackError).errorText).toContain('Account closed for posting');
    await waitFor(() => out().includes('CLI-4'), { description: 'the line of CLI-4' });
    expect(out()).toMatch(/← DFT\^P03 CLI-1 1 FT1: CG 30012345 42\.00 \[accept\] → AA, posted #1/);
    expect(out()).toMatch(/← DFT\^P03 CLI-1 \(resend: same answer AA, not posted again\)/);
    expect(out()).toMatch(/← DFT\^P03 CLI-3 1 FT1: CD 30012345 42\.00 \[accept\] → AA, posted #3/);
    expect(out()).toMatch(/CLI-4 .*\[reject:Account closed for posting\] → AR: Account closed/);

    // While it runs, the ledger is readable over HTTP from another process.
    const ledgerUrl = await waitFor(() => /ledger at (http:\/\/\S+\/ledger);/.exec(err())?.[1], {
      description: 'the ledger URL on stderr',
    });
    const live = (await (await fetch(ledgerUrl)).json()) as {
      ledger: { transactionId: string }[];
      totals: { net: number; duplicates: number };
    };
    expect(live.ledger.map((l) => l.transactionId)).toEqual(['T1', 'T2', 'T3']);
    expect(live.totals).toMatchObject({ net: 42, duplicates: 1 });

    const exited = new Promise<number | null>((resolveExit) => child.once('exit', resolveExit));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const ledger = out().slice(out().indexOf('| #'));
    expect(ledger).toMatch(/\| 1 \| CLI-1 +\| T1 +\| CG .*\| reversed by #3 +\|/);
    expect(ledger).toMatch(/\| 2 \| CLI-2 +\| T2 +\| CG .*\| DUPLICATE of #1 +\|/);
    expect(ledger).toMatch(/\| 3 \| CLI-3 +\| T3 +\| CD .*\| +-42\.00 \| .*\| reverses #1 +\|/);
    expect(ledger).toMatch(/\| all +\| +3 \| +84\.00 \| +42\.00 \| +42\.00 \|/);
    expect(ledger).toContain('1 duplicate(s) flagged for review');
    const json = JSON.parse(readFileSync(ledgerFile, 'utf8')) as {
      ledger: { transactionId: string; duplicate: boolean; reverses: number | null }[];
      totals: { net: number; duplicates: number };
      netByChargeKey: { chargeCode: string; amount: number }[];
      received: { controlId: string; answer: string }[];
    };
    expect(json.ledger.map((l) => [l.transactionId, l.duplicate, l.reverses])).toEqual([
      ['T1', false, null],
      ['T2', true, null],
      ['T3', false, 1],
    ]);
    expect(json.totals).toMatchObject({ net: 42, duplicates: 1 });
    expect(json.netByChargeKey).toEqual([
      expect.objectContaining({ chargeCode: '30012345', amount: 42 }),
    ]);
    expect(json.received.map((r) => [r.controlId, r.answer])).toEqual([
      ['CLI-1', 'AA'],
      ['CLI-1', 'AA'],
      ['CLI-2', 'AA'],
      ['CLI-3', 'AA'],
      ['CLI-4', 'AR'],
    ]);
  });
});
