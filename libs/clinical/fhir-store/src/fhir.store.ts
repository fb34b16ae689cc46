/**
 * The clinical repository: FHIR R4 resources in PostgreSQL (JSONB, every version kept), the
 * LabResult writer with its idempotency ledger, and the reads and searches the FHIR API serves.
 * Framework-free: it takes a pg Pool (see @ancillary/database createPool) and a logger.
 */
import type { LabResult } from '@ancillary/contracts';
import { createLogger, describeError, type Logger } from '@ancillary/observability';
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { type JsonObject, sameContent, toJsonObject } from './content';
import {
  classifyDatabaseError,
  InvalidResourceError,
  PatientIdentityConflictError,
  RepositoryConflictError,
  UnsupportedResourceTypeError,
} from './errors';
import {
  type FhirResourceType,
  isFhirResourceType,
  type ResourceBase,
  type StoredResource,
} from './fhir.types';
import { FHIR_ID_PATTERN, identifierLockName, resourceLockName } from './ids';
import { DEFAULT_PLACER_ORDER_SYSTEM } from './lab-result.mapper';
import { type LabWriteReceipt, LabResultWriter } from './lab-result.writer';
import { storeMetrics, type StoreMetrics } from './metrics';
import { runMigrations } from './migrations';
import { indexEntries } from './search-parameters';
import type { SearchQuery } from './search-query';
import { includeStatement, revincludeStatement, searchStatements } from './search.statement';
import { inLockedTransaction } from './transaction';
import { writeStatement, type WriteStatementResult } from './write.statement';
import type { ImagingReport, MedicationDispensed, OrderStatusChanged } from '@ancillary/contracts';
import { DispenseWriter, type DispenseWriteReceipt } from './dispense.writer';
import {
  type EventKind,
  type EventLedgerEntry,
  type EventWriteMetrics,
  type EventWriteReceipt,
  eventWriteMetrics,
  recordedEvent,
  runEventWrite,
} from './event-writer';
import { ImagingReportWriter, type ImagingWriteReceipt } from './imaging-report.writer';
import { OrderStatusWriter, type OrderStatusReceipt } from './order-status.writer';
import {
  BILLING_SOURCE_SYSTEM,
  ChargeItemWriter,
  type ChargeItemReceipt,
} from './charge-item.writer';
import type { ChargeEvent, ChargeStatusEvent, OrderEvent } from '@ancillary/contracts';
import type { OrderResourceType } from './orders/order-codes';
import { orderMetrics } from './orders/order.metrics';
import {
  type CreatePatientOptions,
  type CreateReceipt,
  type OrderReceipt,
  OrderWriter,
  type PlaceOrderOptions,
  type UpdateOrderOptions,
  type UpdateOrderReceipt,
} from './orders/order.writer';
import {
  acquireOutboxLease,
  claimOutbox,
  markOutboxPublished,
  type OutboxLease,
  type OutboxRecord,
  outboxPending,
} from './orders/outbox';

export interface FhirStoreOptions {
  logger?: Logger;
  /**
   * Identifier system of placer order numbers (ORC-2), the one the EHR's ServiceRequests carry,
   * so that a result finds the order the EHR sent. Default `urn:ancillary:placer-order`.
   */
  placerOrderSystem?: string;
  /**
   * IANA time zone in which dates without an offset are read, in searches
   * (`date=2024-03-05` is that day here) and in indexed values. Default UTC.
   */
  timeZone?: string;
  /** Attempts of a LabResult write that lost a race to a concurrent writer. Default 3. */
  conflictAttempts?: number;
}

export interface SearchResult {
  /** Number of matches over all pages; undefined when the query asked for `_total=none`. */
  total?: number;
  /** This page of matches, in the query's order. */
  matches: StoredResource[];
  /** Resources added by _include / _revinclude (not matches themselves), without duplicates. */
  included: StoredResource[];
}

export interface SaveOptions {
  /** meta.source of the version, e.g. `urn:ancillary:ehr:orders`. */
  source: string;
}

export interface SaveReceipt {
  resourceType: FhirResourceType;
  id: string;
  versionId: number;
  outcome: 'CREATED' | 'UPDATED' | 'UNCHANGED';
  lastUpdated: Date;
}

