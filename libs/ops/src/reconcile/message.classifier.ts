/**
 * The audit's judgement of one inbound message, from what the chart and the dead-letter
 * topics hold. Pure: the I/O happens before (ChartLedger, DeadLetterIndex).
 *
 * - in-chart: every order group has a ledger row and its DiagnosticReport exists at the
 *   version the ledger names;
 * - replayed: in the chart, and a dead-letter copy exists (it got there after a replay or a resend);
 * - dead-lettered: the message sits in the inbound dead-letter topic, or every order group not
 *   in the chart sits in the results dead-letter topic — with the reason;
 * - not-a-result: not an ORU^R01 (reported separately, not an error);
 * - missing: anything else.
 */
import { recordAddress } from '../dead-letter.record';
import type { ChartLookup } from './chart.ledger';
import { reportKey } from './chart.ledger';
import type { DeadLetterEntry, DeadLetterIndex } from './dead-letter.index';
import { identityOf, RESULT_MESSAGE_TYPE, type InboundMessage } from './inbound-message';

export type MessageClass = 'in-chart' | 'replayed' | 'dead-lettered' | 'not-a-result' | 'missing';

export type OrderState =
  | 'in-chart'
  | 'dead-lettered'
  | 'no-ledger-row'
  | 'ledger-without-report'
  | 'report-version-absent';

export interface OrderCheck {
  orderIndex: number;
  eventId: string;
  state: OrderState;
  reportId?: string;
  reportVersion?: number;
  /** The ledger's outcome column, when there is a row. */
  outcome?: string;
}

export interface AuditedMessage extends InboundMessage {
  class: MessageClass;
  orders: OrderCheck[];
  /** Its dead letters, inbound and results, oldest first. */
  deadLetters: DeadLetterEntry[];
  /** What is missing (missing), why it was dead-lettered (dead-lettered), the type (not-a-result). */
  detail: string;
}

export function classifyMessage(
  message: InboundMessage,
  inboundTopic: string,
  chart: ChartLookup,
  deadLetters: DeadLetterIndex,
): AuditedMessage {
  const identity = identityOf(message.sourceSystem, message.messageControlId);
  const inbound = deadLetters.inboundFor(
    identity,
    recordAddress(inboundTopic, message.partition, message.offset),
  );
  const results = deadLetters.allResultsFor(identity);
  const all = [...inbound, ...results].sort(
    (a, b) => a.timestamp.getTime() - b.timestamp.getTime(),
  );
  const verdict = (
    cls: MessageClass,
    detail: string,
    orders: OrderCheck[] = [],
  ): AuditedMessage => ({
    ...message,
    class: cls,
    orders,
    deadLetters: all,
    detail,
  });

  if (message.messageType !== undefined && message.messageType !== RESULT_MESSAGE_TYPE) {
    return verdict('not-a-result', message.messageType);
  }
  if (!message.expectedEventIds) {
    const problem = message.problem ?? 'the expected results cannot be computed';
    return inbound.length > 0
      ? verdict('dead-lettered', reasonOf(inbound))
      : verdict('missing', `${problem}, and it is in no dead-letter topic`);
  }

  const orders = message.expectedEventIds.map((eventId, orderIndex) =>
    checkOrder(eventId, orderIndex, identity, chart, deadLetters),
  );
  if (orders.every((o) => o.state === 'in-chart')) {
    const latest = all.at(-1);
    return latest
      ? verdict('replayed', `in the chart after ${describeEntry(latest)}`, orders)
      : verdict('in-chart', '', orders);
  }
  if (inbound.length > 0) return verdict('dead-lettered', reasonOf(inbound), orders);
  const open = orders.filter((o) => o.state !== 'in-chart');
  if (open.every((o) => o.state === 'dead-lettered')) {
    const entries = open.flatMap((o) => deadLetters.resultsFor(identity, o.eventId));
    return verdict('dead-lettered', reasonOf(entries), orders);
  }
  return verdict(
    'missing',
    open
      .filter((o) => o.state !== 'dead-lettered')
      .map(describeOrder)
      .join('; '),
    orders,
  );
}

function checkOrder(
  eventId: string,
  orderIndex: number,
  identity: string | undefined,
  chart: ChartLookup,
  deadLetters: DeadLetterIndex,
): OrderCheck {
  const row = chart.ledger.get(eventId);
  if (!row) {
    return {
      orderIndex,
      eventId,
      state:
        deadLetters.resultsFor(identity, eventId).length > 0 ? 'dead-lettered' : 'no-ledger-row',
    };
  }
  const base = {
    orderIndex,
    eventId,
    ...(row.outcome !== null ? { outcome: row.outcome } : {}),
  };
  if (row.reportId === null || row.reportVersion === null) {
    return { ...base, state: 'ledger-without-report' };
  }
  const withReport = { ...base, reportId: row.reportId, reportVersion: row.reportVersion };
  return chart.reports.has(reportKey(row.reportId, row.reportVersion))
    ? { ...withReport, state: 'in-chart' }
    : { ...withReport, state: 'report-version-absent' };
}

/** One line per missing order group: which one, and what the chart lacks. */
export function describeOrder(order: OrderCheck): string {
  const which = `order ${order.orderIndex} (event ${order.eventId})`;
  switch (order.state) {
    case 'in-chart':
      return `${which}: in the chart`;
    case 'dead-lettered':
      return `${which}: dead-lettered`;
    case 'no-ledger-row':
      return `${which}: no ledger row`;
    case 'ledger-without-report':
      return `${which}: ledger row (outcome ${order.outcome ?? 'null'}) names no DiagnosticReport`;
    case 'report-version-absent':
      return `${which}: DiagnosticReport/${order.reportId} version ${order.reportVersion} not in resource_history`;
  }
}

function describeEntry(entry: DeadLetterEntry): string {
  return `dead letter ${recordAddress(entry.topic, entry.partition, entry.offset)}`;
}

/** The most recent failure: its topic, code and message. */
function reasonOf(entries: readonly DeadLetterEntry[]): string {
  const latest = [...entries].sort((x, y) => x.timestamp.getTime() - y.timestamp.getTime()).at(-1);
  if (!latest) return 'dead-lettered (no reason recorded)';
  const code = latest.errorCode ?? latest.errorClass ?? 'unknown error';
  return `${latest.topic}: ${code}: ${latest.errorMessage ?? '(no message)'}`;
}
