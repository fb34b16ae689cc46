/**
 * The billing-engine simulator against a real MLLP client on loopback port 0 (no Kafka needed:
 * an int-spec only because it opens sockets). The client plays the billing trigger, sending
 * hand-written v2.5 DFT^P03 and resending as the platform's MllpClient does.
 */
import {
  MllpClient,
  MllpConnectionError,
  MllpNackError,
  MllpTimeoutError,
} from '@ancillary/hl7-mllp';
import { BillingEngineSimulator, type BillingEngineEvent } from './billing-engine';

const LOOPBACK = '127.0.0.1';

interface Ft1 {
  id: string;
  code?: string;
  type?: string;
  date?: string;
  qty?: string;
  ext?: string;
  unit?: string;
  dept?: string;
  ref?: string;
  filler?: string;
  cpt?: string;
  mods?: string;
  ndc?: string;
}

function segment(name: string, fields: Record<number, string | undefined>): string {
  const last = Math.max(...Object.keys(fields).map(Number));
  return [name, ...Array.from({ length: last }, (_, i) => fields[i + 1] ?? '')].join('|');
}

function ft1(set: number, f: Ft1): string {
  return segment('FT1', {
    1: String(set),
    2: f.id,
    3: f.ref,
    4: f.date ?? '20260105081500+0000',
    5: '20260105093000+0000',
    6: f.type ?? 'CG',
    7: `${f.code ?? '30012345'}^Basic metabolic panel^NWHCDM`,
    10: f.qty ?? '1',
    11: f.ext ?? '42.00',
    12: f.unit ?? f.ext ?? '42.00',
    13: `${f.dept ?? 'LAB'}^Laboratory`,
    19: 'E11.9^Type 2 diabetes mellitus without complications^I10~I10^Essential (primary) hypertension^I10',
    20: '1234567890^Okafor^Ngozi',
    21: '1234567890^Okafor^Ngozi',
    23: f.filler === undefined ? 'FLAB00001^SIMLIS' : `${f.filler}^SIMLIS`,
    25: f.cpt ?? '80048^Basic metabolic panel^C4',
    26: f.mods,
    29: f.ndc,
  });
}

/** A v2.5 DFT^P03 as the billing trigger sends it. */
function dft(controlId: string, ft1s: Ft1[], options: { enhanced?: boolean } = {}): string {
  return [
    `MSH|^~\\&|ANCILLARY-HUB|NWH|SIMBILL|NWH-BILL|20260105093000+0000||DFT^P03^DFT_P03|${controlId}|P|2.5|||${options.enhanced ? 'AL|NE' : '|'}||UNICODE UTF-8`,
    'EVN|P03|20260105093000+0000',
    segment('PID', {
      1: '1',
      3: '40001234^^^NWH^MR',
      5: 'Müller^Anna^J',
      7: '19700101',
      8: 'F',
      18: 'ACC-7001',
    }),
    segment('PV1', { 1: '1', 2: 'O', 3: 'OPC^^^NWH', 19: 'V-9001' }),
    ...ft1s.map((f, i) => ft1(i + 1, f)),
    '',
  ].join('\r');
}

