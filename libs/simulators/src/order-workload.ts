/**
 * A seeded order workload for the whole order → result loop: which patients get which lab
 * tests, imaging studies and medications, which are STAT and which are cancelled, drawn from
 * the terminology tables the ancillaries understand. Then: place them through the FHIR API,
 * wait until every order is completed, rejected or cancelled, and summarise order-to-result
 * times per ancillary. The demo, the end-to-end suites and the benchmarks share it.
 */
import type { Terminology } from '@ancillary/terminology';
import {
  type EhrOrderClient,
  type OrderKind,
  type OrderOutcome,
  type OrderPriority,
  type PlacedOrder,
} from './ehr-order.client';
import { percentile } from './latency.stats';
import { SeededRandom } from './seeded-random';
import {
  createPatientPool,
  createProviderPool,
  type OrderingProvider,
  type SyntheticPatient,
} from './synthetic-patients';

export interface OrderWorkloadOptions {
  seed: number;
  lab: number;
  imaging: number;
  pharmacy: number;
  /** Share of orders placed STAT, 0–1. */
  statFraction: number;
  /** How many of the routine orders are cancelled right after they are placed. */
  cancellations: number;
  patients: number;
  /** PID-3.4 / Patient.identifier.system of the synthetic MRNs. */
  assigningAuthority: string;
  /** Placer order numbers are `<prefix><n>`; unique per run so reruns place new orders. */
  placerPrefix: string;
  /** Terminology facilities of the three ancillaries. */
  facilities?: { lab: string; imaging: string; pharmacy: string };
}

export interface PlannedOrder {
  kind: OrderKind;
  placerOrderNumber: string;
  patient: SyntheticPatient;
  requester: OrderingProvider;
  priority: OrderPriority;
  code: string;
  display: string;
  cancel: boolean;
}

export const DEFAULT_ORDER_FACILITIES = { lab: 'NWH-LAB', imaging: 'NWH-RAD', pharmacy: 'NWH-RX' };

const REASONS = [
  { code: 'I10', display: 'Essential (primary) hypertension' },
  { code: 'E11.9', display: 'Type 2 diabetes mellitus without complications' },
  { code: 'R07.9', display: 'Chest pain, unspecified' },
  { code: 'J18.9', display: 'Pneumonia, unspecified organism' },
  { code: 'N18.3', display: 'Chronic kidney disease, stage 3' },
];

/** The orders of a run, deterministic for a seed and the tables. */
export function planOrders(
  terminology: Terminology,
  options: OrderWorkloadOptions,
): PlannedOrder[] {
  const facilities = options.facilities ?? DEFAULT_ORDER_FACILITIES;
  const random = new SeededRandom(options.seed);
  const patients = createPatientPool(random, options.patients, options.assigningAuthority);
  const providers = createProviderPool(random);
  const catalogue: Record<OrderKind, { code: string; display: string }[]> = {
    lab: terminology
      .orderables(facilities.lab)
      .map((o) => ({ code: o.loincCode, display: o.loincDisplay })),
    imaging: terminology
      .imagingProcedures(facilities.imaging)
      .map((p) => ({ code: p.cptCode, display: p.cptDisplay })),
    pharmacy: terminology
      .formulary(facilities.pharmacy)
      .map((f) => ({ code: f.rxnormCode, display: f.rxnormDisplay })),
  };
  const kinds: OrderKind[] = [
    ...Array<OrderKind>(options.lab).fill('lab'),
    ...Array<OrderKind>(options.imaging).fill('imaging'),
    ...Array<OrderKind>(options.pharmacy).fill('pharmacy'),
  ];
  const plan: PlannedOrder[] = kinds.map((kind, i) => {
    const item = random.pick(catalogue[kind]);
    return {
      kind,
      placerOrderNumber: `${options.placerPrefix}${String(i + 1).padStart(4, '0')}`,
      patient: random.pick(patients),
      requester: random.pick(providers),
      priority: random.next() < options.statFraction ? 'stat' : 'routine',
      code: item.code,
      display: item.display,
      cancel: false,
    };
  });
  // Interleave the kinds as a ward would place them, then pick the cancellations.
  for (let i = plan.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    [plan[i], plan[j]] = [plan[j] as PlannedOrder, plan[i] as PlannedOrder];
  }
  const routine = plan.filter((o) => o.priority === 'routine');
  for (const order of routine.slice(0, options.cancellations)) order.cancel = true;
  return plan;
}

export interface PlacedPlan {
  planned: PlannedOrder;
  placed: PlacedOrder;
}

