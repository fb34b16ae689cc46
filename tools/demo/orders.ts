/**
 * The EHR in the demo: places a seeded mix of laboratory, imaging and medication orders through
 * the FHIR API (some STAT, a few cancelled), waits until the ancillaries' results, reports and
 * dispenses are in the chart, and prints order-to-result times per ancillary. Then billing: it
 * waits until the simulated billing engine has a charge for every completed order (the
 * billing trigger sends them as DFT^P03; the engine's ledger is read over HTTP, GET /ledger,
 * from sim:ancillaries) and prints, per loop, the charges received, their total, the duplicates
 * the engine flagged and the ledger net of credits — and where to look.
 *
 *   npm run demo:orders -- --lab 20 --imaging 10 --pharmacy 10
 *   npm run demo:orders -- --billing-timeout 0     # orders only, no billing
 *   npm run demo:orders -- --help
 *
 * Exit status: 0 when every order was completed, rejected or cancelled in time and (unless
 * --billing-timeout 0) every completed order was charged once, nothing else was, and no charge
 * was flagged as a duplicate; 1 otherwise (the tables say where); 2 for bad options or an
 * unreachable FHIR API.
 */
import {
  EhrOrderClient,
  formatNumber,
  type OrderOutcome,
  type PlacedPlan,
  placeOrders,
  planOrders,
  summarizeOrderLoop,
  waitForOutcomes,
  type OrderLoopSummaryRow,
} from '@ancillary/simulators';
import { DEFAULT_TERMINOLOGY_DIR, loadTerminology } from '@ancillary/terminology';
import { parseCommandLine, parsePositiveInt } from '../common/cli-args';
import { runTool, UsageError } from '../common/tool-bootstrap';
import { renderTable } from '../common/text-table';
import {
  allCharged,
  avoidSameDayRepeats,
  formatBillingSummary,
  ledgerSnapshotSchema,
  summarizeBilling,
  type BilledOrder,
  type BillingSummary,
  type DemoLedgerSnapshot,
} from './billing-summary';

const USAGE = `usage: npm run demo:orders -- [options]

  --fhir URL            the FHIR API (default http://127.0.0.1:8083/fhir)
  --lab N               laboratory orders (default 12)
  --imaging N           imaging orders (default 6)
  --pharmacy N          medication orders (default 6)
  --stat PERCENT        share placed STAT (default 20)
  --cancel N            routine orders cancelled right after placing (default 1)
  --patients N          synthetic patients (default 10)
  --seed N              seed of the mix (default: the clock)
  --timeout SECONDS     how long to wait for results (default 120)
  --terminology DIR     the code-set tables (default the terminology lib's data)
  --billing-ledger URL  the simulated billing engine's ledger (default http://127.0.0.1:2594,
                        served by sim:ancillaries)
  --billing-timeout S   how long to wait for the charges once the orders settled (default 60;
                        0 skips billing)
  --help                this text`;

const OPTIONS = {
  fhir: { type: 'string' },
  lab: { type: 'string' },
  imaging: { type: 'string' },
  pharmacy: { type: 'string' },
  stat: { type: 'string' },
  cancel: { type: 'string' },
  patients: { type: 'string' },
  seed: { type: 'string' },
  timeout: { type: 'string' },
  terminology: { type: 'string' },
  'billing-ledger': { type: 'string' },
  'billing-timeout': { type: 'string' },
  help: { type: 'boolean' },
} as const;

const count = (name: string, value: string | undefined, fallback: number): number =>
  value === undefined ? fallback : value === '0' ? 0 : parsePositiveInt(name, value);

const seconds = (value: number | undefined): string =>
  value === undefined ? '' : value.toFixed(1);

export function formatOrderLoopSummary(rows: readonly OrderLoopSummaryRow[]): string {
  const names = { lab: 'laboratory (LIS)', imaging: 'imaging (RIS)', pharmacy: 'pharmacy' };
  return renderTable(
    [
      'ancillary',
      'placed',
      'completed',
      'rejected',
      'cancelled',
      'open',
      'order→result p50 s',
      'p95 s',
      'max s',
      'STAT p50 s',
    ],
    rows.map((r) => [
      names[r.kind],
      r.placed,
      r.completed,
      r.rejected,
      r.cancelled,
      r.unsettled,
      seconds(r.p50Seconds),
      seconds(r.p95Seconds),
      seconds(r.maxSeconds),
      seconds(r.statP50Seconds),
    ]),
    { alignRight: [6, 7, 8, 9] },
  );
}