describe('BillingEngineSimulator over MLLP', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

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

  async function engine(script?: string): Promise<{
    sim: BillingEngineSimulator;
    events: BillingEngineEvent[];
  }> {
    const events: BillingEngineEvent[] = [];
    const sim = new BillingEngineSimulator({
      port: 0,
      ...(script === undefined ? {} : { script }),
      onEvent: (event) => events.push(event),
    });
    await sim.start();
    cleanups.push(() => sim.stop());
    return { sim, events };
  }

  async function nack(promise: Promise<unknown>): Promise<MllpNackError> {
    const error = await promise.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MllpNackError);
    return error as MllpNackError;
  }

  it('accepts a DFT^P03 with AA and posts one ledger line per FT1', async () => {
    const { sim, events } = await engine();
    const sent = await client(sim.port).send(
      dft('BILL-1', [
        { id: 'CHG-1' },
        {
          id: 'CHG-2',
          code: '40071046',
          ext: '180.00',
          dept: 'RAD',
          filler: 'AT200001',
          cpt: '71046^Radiologic examination, chest; 2 views^C4',
          mods: '26^Professional component^C4',
        },
      ]),
    );
    expect(sent.ack.messageType).toBe('ACK^P03');
    expect(sent.ack.get('MSH-3')).toBe('SIMBILL');
    expect(sent.ack.get('MSH-4')).toBe('NWH-BILL');
    expect(sent.ack.get('MSA-1')).toBe('AA');
    expect(sent.ack.get('MSA-2')).toBe('BILL-1');

    const lines = await sim.waitForLines(2);
    expect(lines.map((l) => [l.seq, l.controlId, l.transactionId, l.chargeCode, l.amount])).toEqual(
      [
        [1, 'BILL-1', 'CHG-1', '30012345', 42],
        [2, 'BILL-1', 'CHG-2', '40071046', 180],
      ],
    );
    expect(lines[1]).toMatchObject({
      patientMrn: '40001234',
      assigningAuthority: 'NWH',
      accountNumber: 'ACC-7001',
      visitNumber: 'V-9001',
      dateOfService: '20260105',
      procedureCode: '71046',
      modifiers: ['26'],
      diagnoses: ['E11.9', 'I10'],
      performedBy: '1234567890',
      fillerOrderNumber: 'AT200001',
      department: 'RAD',
      duplicate: false,
      receivedAt: expect.any(Date) as Date,
    });
    const [arrival] = sim.received();
    expect(arrival).toMatchObject({
      seq: 1,
      controlId: 'BILL-1',
      messageType: 'DFT^P03',
      duplicate: false,
      scriptIndex: 1,
      action: 'accept',
      answer: 'AA',
      errorText: null,
      posted: [1, 2],
    });
    // what the engine received, to check field by field
    expect(arrival?.message.get('PID-18')).toBe('ACC-7001');
    expect(arrival?.dft?.transactions).toHaveLength(2);
    expect(sim.totals()).toMatchObject({ lines: 2, grossCharges: 222, net: 222, duplicates: 0 });
    expect(sim.printLedger()).toMatch(
      /\| 2 \| BILL-1 +\| CHG-2 \| CG +\| 2026-01-05 .*\| 71046 26 /,
    );
    expect(events.map((e) => e.type)).toEqual(['listening', 'answered']);
  });

  it('answers CA in enhanced mode (MSH-15 AL)', async () => {
    const { sim } = await engine();
    const sent = await client(sim.port).send(
      dft('BILL-E1', [{ id: 'CHG-E1' }], { enhanced: true }),
    );
    expect(sent.code).toBe('CA');
    expect(sim.ledger()).toHaveLength(1);
  });

  it('reject: AR with the ERR text, nothing posted; a resend gets the same AR from the cache', async () => {
    const { sim } = await engine('reject:Account ACC-7001 is closed for posting@code=300*');
    const message = dft('BILL-2', [{ id: 'CHG-3' }]);
    const refused = await nack(client(sim.port).send(message));
    expect(refused.ackCode).toBe('AR');
    expect(refused.retriable).toBe(false);
    // what the billing trigger puts in its dead letter
    expect(refused.errorText).toContain('Account ACC-7001 is closed for posting');
    expect(refused.ack.get('ERR-8')).toBe('Account ACC-7001 is closed for posting');
    expect(refused.ack.get('ERR-3')).toBe('207');
    expect(refused.ack.get('MSA-3')).toBe('Account ACC-7001 is closed for posting');
    expect(sim.ledger()).toEqual([]);

    const again = await nack(client(sim.port).send(message));
    expect(again.ack.toString()).toBe(refused.ack.toString());
    expect(sim.received().map((r) => [r.action, r.duplicate, r.answer, r.errorText])).toEqual([
      [
        'reject:Account ACC-7001 is closed for posting',
        false,
        'AR',
        'Account ACC-7001 is closed for posting',
      ],
      ['repeat', true, 'AR', 'Account ACC-7001 is closed for posting'],
    ]);
    // another charge code is not matched by the rule
    await client(sim.port).send(dft('BILL-3', [{ id: 'CHG-4', code: '40071046' }]));
    expect(sim.ledger().map((l) => l.transactionId)).toEqual(['CHG-4']);
  });

  it('refuses a DFT it cannot post with AR and the ERR location, whatever the script', async () => {
    const { sim } = await engine('accept');
    const broken = dft('BILL-4', [{ id: 'CHG-5' }]).replace('|CG|30012345^', '|CG|^');
    const refused = await nack(client(sim.port).send(broken));
    expect(refused.ackCode).toBe('AR');
    expect(refused.ack.getRaw('ERR-2')).toBe('FT1^1^7');
    expect(refused.ack.get('ERR-3')).toBe('101');
    expect(refused.errorText).toContain('FT1-7 transaction code (charge code) is required');
    expect(sim.received()[0]).toMatchObject({ action: 'invalid', scriptIndex: null, dft: null });
    expect(sim.ledger()).toEqual([]);
  });

  it('selectors for a DFT: placer= is FT1-23, cancel is a reversal, code= also sees CPT and NDC', async () => {
    const { sim } = await engine(
      'reject:Order not billable@placer=FBAD*, reject:Credits are posted manually@cancel, reject:Drug not on the chargemaster@code=99901-*',
    );
    const c = client(sim.port);
    expect((await nack(c.send(dft('S1', [{ id: 'A1', filler: 'FBAD01' }])))).errorText).toContain(
      'Order not billable',
    );
    await c.send(dft('S2', [{ id: 'A2', filler: 'FGOOD01' }]));
    expect(
      (await nack(c.send(dft('S3', [{ id: 'A3', type: 'CD', ref: 'A2', filler: 'FGOOD01' }]))))
        .errorText,
    ).toContain('Credits are posted manually');
    expect(
      (await nack(c.send(dft('S4', [{ id: 'A4', qty: '-1', filler: 'FGOOD01' }])))).errorText,
    ).toContain('Credits are posted manually');
    expect(
      (
        await nack(
          c.send(
            dft('S5', [{ id: 'A5', code: 'RX1', cpt: '', ndc: '99901-0101-30^Amlodipine^NDC' }]),
          ),
        )
      ).errorText,
    ).toContain('Drug not on the chargemaster');
    expect(sim.ledger().map((l) => l.transactionId)).toEqual(['A2']);
  });

  it('error: AE first (transient), the resend of the same message is posted once', async () => {
    const { sim } = await engine('error:Posting run in progress@1');
    const sent = await client(sim.port, 2).send(dft('BILL-5', [{ id: 'CHG-6' }]));
    expect(sent.attempts).toBe(2);
    expect(sim.received().map((r) => [r.scriptIndex, r.action, r.answer, r.errorText])).toEqual([
      [1, 'error:Posting run in progress', 'AE', 'Posting run in progress'],
      [2, 'accept', 'AA', null],
    ]);
    expect(sim.ledger().map((l) => [l.controlId, l.transactionId])).toEqual([['BILL-5', 'CHG-6']]);
  });

  it('commit-error: CE, and the message is not posted', async () => {
    const { sim } = await engine('commit-error');
    const refused = await nack(client(sim.port).send(dft('BILL-6', [{ id: 'CHG-7' }])));
    expect(refused.ackCode).toBe('CE');
    expect(refused.retriable).toBe(true);
    expect(sim.ledger()).toEqual([]);
  });

  it('drop: hangs up without posting; the resend is posted', async () => {
    const { sim } = await engine('drop@1');
    const sent = await client(sim.port, 2).send(dft('BILL-7', [{ id: 'CHG-8' }]));
    expect(sent.attempts).toBe(2);
    expect(sim.received().map((r) => [r.action, r.answer, r.posted])).toEqual([
      ['drop', 'dropped', []],
      ['accept', 'AA', [1]],
    ]);
    expect(sim.ledger()).toHaveLength(1);
  });

  it('lose-ack: posts, hangs up; the resend of the same MSH-10 is answered AA and not posted twice', async () => {
    const { sim } = await engine('lose-ack@1');
    const message = dft('BILL-8', [{ id: 'CHG-9' }, { id: 'CHG-10', code: '30099999' }]);
    const sent = await client(sim.port, 2).send(message);
    expect(sent.attempts).toBe(2);
    expect(sent.ack.get('MSA-1')).toBe('AA');
    // and once more later (a replayed outbox row): the same bytes again
    const again = await client(sim.port).send(message);
    expect(again.ack.toString()).toBe(sent.ack.toString());
    expect(sim.received().map((r) => [r.action, r.duplicate, r.answer, r.posted])).toEqual([
      ['lose-ack', false, 'dropped', [1, 2]],
      ['repeat', true, 'AA', []],
      ['repeat', true, 'AA', []],
    ]);
    expect(sim.ledger().map((l) => l.transactionId)).toEqual(['CHG-9', 'CHG-10']);
    expect(sim.totals().duplicates).toBe(0);
  });

  it('flags a second charge for the same patient, code and day as a duplicate, and accepts it', async () => {
    const { sim } = await engine();
    const c = client(sim.port);
    await c.send(dft('BILL-9', [{ id: 'CHG-11', date: '20260105081500+0000' }]));
    // a new MSH-10 and transaction id: the billing trigger sent the same work twice
    const second = await c.send(dft('BILL-10', [{ id: 'CHG-12', date: '20260105143000+0000' }]));
    expect(second.ack.get('MSA-1')).toBe('AA');
    await c.send(dft('BILL-11', [{ id: 'CHG-13', date: '20260106081500+0000' }]));
    expect(sim.ledger().map((l) => [l.transactionId, l.duplicate, l.duplicateOf])).toEqual([
      ['CHG-11', false, null],
      ['CHG-12', true, 1],
      ['CHG-13', false, null],
    ]);
    expect(sim.totals()).toMatchObject({ duplicates: 1, duplicateAmount: 42 });
    expect(sim.printLedger()).toContain('DUPLICATE of #1');
  });

  it('a credit (CD naming the charge in FT1-3) nets the charge key to zero', async () => {
    const { sim } = await engine();
    const c = client(sim.port);
    await c.send(dft('BILL-12', [{ id: 'CHG-14', filler: 'FLAB00014' }]));
    await c.send(
      dft('BILL-13', [{ id: 'CHG-15', type: 'CD', ref: 'CHG-14', filler: 'FLAB00014' }]),
    );
    const [charge, credit] = sim.ledger();
    expect(credit).toMatchObject({
      transactionType: 'CD',
      reversal: true,
      reverses: charge?.seq,
      amount: -42,
    });
    expect(charge).toMatchObject({ fullyReversed: true, reversedBy: [credit?.seq] });
    expect(sim.netByChargeKey()).toEqual([
      expect.objectContaining({
        chargeCode: '30012345',
        dateOfService: '20260105',
        quantity: 0,
        amount: 0,
      }),
    ]);
    expect(sim.totals()).toMatchObject({ grossCharges: 42, credits: 42, net: 0 });
  });

  it('a negative-quantity charge (CG, FT1-10 −30) nets the charge key to zero', async () => {
    const { sim } = await engine();
    const c = client(sim.port);
    const drug = {
      code: '50099901',
      dept: 'PHARM',
      cpt: '',
      ndc: '99901-0101-30^Amlodipine 5 mg tablet^NDC',
      filler: 'RXT200001',
    };
    await c.send(dft('BILL-14', [{ ...drug, id: 'CHG-16', qty: '30', ext: '9.00', unit: '0.30' }]));
    await c.send(
      dft('BILL-15', [{ ...drug, id: 'CHG-17', qty: '-30', ext: '-9.00', unit: '0.30' }]),
    );
    const [charge, reversal] = sim.ledger();
    expect(charge).toMatchObject({ ndc: '99901-0101-30', netQuantity: 30, amount: 9 });
    expect(reversal).toMatchObject({
      transactionType: 'CG',
      reversal: true,
      reverses: 1,
      netQuantity: -30,
      amount: -9,
    });
    expect(sim.netByChargeKey()).toEqual([
      expect.objectContaining({ chargeCode: '50099901', quantity: 0, amount: 0, lines: 2 }),
    ]);
    expect(sim.totals().byDepartment).toEqual([
      { department: 'PHARM', lines: 2, grossCharges: 9, credits: 9, net: 0 },
    ]);
  });

  it('delay answers late; silent never answers; down() refuses connections and up() listens again', async () => {
    const { sim, events } = await engine('delay:300@1, silent@2');
    const started = Date.now();
    await client(sim.port).send(dft('BILL-16', [{ id: 'CHG-18' }]));
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    await expect(
      client(sim.port, 1, 300).send(dft('BILL-17', [{ id: 'CHG-19', code: '30099999' }])),
    ).rejects.toThrow(MllpTimeoutError);
    expect(sim.received().map((r) => r.answer)).toEqual(['AA', 'silent']);
    expect(sim.ledger().map((l) => l.transactionId)).toEqual(['CHG-18']);

    const port = sim.port;
    await sim.down();
    expect(sim.isUp).toBe(false);
    await expect(client(port).send(dft('BILL-18', [{ id: 'CHG-20' }]))).rejects.toThrow(
      MllpConnectionError,
    );
    await sim.up();
    expect(sim.port).toBe(port);
    // the script's rules are used up: the silent message is taken on its resend
    const sent = await client(port).send(dft('BILL-17', [{ id: 'CHG-19', code: '30099999' }]));
    expect(sent.ack.get('MSA-1')).toBe('AA');
    // state survived: the ledger has both lines
    expect(sim.ledger().map((l) => l.transactionId)).toEqual(['CHG-18', 'CHG-19']);
    expect(events.map((e) => e.type)).toEqual([
      'listening',
      'answered',
      'answered',
      'down',
      'listening',
      'answered',
    ]);
  });

  it('waitForLines rejects after its timeout, saying what it has', async () => {
    const { sim } = await engine();
    await expect(sim.waitForLines(1, { timeoutMs: 50 })).rejects.toThrow(
      /timed out after 50 ms waiting for 1 ledger line\(s\) \(0 DFT\(s\) received, 0 ledger line\(s\)\)/,
    );
  });
});
