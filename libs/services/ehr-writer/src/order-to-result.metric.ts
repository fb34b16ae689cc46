/**
 * Order-to-result latency: from the moment the EHR placed an order (its authoredOn) to the
 * write that put its first final result in the chart (lab, imaging) or its first completed
 * dispense (pharmacy). Observed once per order: the repository's receipt says which write that
 * was (`order.firstResult`), so corrections, later results and replays do not count again.
 */
import type { LinkedOrder, WriteOutcome } from '@ancillary/fhir-store';
import { histogram } from '@ancillary/observability';

export type ResultKind = 'lab' | 'imaging' | 'pharmacy';

/** Seconds, from a simulator's round trip (seconds) to a culture or a report read next day. */
const BUCKETS = [
  1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14_400, 43_200, 86_400, 259_200, 604_800,
];

const orderToResult = histogram(
  'order_to_result_seconds',
  'From the order being placed in the EHR (authoredOn) to its first final result or first dispense in the chart, by ancillary (source system) and kind.',
  ['ancillary', 'kind'],
  BUCKETS,
);

/**
 * Observes the latency when this write filed the order's first result; returns the seconds
 * observed, or undefined when there was nothing to observe (no linked order, not the first
 * result, a replay, an order without a readable authoredOn).
 */
export function observeOrderToResult(
  kind: ResultKind,
  ancillary: string,
  receipt: { outcome: WriteOutcome; writtenAt: number; order?: LinkedOrder },
): number | undefined {
  const order = receipt.order;
  if (receipt.outcome === 'UNCHANGED' || !order?.firstResult || !order.authoredOn) return undefined;
  const authored = Date.parse(order.authoredOn);
  if (Number.isNaN(authored)) return undefined;
  const seconds = Math.max(0, receipt.writtenAt - authored) / 1000;
  orderToResult.observe({ ancillary, kind }, seconds);
  return seconds;
}