async function main(): Promise<number> {
  const args = parseCommandLine(process.argv.slice(2), OPTIONS, USAGE);
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const stat = count('stat', args.stat, 20);
  if (stat > 100) throw new UsageError('--stat is a percentage (0–100)');
  const seed = args.seed !== undefined ? parsePositiveInt('seed', args.seed) : Date.now() % 1e9;
  const terminology = loadTerminology(args.terminology ?? DEFAULT_TERMINOLOGY_DIR);
  const plan = planOrders(terminology, {
    seed,
    lab: count('lab', args.lab, 12),
    imaging: count('imaging', args.imaging, 6),
    pharmacy: count('pharmacy', args.pharmacy, 6),
    statFraction: stat / 100,
    cancellations: count('cancel', args.cancel, 1),
    patients: count('patients', args.patients, 10),
    assigningAuthority: 'NWH',
    placerPrefix: `D${seed.toString(36).toUpperCase()}-`,
  });
  const repeats = avoidSameDayRepeats(plan);
  const fhir = (args.fhir ?? 'http://127.0.0.1:8083/fhir').replace(/\/$/, '');
  const client = new EhrOrderClient({ baseUrl: fhir });
  const billingTimeoutS = count('billing-timeout', args['billing-timeout'], 60);
  const ledgerUrl = (args['billing-ledger'] ?? 'http://127.0.0.1:2594').replace(/\/$/, '');
  const started = Date.now();
  console.log(`Placing ${plan.length} orders through the FHIR API (seed ${seed})...`);
  const placed = await placeOrders(client, plan);
  const created = placed.filter((p) => p.placed.httpStatus === 201).length;
  console.log(
    `  ${created} created, ${placed.length - created} already there; ` +
      `${plan.filter((p) => p.priority === 'stat').length} STAT, ${plan.filter((p) => p.cancel).length} cancelled`,
  );
  let lastShown = -1;
  const outcomes = await waitForOutcomes(client, placed, {
    timeoutMs: count('timeout', args.timeout, 120) * 1000,
    onProgress: (settled, total) => {
      if (settled !== lastShown) console.log(`  ${settled}/${total} orders settled`);
      lastShown = settled;
    },
  });
  const rows = summarizeOrderLoop(placed, outcomes);
  console.log(
    `\nOrder → result, per ancillary (${((Date.now() - started) / 1000).toFixed(0)} s):\n`,
  );
  console.log(formatOrderLoopSummary(rows));
  const rejected = placed.filter(
    (p) => outcomes.get(p.placed.placerOrderNumber)?.state === 'rejected',
  );
  for (const r of rejected) {
    console.log(
      `  rejected ${r.placed.resourceType}/${r.placed.id} (${r.placed.placerOrderNumber}): ${outcomes.get(r.placed.placerOrderNumber)?.rejection ?? ''}`,
    );
  }
  const example = placed.find(
    (p) =>
      outcomes.get(p.placed.placerOrderNumber)?.state === 'completed' &&
      p.planned.kind === 'imaging',
  );
  if (example) {
    console.log(
      `\nAn imaging order and its report: ${fhir}/${example.placed.resourceType}/${example.placed.id}`,
    );
    console.log(
      `  ${fhir}/${outcomes.get(example.placed.placerOrderNumber)?.resultReference ?? ''}`,
    );
  }
  const ordersOk = !rows.some((r) => r.unsettled > 0);
  if (billingTimeoutS === 0) return ordersOk ? 0 : 1;
  const billingOk = await showBilling(fhir, ledgerUrl, placed, outcomes, {
    timeoutMs: billingTimeoutS * 1000,
    since: new Date(Math.floor(started / 1000) * 1000),
    expectedDuplicates: repeats,
  });
  return ordersOk && billingOk ? 0 : 1;
}

/** The order's filler number as the chart has it (its FILL identifier); null when none. */
async function fillerOf(fhir: string, order: PlacedPlan): Promise<string | null> {
  const url = `${fhir}/${order.placed.resourceType}/${order.placed.id}`;
  const res = await fetch(url, { headers: { Accept: 'application/fhir+json' } });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  const resource = (await res.json()) as {
    identifier?: { value?: string; type?: { coding?: { code?: string }[] } }[];
  };
  const filler = resource.identifier?.find((i) => i.type?.coding?.some((c) => c.code === 'FILL'));
  return filler?.value ?? null;
}

