/**
 * The missed-charge audit (revenue integrity, ADR 0004 item 6): over a time window, every
 * completed order and dispense in the chart has its charge — sent, pending, or in a dead-letter
 * topic with a reason — and every charge points to completed clinical work. What is neither is
 * a discrepancy a revenue-integrity analyst must act on.
 *
 * How: the billing dead letters are read first (from the beginning of each dead-letter topic
 * to the end offsets captured at start, with a throwaway consumer group, as reconcile does);
 * then the chart: the window's completed ServiceRequests and MedicationDispenses, the
 * ChargeItems that name them or were written in the window, and the work those charges name.
 * The judgement is pure (charge.classifier.ts). The audit only reads.
 */
import {
  ChargeEventContract,
  deadLetterTopicOf,
  ImagingReportContract,
  LabResultContract,
  MedicationDispensedContract,
  Topics,
  type ChargeEvent,
  type ImagingReport,
  type LabResult,
  type MedicationDispensed,
  type ValueContract,
} from '@ancillary/contracts';
import { SchemaViolationError, type AvroCodec } from '@ancillary/messaging-kafka';
import { counter, type Logger } from '@ancillary/observability';
import type { Kafka } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { readDeadLetter, type DeadLetterRecord } from '../dead-letter.record';
import { InvalidOpsOptionsError } from '../ops.errors';
import {
  assertTopicsExist,
  deleteReadGroup,
  readPartitionRanges,
  watermarks,
  withAdmin,
  type PartitionRange,
} from '../topic-range.reader';
import { ChargeChart } from './charge.chart';
import {
  CHARGE_AUDIT_CATEGORIES,
  ChargeIndex,
  classifyCharge,
  classifyWork,
  DISCREPANCY_CATEGORIES,
  workRefOf,
  type AuditedCharge,
  type AuditedWork,
  type ChargeAuditCategory,
  type WorkLookup,
} from './charge.classifier';
import {
  ChargeDeadLetterIndex,
  chargeDeadLetterOf,
  deadLetterAddress,
  type DeadLetterSubject,
} from './charge-dead-letters';
import {
  DISPENSE_KEY_PREFIX,
  workLabel,
  workReference,
  type ChargeRecord,
  type WorkRecord,
} from './charge-records';

export interface ChargeAuditTopics {
  /** Where the billing sender dead-letters charge events (ChargeEvent values). */
  chargeDeadLetters: string;
  /** Where billing-trigger dead-letters final lab results it could not charge (LabResult). */
  resultsDeadLetters: string;
  /** … imaging reports (ImagingReport). */
  imagingReportsDeadLetters: string;
  /** … dispenses (MedicationDispensed). */
  dispensesDeadLetters: string;
}

export const DEFAULT_CHARGE_AUDIT_TOPICS: ChargeAuditTopics = {
  chargeDeadLetters: deadLetterTopicOf(Topics.billingCharges.name),
  resultsDeadLetters: deadLetterTopicOf(Topics.clinicalResults.name),
  imagingReportsDeadLetters: deadLetterTopicOf(Topics.clinicalImagingReports.name),
  dispensesDeadLetters: deadLetterTopicOf(Topics.clinicalDispenses.name),
};

/** billing-trigger's SERVICE_NAME: the x-dlt-service of its completion dead letters. */
export const DEFAULT_BILLING_SERVICE = 'billing-trigger';
export const DEFAULT_PENDING_GRACE_MS = 15 * 60_000;