/** One row of the message ledger: how one LabResult event was applied. */
export interface LedgerEntry {
  eventId: string;
  sourceSystem: string;
  messageControlId: string;
  orderIndex: number;
  patientId: string;
  reportId: string;
  reportVersion: number;
  outcome: 'CREATED' | 'UPDATED' | 'UNCHANGED';
  receivedAt: Date;
  writtenAt: Date;
  observationCount: number;
}

interface ResourceRow {
  resource_type: FhirResourceType;
  id: string;
  version_id: number;
  last_updated: Date;
  content: JsonObject;
}

function toStored(row: ResourceRow): StoredResource {
  return {
    resourceType: row.resource_type,
    id: row.id,
    versionId: row.version_id,
    lastUpdated: row.last_updated,
    resource: row.content as ResourceBase & JsonObject,
  };
}

function assertType(type: string): asserts type is FhirResourceType {
  if (!isFhirResourceType(type)) throw new UnsupportedResourceTypeError(type);
}

export class FhirStore {
  private readonly logger: Logger;
  private readonly metrics: StoreMetrics;
  private readonly writer: LabResultWriter;
  private readonly timeZone: string;
  private readonly conflictAttempts: number;
  private readonly events: {
    imaging: ImagingReportWriter;
    dispense: DispenseWriter;
    orderStatus: OrderStatusWriter;
    charges: ChargeItemWriter;
    metrics: EventWriteMetrics;
  };
  private readonly orders: OrderWriter;

  constructor(
    private readonly pool: Pool,
    options: FhirStoreOptions = {},
  ) {
    this.logger = options.logger ?? createLogger({ service: 'fhir-store', level: 'silent' });
    this.metrics = storeMetrics();
    this.timeZone = options.timeZone ?? 'UTC';
    try {
      new Intl.DateTimeFormat('en', { timeZone: this.timeZone });
    } catch {
      throw new Error(`FhirStore: '${this.timeZone}' is not an IANA time zone`);
    }
    this.conflictAttempts = Math.max(1, options.conflictAttempts ?? 3);
    this.orders = new OrderWriter(pool, {
      placerOrderSystem: options.placerOrderSystem ?? DEFAULT_PLACER_ORDER_SYSTEM,
      timeZone: this.timeZone,
      logger: this.logger,
      metrics: orderMetrics(),
    });
    this.writer = new LabResultWriter(pool, {
      placerOrderSystem: options.placerOrderSystem ?? DEFAULT_PLACER_ORDER_SYSTEM,
      timeZone: this.timeZone,
      logger: this.logger,
      metrics: this.metrics,
    });
    const eventWriterOptions = {
      placerOrderSystem: options.placerOrderSystem ?? DEFAULT_PLACER_ORDER_SYSTEM,
      timeZone: this.timeZone,
      logger: this.logger,
      metrics: this.metrics,
    };
    this.events = {
      imaging: new ImagingReportWriter(pool, eventWriterOptions),
      dispense: new DispenseWriter(pool, eventWriterOptions),
      orderStatus: new OrderStatusWriter(pool, eventWriterOptions),
      charges: new ChargeItemWriter(pool, eventWriterOptions),
      metrics: eventWriteMetrics(),
    };
  }

  /** Brings the schema up to date; safe to call from every replica at start-up. */
  async migrate(): Promise<void> {
    try {
      await runMigrations(this.pool, this.logger);
    } catch (error) {
      const classified = classifyDatabaseError(error, 'migrating the repository schema');
      this.logger.error(describeError(classified), 'repository migration failed');
      throw classified;
    }
  }