async function readLedger(ledgerUrl: string): Promise<DemoLedgerSnapshot> {
  const res = await fetch(`${ledgerUrl}/ledger`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET ${ledgerUrl}/ledger: HTTP ${res.status}`);
  return ledgerSnapshotSchema.parse(await res.json());
}

/**
 * Waits (bounded) until every completed order of the demo has its charge on the billing
 * engine's ledger, prints the per-loop table, the engine's totals and where to look; false when
 * a charge is missing, a cancelled or rejected order was charged, or a charge was flagged as a
 * duplicate the plan did not make on purpose.
 */
async function showBilling(
  fhir: string,
  ledgerUrl: string,
  placed: readonly PlacedPlan[],
  outcomes: ReadonlyMap<string, OrderOutcome>,
  options: { timeoutMs: number; since: Date; expectedDuplicates: number },
): Promise<boolean> {
  const orders: BilledOrder[] = [];
  for (const p of placed) {
    orders.push({
      kind: p.planned.kind,
      placerOrderNumber: p.placed.placerOrderNumber,
      fillerOrderNumber: await fillerOf(fhir, p),
      state: outcomes.get(p.placed.placerOrderNumber)?.state ?? 'pending',
    });
  }
  const completed = orders.filter((o) => o.state === 'completed').length;
  console.log(
    `\nWaiting for the billing engine to receive a charge for each of the ${completed} completed orders (${ledgerUrl}/ledger)...`,
  );
  const waitStarted = Date.now();
  const deadline = waitStarted + options.timeoutMs;
  let snapshot: DemoLedgerSnapshot | undefined;
  let summary: BillingSummary | undefined;
  let lastShown = -1;
  for (;;) {
    try {
      snapshot = await readLedger(ledgerUrl);
      summary = summarizeBilling(orders, snapshot.ledger);
      const charged = completed - summary.missing.length;
      if (charged !== lastShown) console.log(`  ${charged}/${completed} orders charged`);
      lastShown = charged;
      if (allCharged(summary)) break;
    } catch (error) {
      if (lastShown === -1) {
        console.log(
          `  (the ledger is not readable yet: ${error instanceof Error ? error.message : String(error)})`,
        );
        lastShown = -2;
      }
      if (Date.now() >= deadline) {
        console.log(
          `\nThe billing engine's ledger is not readable at ${ledgerUrl}/ledger: ${error instanceof Error ? error.message : String(error)}` +
            '\n  Is the simulated billing engine running? (npm run sim:ancillaries, or npm run sim:billing)',
        );
        printWhereToLook(ledgerUrl, options.since);
        return false;
      }
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  if (!summary || !snapshot) return false;
  console.log(
    `\nCharges at the billing engine, per loop (the demo's orders, after ${((Date.now() - waitStarted) / 1000).toFixed(0)} s):\n`,
  );
  console.log(formatBillingSummary(summary.rows));
  const net = summary.rows.reduce((total, r) => total + Math.round(r.net * 100), 0) / 100;
  console.log(`\nLedger total for the demo's orders (net of credits): ${money(net)}`);
  const t = snapshot.totals;
  console.log(
    `Billing engine ledger, all it posted since it started (other traffic and earlier runs included): ` +
      `${t.lines} lines, ${money(t.grossCharges)} charged, ${money(t.credits)} credited, ` +
      `net ${money(t.net)}, ${t.duplicates} duplicate(s) flagged`,
  );
  if (summary.missing.length > 0) {
    console.log(
      `\n${summary.missing.length} completed order(s) without a charge after ${(options.timeoutMs / 1000).toFixed(0)} s ` +
        '(why: the audit and the dead-letter topics below, or .stack/logs/billing-trigger.log):',
    );
  }
  for (const order of summary.missing) {
    console.log(
      `  NOT CHARGED ${order.kind} ${order.placerOrderNumber} (filler ${order.fillerOrderNumber ?? 'none'})`,
    );
  }
  for (const { order, line } of summary.unexpected) {
    console.log(
      `  CHARGED THOUGH ${order.state.toUpperCase()}: ${order.kind} ${order.placerOrderNumber} (filler ${order.fillerOrderNumber ?? 'none'}), ledger #${line.seq} ${line.chargeCode} ${money(line.amount)}`,
    );
  }
  for (const { order, line } of summary.duplicates) {
    console.log(
      `  DUPLICATE FLAGGED: ${order.kind} ${order.placerOrderNumber} ledger #${line.seq} ${line.chargeCode} ${money(line.amount)}`,
    );
  }
  if (options.expectedDuplicates > 0) {
    console.log(
      `  (${options.expectedDuplicates} order(s) repeat a test for a patient on the same day: too few --patients to avoid it; the engine flags those)`,
    );
  }
  printWhereToLook(ledgerUrl, options.since);
  return (
    allCharged(summary) &&
    summary.unexpected.length === 0 &&
    summary.duplicates.length <= options.expectedDuplicates
  );
}

const money = (amount: number): string => formatNumber(amount, 2);

function printWhereToLook(ledgerUrl: string, since: Date): void {
  const iso = since.toISOString().replace(/\.\d{3}Z$/, 'Z');
  console.log(`
Where to look (billing):
  billing-trigger log     .stack/logs/billing-trigger.log  (JSON lines: "charge lines published", "charge accepted by the billing engine")
  its metrics             http://127.0.0.1:8086/metrics  (charges_created_total, charges_sent_total, charge_lag_seconds)
  charge events           npm run topic:tail -- billing.charges.v1 --from-beginning
  refused charges         npm run topic:tail -- billing.charges.v1.dlt --from-beginning
  billing engine ledger   ${ledgerUrl}/ledger  ${ledgerUrl}/ledger/totals  (DFT lines: .stack/logs/sim-ancillaries.log)
  missed-charge audit     npm run audit:charges -- --since ${iso}`);
}

runTool(main, { errorExitCode: 2 });
