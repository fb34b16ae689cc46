/**
 * The EHR in the demo: places a seeded mix of laboratory, imaging and medication orders through
 * the FHIR API (some STAT, a few cancelled), waits until the ancillaries' results, reports and
 * dispenses are in the chart, and prints order-to-result times per ancillary.
 *
 *   npm run demo:orders -- --lab 20 --imaging 10 --pharmacy 10
 *   npm run demo:orders -- --help
 *
 * Exit status: 0 when every order was completed, rejected or cancelled in time; 1 when some are
 * still open (the table says which ancillary); 2 for bad options or an unreachable FHIR API.
 */
import {
  EhrOrderClient,
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
  const fhir = (args.fhir ?? 'http://127.0.0.1:8083/fhir').replace(/\/$/, '');
  const client = new EhrOrderClient({ baseUrl: fhir });
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
  return rows.some((r) => r.unsettled > 0) ? 1 : 0;
}

runTool(main, { errorExitCode: 2 });