  /**
   * Applies a LabResult: Patient, ServiceRequest, Specimen, Observations and DiagnosticReport,
   * in one transaction, idempotently (see lab-result.writer.ts for the steps and guarantees).
   * Throws RetriableError subclasses for database trouble, PermanentError ones for results that
   * cannot be filed as they are.
   */
  async writeLabResult(result: LabResult): Promise<LabWriteReceipt> {
    const started = performance.now();
    for (let attempt = 1; ; attempt++) {
      try {
        const receipt = await this.writer.write(result);
        this.metrics.labWrites.inc({
          outcome: receipt.outcome,
          reason: receipt.unchangedReason ?? '',
        });
        this.metrics.labWriteSeconds.observe((performance.now() - started) / 1000);
        this.logger.debug(
          {
            eventId: receipt.eventId,
            messageControlId: result.messageControlId,
            sourceSystem: result.sourceSystem,
            diagnosticReportId: receipt.diagnosticReportId,
            versionId: receipt.versionId,
            outcome: receipt.outcome,
            unchangedReason: receipt.unchangedReason,
          },
          'lab result written',
        );
        return receipt;
      } catch (error) {
        const classified = classifyDatabaseError(error, `writing lab result ${result.eventId}`);
        if (classified instanceof RepositoryConflictError && attempt < this.conflictAttempts) {
          this.logger.info(
            { eventId: result.eventId, attempt, ...describeError(classified) },
            'lab result write lost a race; trying again',
          );
          continue;
        }
        this.metrics.labWriteFailures.inc({
          code: classified.code,
          retriable: String(classified.retriable),
        });
        this.logger.error(
          {
            eventId: result.eventId,
            messageControlId: result.messageControlId,
            sourceSystem: result.sourceSystem,
            attempt,
            ...describeError(classified),
          },
          'lab result write failed',
        );
        throw classified;
      }
    }
  }

  /**
   * Applies an ImagingReport: Patient, radiology DiagnosticReport (presentedForm, conclusion),
   * ImagingStudy when the Study Instance UID is known, and the order (the EHR's ServiceRequest
   * completed on a FINAL/CORRECTED report), in one transaction, idempotently by eventId
   * (imaging-report.writer.ts). Errors as writeLabResult's, InvalidClinicalEventError for a
   * report that cannot be filed as it is.
   */
  writeImagingReport(report: ImagingReport): Promise<ImagingWriteReceipt> {
    return this.runEvent('imaging-report', report, () => this.events.imaging.write(report));
  }

  /**
   * Applies a MedicationDispensed: Patient and MedicationDispense, authorizingPrescription the
   * EHR's MedicationRequest found by placer number, in one transaction, idempotently by eventId
   * (dispense.writer.ts).
   */
  writeDispense(dispense: MedicationDispensed): Promise<DispenseWriteReceipt> {
    return this.runEvent('dispense', dispense, () => this.events.dispense.write(dispense));
  }

  /**
   * Applies an OrderStatusChanged to the EHR's ServiceRequest or MedicationRequest (accepted,
   * rejected, in progress, completed, cancelled, on hold; final states are kept), idempotently by
   * eventId (order-status.writer.ts). An order the repository does not have is an
   * UnknownOrderError (permanent).
   */
  applyOrderStatus(status: OrderStatusChanged): Promise<OrderStatusReceipt> {
    return this.runEvent('order-status', status, () => this.events.orderStatus.write(status));
  }

  /**
   * Applies a charge line of billing.charges.v1: a CHARGE writes its ChargeItem (billable, or
   * what the engine already answered), a CREDIT makes the reversed one entered-in-error
   * (charge-item.writer.ts). Idempotent by eventId.
   */
  writeCharge(line: ChargeEvent): Promise<ChargeItemReceipt> {
    return this.runEvent(
      'charge',
      { eventId: line.eventId, sourceSystem: BILLING_SOURCE_SYSTEM, messageControlId: null },
      () => this.events.charges.writeCharge(line),
    );
  }

  /** Applies the billing engine's answer (billing.charge-status.v1) to the ChargeItem's status. */
  applyChargeStatus(event: ChargeStatusEvent): Promise<ChargeItemReceipt> {
    return this.runEvent(
      'charge-status',
      {
        eventId: event.eventId,
        sourceSystem: BILLING_SOURCE_SYSTEM,
        messageControlId: event.messageControlId,
      },
      () => this.events.charges.writeStatus(event),
    );
  }

  /** How an imaging report, dispense or order status was applied, or undefined when it never was. */
  async eventLedgerEntry(eventId: string): Promise<EventLedgerEntry | undefined> {
    try {
      return (await recordedEvent(this.pool, eventId))?.entry;
    } catch (error) {
      throw classifyDatabaseError(error, 'reading the event ledger');
    }
  }