/** Places every order (patients first), `concurrency` requests at a time; cancels the marked ones. */
export async function placeOrders(
  client: EhrOrderClient,
  plan: readonly PlannedOrder[],
  concurrency = 4,
): Promise<PlacedPlan[]> {
  const patientIds = new Map<string, string>();
  for (const { patient } of plan) {
    if (!patientIds.has(patient.mrn))
      patientIds.set(patient.mrn, await client.ensurePatient(patient));
  }
  const results: PlacedPlan[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < plan.length) {
      const planned = plan[next++];
      if (!planned) break;
      const patientId = patientIds.get(planned.patient.mrn) ?? '';
      const common = {
        patientId,
        placerOrderNumber: planned.placerOrderNumber,
        priority: planned.priority,
        requester: planned.requester,
        // One visit per patient and run: the account the ancillaries echo and billing posts to.
        encounter: `V${planned.placerOrderNumber.split('-')[0] ?? ''}-${planned.patient.mrn}`,
        reasons: [REASONS[Number(planned.placerOrderNumber.slice(-4)) % REASONS.length]].filter(
          (r) => r !== undefined,
        ),
      };
      const placed =
        planned.kind === 'lab'
          ? await client.placeLabOrder({
              ...common,
              test: { code: planned.code, display: planned.display },
            })
          : planned.kind === 'imaging'
            ? await client.placeImagingOrder({
                ...common,
                procedure: { code: planned.code, display: planned.display },
              })
            : await client.placeMedicationOrder({
                ...common,
                medication: { code: planned.code, display: planned.display },
                dose: { value: 1, unit: '{tbl}' },
                route: { code: '26643006', display: 'Oral route' },
                frequency: 'BID',
                quantity: { value: 60, unit: '{tbl}' },
                daysSupply: 30,
                instructions: 'Take 1 tablet by mouth twice daily',
              });
      if (planned.cancel) await client.cancel(placed);
      results.push({ planned, placed });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, () => worker()));
  return results;
}

export interface WaitOptions {
  timeoutMs: number;
  pollMs?: number;
  onProgress?: (settled: number, total: number) => void;
}

const SETTLED = new Set(['completed', 'rejected', 'cancelled']);

/**
 * Polls the chart until every order is completed, rejected or cancelled, or the time is up;
 * returns the last outcome of each (by placer number), settled or not.
 */
export async function waitForOutcomes(
  client: EhrOrderClient,
  orders: readonly PlacedPlan[],
  options: WaitOptions,
): Promise<Map<string, OrderOutcome>> {
  const outcomes = new Map<string, OrderOutcome>();
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    for (const { placed } of orders) {
      const known = outcomes.get(placed.placerOrderNumber);
      if (known && SETTLED.has(known.state)) continue;
      outcomes.set(placed.placerOrderNumber, await client.outcome(placed));
    }
    const settled = [...outcomes.values()].filter((o) => SETTLED.has(o.state)).length;
    options.onProgress?.(settled, orders.length);
    if (settled === orders.length || Date.now() >= deadline) return outcomes;
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 1000));
  }
}

export interface OrderLoopSummaryRow {
  kind: OrderKind;
  placed: number;
  completed: number;
  rejected: number;
  cancelled: number;
  unsettled: number;
  /** Order to result readable in the chart, seconds, completed orders only. */
  p50Seconds: number | undefined;
  p95Seconds: number | undefined;
  maxSeconds: number | undefined;
  /** Median of the STAT orders alone. */
  statP50Seconds: number | undefined;
}

export function summarizeOrderLoop(
  orders: readonly PlacedPlan[],
  outcomes: ReadonlyMap<string, OrderOutcome>,
): OrderLoopSummaryRow[] {
  const kinds: OrderKind[] = ['lab', 'imaging', 'pharmacy'];
  return kinds.map((kind) => {
    const mine = orders.filter((o) => o.planned.kind === kind);
    const count = (state: string) =>
      mine.filter((o) => outcomes.get(o.placed.placerOrderNumber)?.state === state).length;
    const seconds = (filter: (o: PlacedPlan) => boolean) =>
      mine
        .filter(filter)
        .map((o) => {
          const outcome = outcomes.get(o.placed.placerOrderNumber);
          return outcome?.state === 'completed' && outcome.resultAt !== undefined
            ? (outcome.resultAt - o.placed.authoredAt) / 1000
            : undefined;
        })
        .filter((s): s is number => s !== undefined)
        .sort((a, b) => a - b);
    const all = seconds(() => true);
    const stat = seconds((o) => o.planned.priority === 'stat');
    const completed = count('completed');
    const rejected = count('rejected');
    const cancelled = count('cancelled');
    return {
      kind,
      placed: mine.length,
      completed,
      rejected,
      cancelled,
      unsettled: mine.length - completed - rejected - cancelled,
      p50Seconds: all.length > 0 ? percentile(all, 50) : undefined,
      p95Seconds: all.length > 0 ? percentile(all, 95) : undefined,
      maxSeconds: all.at(-1),
      statP50Seconds: stat.length > 0 ? percentile(stat, 50) : undefined,
    };
  });
}