export interface ChargeAuditOptions {
  kafka: Kafka;
  /** Decodes the dead-lettered values through the schema registry. */
  codec: AvroCodec;
  /** The clinical repository (fhir.resource, fhir.resource_history, fhir.search_token). */
  pool: Pool;
  logger: Logger;
  /** Identifier system of placer order numbers: the ehr-writer's PLACER_ORDER_SYSTEM. */
  placerOrderSystem: string;
  /** Window start: work completed (charges dated) at or after it. */
  since: Date;
  /** Window end (exclusive); default: when the audit starts. */
  until?: Date;
  /** How long a charge may stay billable before it is a discrepancy, ms (default 15 min). */
  pendingGraceMs?: number;
  /** Only completion dead letters of this service count (default billing-trigger). */
  billingService?: string;
  /** The catalogue's dead-letter topics by default; tests pass their own. */
  topics?: Partial<ChargeAuditTopics>;
  /**
   * How far a resource's write may precede the time it records (clocks of other systems), ms;
   * default 1 h. Dispenses and ChargeItems written before `since` minus this are not read.
   */
  clockSkewMs?: number;
  /** See ReadRangesOptions.idleTimeoutMs. */
  idleTimeoutMs?: number;
  /** The audit's clock (tests). */
  now?: () => Date;
}

/** One line of the discrepancy table (or of the pending list). */
export interface ChargeFinding {
  category: ChargeAuditCategory;
  /** `ServiceRequest/<id>`, `MedicationDispense/<id>` or `ChargeItem/<id>`. */
  reference: string;
  /** placer / filler number or dispense id (for a charge: its charge key). */
  label: string;
  /** Completion time of the work, or the charge's date of service. */
  at?: Date;
  subject?: string;
  /** The ChargeItems involved. */
  chargeItems: string[];
  /** `<topic>/<partition>/<offset>` of the latest dead letter involved. */
  deadLetter?: string;
  detail: string;
}

export interface ChargeAuditReport {
  topics: ChargeAuditTopics;
  since: Date;
  until: Date;
  startedAt: Date;
  durationMs: number;
  pendingGraceMs: number;
  /** Completed work judged, by type. */
  serviceRequests: number;
  dispenses: number;
  /** Standing ChargeItems dated in the window that were checked for their work. */
  chargesChecked: number;
  counts: Record<ChargeAuditCategory, number>;
  /** Every discrepancy, work first (by completion time), then charges without work. */
  discrepancies: ChargeFinding[];
  /** Informational: charges still within the grace period. */
  pending: ChargeFinding[];
  deadLettersRead: number;
  /** Dead letters whose value did not decode (they match nothing). */
  deadLettersUndecodable: number;
  /** No discrepancy. */
  ok: boolean;
}

const auditedCounter = counter(
  'ancillary_ops_charge_audit_items_total',
  'Completed work and charges judged by the missed-charge audit, by category',
  ['category'],
);

export async function auditCharges(options: ChargeAuditOptions): Promise<ChargeAuditReport> {
  const clock = options.now ?? (() => new Date());
  const startedAt = clock();
  const { logger, since } = options;
  const until = options.until ?? startedAt;
  validate(options, until);
  const topics: ChargeAuditTopics = { ...DEFAULT_CHARGE_AUDIT_TOPICS, ...options.topics };
  const pendingGraceMs = options.pendingGraceMs ?? DEFAULT_PENDING_GRACE_MS;
  const skewMs = options.clockSkewMs ?? 60 * 60_000;
  const groupId = `ops.charge-audit.${randomUUID()}`;
  const log = logger.child({ groupId });

  // 1. Dead letters, from the start of each topic to its end at this moment.
  const deadLetters = await readChargeDeadLetters(options, topics, groupId, log);

  // 2. The chart.
  const chart = new ChargeChart(options.pool, options.placerOrderSystem);
  const orders = await chart.completedServiceRequests(since, until);
  const dispenses = await chart.completedDispenses(since, until, skewMs);
  const work = [...orders, ...dispenses];
  const charges = await chart.charges({
    placerOrderNumbers: unique(orders.flatMap((w) => w.placerOrderNumber ?? [])),
    fillerOrderNumbers: unique(
      orders.filter((w) => w.placerOrderNumber === undefined).flatMap((w) => w.fillerOrderNumbers),
    ),
    dispenseKeys: unique(dispenses.flatMap((w) => w.dispenseId ?? []).map(dispenseKeyOf)),
    updatedSince: new Date(since.getTime() - skewMs),
  });
  const chargeIndex = new ChargeIndex(charges);
  const inWindow = charges.filter(
    (c) => c.occurrence !== undefined && c.occurrence >= since && c.occurrence < until,
  );
  const lookup = await workLookup(chart, work, inWindow);

  // 3. The judgement.
  const now = clock();
  const audited = work.map((w) =>
    classifyWork(w, chargeIndex, deadLetters, { now, pendingGraceMs }),
  );
  const unworked = inWindow.flatMap((c) => classifyCharge(c, lookup) ?? []);

  const report = buildReport({
    topics,
    since,
    until,
    startedAt,
    pendingGraceMs,
    orders: orders.length,
    dispenses: dispenses.length,
    chargesChecked: inWindow.filter((c) => c.status === 'billable' || c.status === 'billed').length,
    audited,
    unworked,
    deadLetters,
  });
  report.durationMs = Date.now() - startedAt.getTime();
  log.info(
    { counts: report.counts, durationMs: report.durationMs },
    report.ok
      ? 'charge audit finished: every completed item has its charge'
      : 'charge audit finished: discrepancies',
  );
  return report;
}