  private runEvent<R extends EventWriteReceipt>(
    kind: EventKind,
    event: { eventId: string; sourceSystem: string; messageControlId: string | null },
    write: () => Promise<R>,
  ): Promise<R> {
    return runEventWrite(
      {
        kind,
        event,
        logger: this.logger,
        metrics: this.events.metrics,
        conflictAttempts: this.conflictAttempts,
      },
      write,
    );
  }

  /** The current version, or undefined when the resource does not exist. */
  async read(type: string, id: string): Promise<StoredResource | undefined> {
    assertType(type);
    if (!FHIR_ID_PATTERN.test(id)) return undefined;
    const rows = await this.query<ResourceRow>(
      'read',
      `SELECT resource_type, id, version_id, last_updated, content
       FROM fhir.resource WHERE resource_type = $1 AND id = $2`,
      [type, id],
    );
    return rows[0] ? toStored(rows[0]) : undefined;
  }

  /** One version, or undefined when the resource or that version does not exist. */
  async vread(type: string, id: string, versionId: number): Promise<StoredResource | undefined> {
    assertType(type);
    if (!FHIR_ID_PATTERN.test(id) || !Number.isInteger(versionId) || versionId < 1) {
      return undefined;
    }
    const rows = await this.query<ResourceRow>(
      'vread',
      `SELECT resource_type, id, version_id, last_updated, content
       FROM fhir.resource_history WHERE resource_type = $1 AND id = $2 AND version_id = $3`,
      [type, id, versionId],
    );
    return rows[0] ? toStored(rows[0]) : undefined;
  }

  /** Every version, newest first; empty when the resource does not exist. */
  async history(type: string, id: string): Promise<StoredResource[]> {
    assertType(type);
    if (!FHIR_ID_PATTERN.test(id)) return [];
    const rows = await this.query<ResourceRow>(
      'history',
      `SELECT resource_type, id, version_id, last_updated, content
       FROM fhir.resource_history WHERE resource_type = $1 AND id = $2
       ORDER BY version_id DESC`,
      [type, id],
    );
    return rows.map(toStored);
  }

  /** Runs a query parsed by parseSearchQuery(): one page of matches plus their includes. */
  async search(query: SearchQuery): Promise<SearchResult> {
    const statements = searchStatements(query, this.timeZone);
    const [total, rows] = await Promise.all([
      query.total
        ? this.query<{ total: number }>(
            'search',
            statements.count.text,
            statements.count.values,
          ).then((r) => r[0]?.total ?? 0)
        : Promise.resolve(undefined),
      query.count > 0
        ? this.query<ResourceRow>('search', statements.page.text, statements.page.values)
        : Promise.resolve([]),
    ]);
    const matches = rows.map(toStored);
    const ids = matches.map((m) => m.id);
    const seen = new Set(matches.map((m) => `${m.resourceType}/${m.id}`));
    const included: StoredResource[] = [];
    if (ids.length > 0) {
      const lookups = [
        ...query.include.map((spec) => includeStatement(spec, ids)),
        ...query.revinclude.map((spec) => revincludeStatement(spec, query.resourceType, ids)),
      ];
      const results = await Promise.all(
        lookups.map((s) => this.query<ResourceRow>('search', s.text, s.values)),
      );
      for (const row of results.flat()) {
        const k = `${row.resource_type}/${row.id}`;
        if (seen.has(k)) continue;
        seen.add(k);
        included.push(toStored(row));
      }
    }
    return { ...(total !== undefined ? { total } : {}), matches, included };
  }

  /** How a LabResult event was applied, or undefined when it never was. */
  async ledgerEntry(eventId: string): Promise<LedgerEntry | undefined> {
    const rows = await this.query<{
      event_id: string;
      source_system: string;
      message_control_id: string;
      order_index: number;
      patient_id: string;
      report_id: string;
      report_version: number;
      outcome: LedgerEntry['outcome'];
      received_at: Date;
      written_at: Date;
      observation_count: number;
    }>('ledger', 'SELECT * FROM fhir.message_ledger WHERE event_id = $1', [eventId]);
    const row = rows[0];
    return row
      ? {
          eventId: row.event_id,
          sourceSystem: row.source_system,
          messageControlId: row.message_control_id,
          orderIndex: row.order_index,
          patientId: row.patient_id,
          reportId: row.report_id,
          reportVersion: row.report_version,
          outcome: row.outcome,
          receivedAt: row.received_at,
          writtenAt: row.written_at,
          observationCount: row.observation_count,
        }
      : undefined;
  }

