/**
 * A read-only HTTP window on the simulated billing engine's ledger, so that another process —
 * the demo's `demo:orders`, a person with curl — can see what the engine posted while it runs
 * (the engine itself only prints its ledger when it stops).
 *
 *   GET /ledger         the snapshot: every ledger line, the totals, the net per charge key and
 *                       every arrival (the shape of `sim:billing --ledger-file`); `?filler=A,B`
 *                       keeps the lines and charge keys of those FT1-23 filler order numbers
 *   GET /ledger/totals  the totals only (gross, credits, net, duplicates, per department)
 *   GET /health         `{ "up": <the MLLP side is listening> }`
 *
 * Anything else is 404, any other method 405: nothing here changes the engine. JSON with dates
 * as ISO-8601 strings; `Cache-Control: no-store` since every answer is the state of the moment.
 */
import * as http from 'node:http';
import type * as net from 'node:net';
import type { BillingLedgerLine, BillingTotals, ChargeKeyNet } from './billing-ledger';

/** What the server reads; BillingEngineSimulator is one. */
export interface BillingLedgerSource {
  snapshot(): {
    readonly ledger: readonly BillingLedgerLine[];
    readonly totals: BillingTotals;
    readonly netByChargeKey: readonly ChargeKeyNet[];
    readonly received: readonly unknown[];
  };
  totals(): BillingTotals;
  readonly isUp: boolean;
}

export interface BillingLedgerHttpOptions {
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port (tests); the demo uses 2594. */
  port: number;
}

type Reply = { status: number; body: unknown; allow?: string };

export class BillingLedgerHttpServer {
  private server: http.Server | undefined;
  private boundPort: number | undefined;

  constructor(
    private readonly source: BillingLedgerSource,
    private readonly options: BillingLedgerHttpOptions,
  ) {}

  /** Starts listening; resolves with the bound address (port 0 → the one picked). */
  async listen(): Promise<net.AddressInfo> {
    if (this.server) throw new Error('billing ledger HTTP: already listening');
    const server = http.createServer((req, res) => {
      this.respond(res, this.route(req));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as net.AddressInfo;
    this.boundPort = address.port;
    return address;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
    server.closeAllConnections();
    await closed;
  }

  get port(): number {
    if (this.boundPort === undefined) throw new Error('billing ledger HTTP has not started');
    return this.boundPort;
  }

  /** `http://<host>:<port>` (loopback when listening on every interface). */
  get url(): string {
    const host = this.options.host ?? '127.0.0.1';
    return `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${this.port}`;
  }

  private route(req: http.IncomingMessage): Reply {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (!['/ledger', '/ledger/totals', '/health'].includes(path)) {
      return { status: 404, body: { error: `no such path: ${path}` } };
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return { status: 405, body: { error: 'read-only: GET only' }, allow: 'GET, HEAD' };
    }
    if (path === '/health') return { status: 200, body: { up: this.source.isUp } };
    if (path === '/ledger/totals') return { status: 200, body: this.source.totals() };
    return { status: 200, body: filtered(this.source.snapshot(), fillersOf(url)) };
  }

  private respond(res: http.ServerResponse, reply: Reply): void {
    const body = JSON.stringify(reply.body);
    res.writeHead(reply.status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      'Cache-Control': 'no-store',
      ...(reply.allow ? { Allow: reply.allow } : {}),
    });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }
}

function fillersOf(url: URL): ReadonlySet<string> | undefined {
  const values = url.searchParams
    .getAll('filler')
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
  return values.length > 0 ? new Set(values) : undefined;
}

/** The snapshot, with only the lines (and their charge keys) of the given filler numbers. */
function filtered(
  snapshot: ReturnType<BillingLedgerSource['snapshot']>,
  fillers: ReadonlySet<string> | undefined,
): unknown {
  if (!fillers) return snapshot;
  const ledger = snapshot.ledger.filter(
    (l) => l.fillerOrderNumber !== null && fillers.has(l.fillerOrderNumber),
  );
  const keys = new Set(ledger.map((l) => l.chargeKey));
  return {
    ...snapshot,
    ledger,
    netByChargeKey: snapshot.netByChargeKey.filter((k) => keys.has(k.chargeKey)),
  };
}
