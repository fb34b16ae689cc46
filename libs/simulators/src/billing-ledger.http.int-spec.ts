/**
 * The billing-engine simulator's read-only ledger over HTTP (billing-ledger.http.ts), as another
 * process reads it: DFT^P03 in through a real MllpClient on loopback port 0, the ledger out
 * through fetch on a second port 0 (no Kafka needed: an int-spec only because it opens sockets).
 */
import { MllpClient } from '@ancillary/hl7-mllp';
import { BillingEngineSimulator } from './billing-engine';

const LOOPBACK = '127.0.0.1';

function dft(
  controlId: string,
  ft1s: { id: string; filler: string; type?: string; ref?: string }[],
): string {
  return [
    `MSH|^~\\&|ANCILLARY-HUB|NWH|SIMBILL|NWH-BILL|20260105093000+0000||DFT^P03^DFT_P03|${controlId}|P|2.5`,
    'EVN|P03|20260105093000+0000',
    'PID|1||40001234^^^NWH^MR||Test^Pat||19700101|F||||||||||ACC-7001',
    'PV1|1|O|OPC^^^NWH||||||||||||||||V-9001',
    ...ft1s.map(
      (f, i) =>
        `FT1|${i + 1}|${f.id}|${f.ref ?? ''}|20260105081500+0000|20260105093000+0000|${f.type ?? 'CG'}|` +
        `30000101^Basic metabolic panel^NWHCDM|||1|42.00|42.00|LAB-CHEM^Chemistry||||||||||` +
        `${f.filler}^SIMLIS||80048^Basic metabolic panel^C4`,
    ),
    '',
  ].join('\r');
}

interface LedgerJson {
  ledger: {
    seq: number;
    transactionId: string;
    fillerOrderNumber: string;
    receivedAt: string;
    duplicate: boolean;
    reversal: boolean;
    amount: number;
  }[];
  totals: { lines: number; grossCharges: number; credits: number; net: number; duplicates: number };
  netByChargeKey: { chargeCode: string; amount: number }[];
  received: { controlId: string; answer: string }[];
}

describe('BillingEngineSimulator ledger over HTTP', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function engine(): Promise<{
    sim: BillingEngineSimulator;
    send: (text: string) => Promise<unknown>;
  }> {
    const sim = new BillingEngineSimulator({ port: 0, ledgerPort: 0 });
    await sim.start();
    cleanups.push(() => sim.stop());
    const client = new MllpClient({
      host: LOOPBACK,
      port: sim.port,
      retry: { maxAttempts: 1, initialDelayMs: 10, maxDelayMs: 20 },
    });
    cleanups.push(() => client.close());
    return { sim, send: (text) => client.send(text) };
  }

  async function get(
    url: string,
    init?: RequestInit,
  ): Promise<{ status: number; json: unknown; headers: Headers }> {
    const res = await fetch(url, init);
    const text = await res.text();
    return {
      status: res.status,
      json: text ? (JSON.parse(text) as unknown) : undefined,
      headers: res.headers,
    };
  }

  it('serves the ledger, its totals and a filler filter while the engine runs', async () => {
    const { sim, send } = await engine();
    expect(sim.ledgerUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(sim.ledgerUrl).not.toBe(`http://127.0.0.1:${sim.port}`);

    const empty = await get(`${sim.ledgerUrl}/ledger`);
    expect(empty.status).toBe(200);
    expect(empty.headers.get('content-type')).toMatch(/^application\/json/);
    expect(empty.headers.get('cache-control')).toBe('no-store');
    expect(empty.json).toMatchObject({ ledger: [], totals: { lines: 0, net: 0 }, received: [] });

    await send(dft('HTTP-1', [{ id: 'T1', filler: 'FLAB1' }]));
    await send(dft('HTTP-2', [{ id: 'T2', filler: 'FLAB2' }]));
    await send(dft('HTTP-3', [{ id: 'T3', filler: 'FLAB1', type: 'CD', ref: 'T1' }]));
    await sim.waitForLines(3);

    const all = (await get(`${sim.ledgerUrl}/ledger`)).json as LedgerJson;
    expect(
      all.ledger.map((l) => [l.seq, l.transactionId, l.fillerOrderNumber, l.reversal, l.amount]),
    ).toEqual([
      [1, 'T1', 'FLAB1', false, 42],
      [2, 'T2', 'FLAB2', false, 42],
      [3, 'T3', 'FLAB1', true, -42],
    ]);
    // Same patient, charge code and day as T1, while T1 was still open: flagged.
    expect(all.ledger.map((l) => l.duplicate)).toEqual([false, true, false]);
    expect(new Date(all.ledger[0]?.receivedAt ?? '').getTime()).not.toBeNaN();
    expect(all.totals).toMatchObject({
      lines: 3,
      grossCharges: 84,
      credits: 42,
      net: 42,
      duplicates: 1,
    });
    expect(all.received.map((r) => [r.controlId, r.answer])).toEqual([
      ['HTTP-1', 'AA'],
      ['HTTP-2', 'AA'],
      ['HTTP-3', 'AA'],
    ]);
    expect(all).toEqual(JSON.parse(JSON.stringify(sim.snapshot())));

    const totals = await get(`${sim.ledgerUrl}/ledger/totals`);
    expect(totals.json).toEqual(sim.totals());

    const one = (await get(`${sim.ledgerUrl}/ledger?filler=FLAB1,FNONE`)).json as LedgerJson;
    expect(one.ledger.map((l) => l.transactionId)).toEqual(['T1', 'T3']);
    expect(one.netByChargeKey.map((k) => k.amount)).toEqual([42]);
    expect(one.totals.net).toBe(42); // the totals stay the engine's
  });

  it('is read-only, answers 404 for other paths, and stays up while the MLLP side is down', async () => {
    const { sim } = await engine();
    const post = await get(`${sim.ledgerUrl}/ledger`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await get(`${sim.ledgerUrl}/ledger`, { method: 'DELETE' })).status).toBe(405);
    expect((await get(`${sim.ledgerUrl}/nope`)).status).toBe(404);

    expect((await get(`${sim.ledgerUrl}/health`)).json).toEqual({ up: true });
    await sim.down();
    expect((await get(`${sim.ledgerUrl}/health`)).json).toEqual({ up: false });
    await sim.up();
    expect((await get(`${sim.ledgerUrl}/health`)).json).toEqual({ up: true });

    const url = sim.ledgerUrl;
    await sim.stop();
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });

  it('has no ledger server unless asked for one', async () => {
    const sim = new BillingEngineSimulator({ port: 0 });
    await sim.start();
    cleanups.push(() => sim.stop());
    expect(() => sim.ledgerUrl).toThrow(/no ledger HTTP server/);
  });

  it('releases the MLLP port when the ledger port is taken', async () => {
    const first = new BillingEngineSimulator({ port: 0, ledgerPort: 0 });
    await first.start();
    cleanups.push(() => first.stop());
    const taken = Number(new URL(first.ledgerUrl).port);
    const second = new BillingEngineSimulator({ port: 0, ledgerPort: taken });
    await expect(second.start()).rejects.toThrow(/EADDRINUSE/);
    expect(second.isUp).toBe(false);
  });
});