  /**
   * Creates or updates one resource through the same versioning and indexing as the LabResult
   * writer: the path for resources other systems send (an EHR's ServiceRequest). Without an id
   * the resource is created with a random one. A version is written only when content changed.
   * A Patient whose identifier already names another patient is refused.
   */
  async save(resource: ResourceBase, options: SaveOptions): Promise<SaveReceipt> {
    const type = resource.resourceType;
    assertType(type);
    const id = resource.id ?? randomUUID();
    if (!FHIR_ID_PATTERN.test(id)) {
      throw new InvalidResourceError(`'${id}' is not a FHIR id ([A-Za-z0-9-.]{1,64})`);
    }
    const content = toJsonObject({ ...resource, id });
    const entries = indexEntries(type, content);
    const identifiers = entries.tokens.filter((t) => t.param === 'identifier');
    const locks = [
      resourceLockName(type, id),
      ...identifiers.map((t) => identifierLockName(type, t.system, t.code)),
    ];
    return inLockedTransaction(this.pool, locks, `saving ${type}/${id}`, async (client) => {
      const { rows } = await client.query<{
        version_id: number;
        content: JsonObject;
        last_updated: Date;
        owners: string[];
      }>(
        `SELECT r.version_id, r.content, r.last_updated,
           ARRAY(SELECT DISTINCT t.id FROM fhir.search_token t
                 JOIN unnest($3::text[], $4::text[]) AS q(system, code)
                   ON t.system = q.system AND t.code = q.code
                 WHERE $1 = 'Patient' AND t.resource_type = 'Patient' AND t.param = 'identifier'
                   AND t.id <> $2) AS owners
         FROM (SELECT 1) one
         LEFT JOIN fhir.resource r ON r.resource_type = $1 AND r.id = $2`,
        [type, id, identifiers.map((t) => t.system), identifiers.map((t) => t.code)],
      );
      const current = rows[0];
      if (current && current.owners.length > 0) {
        throw new PatientIdentityConflictError(
          `Patient/${id}: an identifier already belongs to Patient/${current.owners.join(', Patient/')}`,
        );
      }
      if (current?.content && sameContent(current.content, content)) {
        return {
          resourceType: type,
          id,
          versionId: current.version_id,
          outcome: 'UNCHANGED',
          lastUpdated: current.last_updated,
        };
      }
      const now = new Date();
      const versionId = (current?.content ? current.version_id : 0) + 1;
      content['meta'] = {
        ...(typeof content['meta'] === 'object' ? content['meta'] : {}),
        versionId: String(versionId),
        lastUpdated: now.toISOString(),
        source: options.source,
      };
      const statement = writeStatement({
        versions: [{ resourceType: type, id, versionId, content, source: options.source }],
        indexTargets: [{ resourceType: type, id, entries, replaces: versionId > 1 }],
        lastUpdated: now,
        timeZone: this.timeZone,
      });
      const result = await client.query<WriteStatementResult>(statement.text, statement.values);
      if (result.rows[0]?.upserted !== 1) {
        throw new RepositoryConflictError(`${type}/${id} changed concurrently`);
      }
      this.metrics.versions.inc({ resource_type: type });
      return {
        resourceType: type,
        id,
        versionId,
        outcome: versionId === 1 ? 'CREATED' : 'UPDATED',
        lastUpdated: now,
      };
    });
  }

  /**
   * Registers a Patient sent by the EHR (POST /Patient), validated (an identifier is required);
   * with `ifNoneExist` a conditional create: the patient that identifier names is returned
   * instead (EXISTING). An identifier that names another patient is refused. See orders/.
   */
  createPatient(body: unknown, options?: CreatePatientOptions): Promise<CreateReceipt> {
    return this.orders.createPatient(body, options);
  }