function dispenseKeyOf(dispenseId: string): string {
  return `${DISPENSE_KEY_PREFIX}${dispenseId}`;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** The work the window's charges name: what the window loaded, plus one query for the rest. */
async function workLookup(
  chart: ChargeChart,
  loaded: readonly WorkRecord[],
  charges: readonly ChargeRecord[],
): Promise<WorkLookup> {
  const orderNumbers = new Set<string>();
  const dispenseIds = new Set<string>();
  for (const charge of charges) {
    const ref = workRefOf(charge);
    if (ref.dispenseId !== undefined) dispenseIds.add(ref.dispenseId);
    for (const p of ref.placerOrderNumbers) orderNumbers.add(p);
    if (ref.placerOrderNumbers.length === 0 && ref.fillerOrderNumber !== undefined) {
      orderNumbers.add(ref.fillerOrderNumber);
    }
  }
  const known = new Set<string>();
  for (const w of loaded) {
    if (w.placerOrderNumber !== undefined) known.add(w.placerOrderNumber);
    for (const f of w.fillerOrderNumbers) known.add(f);
  }
  const knownDispenses = new Set(loaded.flatMap((w) => w.dispenseId ?? []));
  const more = await chart.workByIdentifiers(
    [...orderNumbers].filter((n) => !known.has(n)),
    [...dispenseIds].filter((d) => !knownDispenses.has(d)),
  );
  const byPlacer = new Map<string, WorkRecord[]>();
  const byFiller = new Map<string, WorkRecord[]>();
  const byDispense = new Map<string, WorkRecord[]>();
  const seen = new Set<string>();
  const add = (map: Map<string, WorkRecord[]>, key: string, w: WorkRecord) => {
    const list = map.get(key);
    if (list) list.push(w);
    else map.set(key, [w]);
  };
  for (const w of [...loaded, ...more]) {
    const ref = workReference(w);
    if (seen.has(ref)) continue;
    seen.add(ref);
    if (w.placerOrderNumber !== undefined) add(byPlacer, w.placerOrderNumber, w);
    for (const f of w.fillerOrderNumbers) add(byFiller, f, w);
    if (w.dispenseId !== undefined) add(byDispense, w.dispenseId, w);
  }
  return {
    byPlacer: (p) => byPlacer.get(p) ?? [],
    byFiller: (f) => byFiller.get(f) ?? [],
    byDispenseId: (d) => byDispense.get(d) ?? [],
  };
}

interface DeadLetterSource {
  kind: 'completion' | 'charge';
  contract: ValueContract;
  subject: (value: unknown) => DeadLetterSubject;
}

function sourcesOf(topics: ChargeAuditTopics): Map<string, DeadLetterSource> {
  return new Map<string, DeadLetterSource>([
    [
      topics.chargeDeadLetters,
      {
        kind: 'charge',
        contract: ChargeEventContract,
        subject: (v) => {
          const e = v as ChargeEvent;
          return {
            placerOrderNumber: e.placerOrderNumber,
            fillerOrderNumber: e.fillerOrderNumber,
            chargeEventId: e.eventId,
            chargeKey: e.chargeKey,
            action: e.action,
          };
        },
      },
    ],
    [
      topics.resultsDeadLetters,
      {
        kind: 'completion',
        contract: LabResultContract,
        subject: (v) => {
          const r = v as LabResult;
          return {
            placerOrderNumber: r.order.placerOrderNumber,
            fillerOrderNumber: r.order.fillerOrderNumber,
          };
        },
      },
    ],
    [
      topics.imagingReportsDeadLetters,
      {
        kind: 'completion',
        contract: ImagingReportContract,
        subject: (v) => {
          const r = v as ImagingReport;
          return {
            placerOrderNumber: r.placerOrderNumber,
            fillerOrderNumber: r.fillerOrderNumber ?? r.accessionNumber,
          };
        },
      },
    ],
    [
      topics.dispensesDeadLetters,
      {
        kind: 'completion',
        contract: MedicationDispensedContract,
        subject: (v) => {
          const d = v as MedicationDispensed;
          return {
            placerOrderNumber: d.placerOrderNumber,
            fillerOrderNumber: d.fillerOrderNumber,
            dispenseId: d.dispenseId,
          };
        },
      },
    ],
  ]);
}

async function readChargeDeadLetters(
  options: ChargeAuditOptions,
  topics: ChargeAuditTopics,
  groupId: string,
  log: Logger,
): Promise<ChargeDeadLetterIndex> {
  const { kafka, codec } = options;
  const billingService = options.billingService ?? DEFAULT_BILLING_SERVICE;
  const sources = sourcesOf(topics);
  const names = [...sources.keys()];
  const ranges = await withAdmin(kafka, async (admin) => {
    await assertTopicsExist(admin, names);
    const all: PartitionRange[] = [];
    for (const topic of names) {
      for (const { partition, low, high } of await watermarks(admin, topic)) {
        all.push({ topic, partition, from: low, to: high });
      }
    }
    return all;
  });
  const index = new ChargeDeadLetterIndex();
  try {
    await readPartitionRanges({
      kafka,
      groupId,
      logger: log,
      ranges,
      ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
      onBatch: async ({ topic, partition, messages }) => {
        const source = sources.get(topic);
        if (!source) return;
        for (const message of messages) {
          const record = readDeadLetter(topic, partition, message);
          // Other consumers of a completion topic (the ehr-writer) dead-letter there too.
          if (source.kind === 'completion' && record.service !== billingService) continue;
          index.add(
            chargeDeadLetterOf(source.kind, record, await decode(codec, source, record, log)),
          );
        }
      },
    });
  } finally {
    await deleteReadGroup(kafka, groupId, log, 'charge audit');
  }
  return index;
}

async function decode(
  codec: AvroCodec,
  source: DeadLetterSource,
  record: DeadLetterRecord,
  log: Logger,
): Promise<DeadLetterSubject | undefined> {
  try {
    return source.subject(await codec.decode<unknown>(source.contract, record.value));
  } catch (error) {
    // Only a value that is not of the contract is skipped; an unreachable registry ends the audit.
    if (!(error instanceof SchemaViolationError)) throw error;
    log.warn(
      { topic: record.topic, partition: record.partition, offset: record.offset },
      'dead letter does not decode; it is counted but matches no work',
    );
    return undefined;
  }
}

interface ReportParts {
  topics: ChargeAuditTopics;
  since: Date;
  until: Date;
  startedAt: Date;
  pendingGraceMs: number;
  orders: number;
  dispenses: number;
  chargesChecked: number;
  audited: AuditedWork[];
  unworked: AuditedCharge[];
  deadLetters: ChargeDeadLetterIndex;
}

export function workFinding(audited: AuditedWork): ChargeFinding {
  const latest = audited.deadLetters.at(-1);
  return {
    category: audited.category,
    reference: workReference(audited.work),
    label: workLabel(audited.work),
    ...(audited.work.completedAt ? { at: audited.work.completedAt } : {}),
    ...(audited.work.subject !== undefined ? { subject: audited.work.subject } : {}),
    chargeItems: audited.charges.map((c) => `ChargeItem/${c.id}`),
    ...(latest ? { deadLetter: deadLetterAddress(latest) } : {}),
    detail: audited.detail,
  };
}

export function chargeFinding(audited: AuditedCharge): ChargeFinding {
  const { charge } = audited;
  return {
    category: audited.category,
    reference: `ChargeItem/${charge.id}`,
    label: charge.chargeKey !== undefined ? `key ${charge.chargeKey}` : '(no charge key)',
    ...(charge.occurrence ? { at: charge.occurrence } : {}),
    ...(charge.subject !== undefined ? { subject: charge.subject } : {}),
    chargeItems: [`ChargeItem/${charge.id}`],
    detail: audited.detail,
  };
}

export function buildReport(parts: ReportParts): ChargeAuditReport {
  const counts = Object.fromEntries(CHARGE_AUDIT_CATEGORIES.map((c) => [c, 0])) as Record<
    ChargeAuditCategory,
    number
  >;
  const discrepancies: ChargeFinding[] = [];
  const pending: ChargeFinding[] = [];
  const byTime = (a: ChargeFinding, b: ChargeFinding) =>
    (a.at?.getTime() ?? 0) - (b.at?.getTime() ?? 0) || a.reference.localeCompare(b.reference);
  for (const audited of parts.audited) {
    counts[audited.category]++;
    auditedCounter.inc({ category: audited.category });
    if (DISCREPANCY_CATEGORIES.has(audited.category)) discrepancies.push(workFinding(audited));
    else if (audited.category === 'PENDING') pending.push(workFinding(audited));
  }
  discrepancies.sort(byTime);
  pending.sort(byTime);
  const unworked = parts.unworked.map(chargeFinding).sort(byTime);
  for (const finding of unworked) {
    counts[finding.category]++;
    auditedCounter.inc({ category: finding.category });
  }
  discrepancies.push(...unworked);
  return {
    topics: parts.topics,
    since: parts.since,
    until: parts.until,
    startedAt: parts.startedAt,
    durationMs: 0,
    pendingGraceMs: parts.pendingGraceMs,
    serviceRequests: parts.orders,
    dispenses: parts.dispenses,
    chargesChecked: parts.chargesChecked,
    counts,
    discrepancies,
    pending,
    deadLettersRead: parts.deadLetters.size,
    deadLettersUndecodable: parts.deadLetters.undecodable,
    ok: discrepancies.length === 0,
  };
}

function validate(options: ChargeAuditOptions, until: Date): void {
  const { since, pendingGraceMs, clockSkewMs, placerOrderSystem } = options;
  if (Number.isNaN(since.getTime())) throw new InvalidOpsOptionsError('since is not a valid time');
  if (Number.isNaN(until.getTime())) throw new InvalidOpsOptionsError('until is not a valid time');
  if (until <= since) {
    throw new InvalidOpsOptionsError(
      `until (${until.toISOString()}) must be after since (${since.toISOString()})`,
    );
  }
  if (pendingGraceMs !== undefined && (!Number.isFinite(pendingGraceMs) || pendingGraceMs < 0)) {
    throw new InvalidOpsOptionsError(`pendingGraceMs must be zero or more, got ${pendingGraceMs}`);
  }
  if (clockSkewMs !== undefined && (!Number.isFinite(clockSkewMs) || clockSkewMs < 0)) {
    throw new InvalidOpsOptionsError(`clockSkewMs must be zero or more, got ${clockSkewMs}`);
  }
  if (placerOrderSystem.trim() === '') {
    throw new InvalidOpsOptionsError('placerOrderSystem must not be empty');
  }
}