  /**
   * Places an order sent by the EHR (POST /ServiceRequest | /MedicationRequest): validates it,
   * routes it, and stores it with its NEW OrderEvent in the outbox, in one transaction;
   * concurrency-safe conditional create with `ifNoneExist`. Throws ResourceValidationError
   * (400/422 with issues), MultipleMatchesError (412), or repository errors.
   */
  placeOrder(
    resourceType: OrderResourceType,
    body: unknown,
    options: PlaceOrderOptions,
  ): Promise<OrderReceipt> {
    return this.orders.placeOrder(resourceType, body, options);
  }

  /**
   * Applies an update of a placed order (PUT): a cancellation writes a version and a CANCEL
   * event; a repeat writes nothing; any other change is refused (ResourceValidationError 422).
   * Throws UnknownResourceError, VersionConflictError (If-Match) too.
   */
  updateOrder(
    resourceType: OrderResourceType,
    id: string,
    body: unknown,
    options: UpdateOrderOptions,
  ): Promise<UpdateOrderReceipt> {
    return this.orders.updateOrder(resourceType, id, body, options);
  }

  /** Calls `listener` after each commit that wrote order events to the outbox; returns unsubscribe. */
  onOutboxCommitted(listener: (events: OrderEvent[]) => void): () => void {
    return this.orders.onCommitted(listener);
  }

  /** The right to publish the outbox (one relay at a time), or undefined when another holds it. */
  acquireOutboxLease(): Promise<OutboxLease | undefined> {
    return acquireOutboxLease(this.pool);
  }

  /** Unpublished outbox rows in seq order (without the lease: for tools and tests). */
  async claimOutbox(limit: number): Promise<OutboxRecord[]> {
    try {
      return await claimOutbox(this.pool, limit);
    } catch (error) {
      throw classifyDatabaseError(error, 'reading the outbox');
    }
  }

  async markOutboxPublished(seqs: readonly string[]): Promise<void> {
    try {
      await markOutboxPublished(this.pool, seqs);
    } catch (error) {
      throw classifyDatabaseError(error, 'marking outbox rows published');
    }
  }

  /** How many outbox rows wait to be published. */
  async outboxPending(): Promise<number> {
    try {
      return await outboxPending(this.pool);
    } catch (error) {
      throw classifyDatabaseError(error, 'counting the outbox');
    }
  }

  /**
   * Rebuilds the search index rows of every resource from its current content, in batches, each
   * under row locks so a concurrent write is never overwritten with an older version's rows. For
   * after a release that adds a search parameter. Returns the number of resources indexed.
   */
  async reindex(options: { batchSize?: number } = {}): Promise<number> {
    const batchSize = options.batchSize ?? 500;
    let after: [string, string] = ['', ''];
    let total = 0;
    for (;;) {
      const batch = await inLockedTransaction(this.pool, [], 'reindexing', async (client) => {
        const { rows } = await client.query<ResourceRow>(
          `SELECT resource_type, id, version_id, last_updated, content FROM fhir.resource
           WHERE (resource_type, id) > ($1, $2) ORDER BY resource_type, id LIMIT $3
           FOR UPDATE`,
          [after[0], after[1], batchSize],
        );
        if (rows.length === 0) return rows;
        const statement = writeStatement({
          versions: [],
          indexTargets: rows.map((r) => ({
            resourceType: r.resource_type,
            id: r.id,
            entries: indexEntries(r.resource_type, r.content),
            replaces: true,
          })),
          lastUpdated: new Date(),
          timeZone: this.timeZone,
        });
        await client.query(statement.text, statement.values);
        return rows;
      });
      const last = batch.at(-1);
      if (!last) break;
      total += batch.length;
      after = [last.resource_type, last.id];
    }
    this.logger.info({ resources: total }, 'search index rebuilt');
    return total;
  }

  private async query<R extends object>(
    operation: string,
    text: string,
    values: unknown[],
  ): Promise<R[]> {
    try {
      const result = await this.pool.query<R>(text, values);
      return result.rows;
    } catch (error) {
      const classified = classifyDatabaseError(error, `${operation} failed`);
      this.metrics.queryFailures.inc({ operation, code: classified.code });
      this.logger.error({ operation, ...describeError(classified) }, 'repository query failed');
      throw classified;
    }
  }
}
