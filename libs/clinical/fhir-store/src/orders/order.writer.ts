/**
 * Orders and patients created by the EHR through the FHIR API, and their cancellation.
 *
 * Placing an order is ONE transaction: the advisory locks of its business identifiers (the
 * placer order number, and the If-None-Exist identifier), the conditional-create check, the
 * patient check, the resource version with its index rows, and the outbox row of its OrderEvent.
 * So an order stored is an order that will be sent (the outbox relay publishes it, also after a
 * crash or while Kafka is down), an order refused is sent nowhere, and two identical POSTs at the
 * same moment create one order: the second waits for the first's locks and then finds it.
 *
 * Conditional create: https://hl7.org/fhir/R4/http.html#ccreate — no match creates, one match
 * answers it (200), several refuse (412).
 */
import { MessageHeaders, type OrderEvent } from '@ancillary/contracts';
import { describeError, type Logger } from '@ancillary/observability';
import { context, propagation } from '@opentelemetry/api';
import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { type JsonObject, sameContent } from '../content';
import { RepositoryConflictError } from '../errors';
import type { StoredResource } from '../fhir.types';
import { identifierLockName, resourceLockName } from '../ids';
import { indexEntries } from '../search-parameters';
import { inLockedTransaction } from '../transaction';
import { writeStatement, type WriteStatementResult } from '../write.statement';
import { CANCELLED_STATUS, FINAL_ORDER_STATUSES, type OrderResourceType } from './order-codes';
import {
  buildOrderEvent,
  type OrderDispatch,
  orderEventId,
  orderTopic,
  patientKey,
  patientRef,
  isFillerIdentifier,
} from './order-event';
import { type OrderRouter, UnroutableOrderError } from './order-router';
import {
  MultipleMatchesError,
  ResourceValidationError,
  UnknownResourceError,
  VersionConflictError,
} from './order.errors';
import type { OrderMetrics } from './order.metrics';
import { validateOrder, validateOrderUpdate, validatePatient } from './order.validation';

/** If-None-Exist as this repository supports it: `identifier=<system>|<value>`. */
export interface IdentifierCriteria {
  system: string;
  value: string;
}

interface WriteOptions {
  /**
   * Kafka headers for the outbox row besides the trace context of the active span, which is
   * always added (so the consumers' spans join the request's trace), e.g. a correlation id.
   */
  headers?: Record<string, string>;
  /** meta.source of the version written. Default `urn:ancillary:fhir-api`. */
  source?: string;
  /** Default now. */
  now?: Date;
}

export interface PlaceOrderOptions extends WriteOptions {
  router: OrderRouter;
  ifNoneExist?: IdentifierCriteria;
}

export interface UpdateOrderOptions extends WriteOptions {
  /** Routes a cancellation of an order that was never sent through the outbox. */
  router: OrderRouter;
  /** If-Match: the version the client read. */
  ifMatch?: number;
}

export interface CreatePatientOptions {
  ifNoneExist?: IdentifierCriteria;
  source?: string;
  now?: Date;
}

export interface CreateReceipt {
  /** EXISTING: a conditional create found the resource, nothing was written. */
  outcome: 'CREATED' | 'EXISTING';
  resource: StoredResource;
}

export interface OrderReceipt extends CreateReceipt {
  /** The NEW event written to the outbox (not for EXISTING). */
  event?: OrderEvent;
  /** Its topic name. */
  topic?: string;
}

export interface UpdateOrderReceipt {
  /** UNCHANGED: the update asked for what is stored already (a repeated cancel); nothing written. */
  outcome: 'UPDATED' | 'UNCHANGED';
  resource: StoredResource;
  /** The CANCEL event written to the outbox, when the order had been sent. */
  event?: OrderEvent;
  topic?: string;
}

export interface OrderWriterOptions {
  placerOrderSystem: string;
  timeZone: string;
  logger: Logger;
  metrics: OrderMetrics;
}

export const DEFAULT_ORDER_SOURCE = 'urn:ancillary:fhir-api';

/** Elements an update may leave out or change without it being a different order. */
const UPDATE_IGNORED = new Set(['meta', 'id', 'status', 'statusReason', 'text']);
/** Elements the repository filled in at create: an update that leaves them out keeps them. */
const UPDATE_DEFAULTED = new Set(['priority', 'authoredOn', 'identifier']);

type CommitListener = (events: OrderEvent[]) => void;

interface ResourceRow {
  version_id: number;
  content: JsonObject;
  last_updated: Date;
}

function stored(resourceType: string, id: string, row: ResourceRow): StoredResource {
  return {
    resourceType: resourceType as StoredResource['resourceType'],
    id,
    versionId: row.version_id,
    lastUpdated: row.last_updated,
    resource: row.content as StoredResource['resource'],
  };
}

/** The outbox row's headers: correlation id, then the W3C trace context of the active span. */
function outboxHeaders(extra: Record<string, string> | undefined): Record<string, string> {
  const trace: Record<string, string> = {};
  propagation.inject(context.active(), trace);
  return { [MessageHeaders.correlationId]: randomUUID(), ...trace, ...extra };
}

function withoutFillers(identifiers: unknown): unknown {
  return Array.isArray(identifiers)
    ? identifiers.filter((i) => !isFillerIdentifier(i))
    : identifiers;
}

/**
 * The top-level elements in which an update differs from the stored order, leaving aside what
 * may change (status and its reason, meta, narrative), the filler numbers ancillaries added, and
 * the elements the repository filled in when the update leaves them out.
 */
export function changedElements(current: JsonObject, update: JsonObject): string[] {
  const keys = new Set([...Object.keys(current), ...Object.keys(update)]);
  const changed: string[] = [];
  for (const key of keys) {
    if (UPDATE_IGNORED.has(key)) continue;
    if (!(key in update) && UPDATE_DEFAULTED.has(key)) continue;
    const a = key === 'identifier' ? withoutFillers(current[key]) : current[key];
    const b = key === 'identifier' ? withoutFillers(update[key]) : update[key];
    if (!sameContent({ v: a }, { v: b })) changed.push(key);
  }
  return changed.sort();
}

export class OrderWriter {
  private readonly listeners = new Set<CommitListener>();

  constructor(
    private readonly pool: Pool,
    private readonly options: OrderWriterOptions,
  ) {}

  /** Called after each commit that wrote outbox rows (the relay publishes them at once). */
  onCommitted(listener: CommitListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async placeOrder(
    resourceType: OrderResourceType,
    body: unknown,
    options: PlaceOrderOptions,
  ): Promise<OrderReceipt> {
    const now = options.now ?? new Date();
    const validated = validateOrder(resourceType, body, {
      placerOrderSystem: this.options.placerOrderSystem,
      now,
    });
    if (!validated.ok)
      throw this.refused(new ResourceValidationError(resourceType, validated.issues));
    const order = validated.value;
    const criteria = options.ifNoneExist;
    const locks = [identifierLockName(resourceType, order.placer.system, order.placer.value)];
    if (criteria) locks.push(identifierLockName(resourceType, criteria.system, criteria.value));
    const headers = outboxHeaders(options.headers);
    const source = options.source ?? DEFAULT_ORDER_SOURCE;
    const receipt = await inLockedTransaction(
      this.pool,
      locks,
      `placing a ${resourceType}`,
      async (client): Promise<OrderReceipt> => {
        const { rows } = await client.query<{
          matches: string[];
          placed: string[];
          patient: JsonObject | null;
        }>(
          `SELECT
             ARRAY(SELECT DISTINCT id FROM fhir.search_token
                   WHERE resource_type = $1 AND param = 'identifier' AND system = $2 AND code = $3
                   ORDER BY id) AS matches,
             ARRAY(SELECT DISTINCT id FROM fhir.search_token
                   WHERE resource_type = $1 AND param = 'identifier' AND system = $4 AND code = $5
                   ORDER BY id) AS placed,
             (SELECT content FROM fhir.resource
              WHERE resource_type = 'Patient' AND id = $6) AS patient`,
          [
            resourceType,
            criteria?.system ?? null,
            criteria?.value ?? null,
            order.placer.system,
            order.placer.value,
            order.subjectId,
          ],
        );
        const state = rows[0];
        if (!state) throw new Error('loading the order state returned no row');
        if (criteria) {
          const existing = await this.conditional(client, resourceType, state.matches);
          if (existing) return { outcome: 'EXISTING', resource: existing };
        }
        if (state.placed.length > 0) {
          throw new ResourceValidationError(resourceType, [
            {
              code: 'duplicate',
              expression: `${resourceType}.identifier`,
              diagnostics:
                `the placer order number (system ${order.placer.system}) already identifies ${resourceType}/${state.placed[0] ?? ''}; ` +
                `to retry a create safely send If-None-Exist: identifier=${order.placer.system}|<placer number>`,
            },
          ]);
        }
        if (!state.patient) {
          throw new ResourceValidationError(resourceType, [
            {
              code: 'not-found',
              expression: `${resourceType}.subject`,
              diagnostics: `${resourceType}.subject: Patient/${order.subjectId} is not known to this server (create the Patient first)`,
            },
          ]);
        }
        const patient = patientRef(state.patient);
        const key = patientKey(patient);
        if (key === undefined) {
          throw new ResourceValidationError(resourceType, [
            {
              code: 'business-rule',
              expression: `${resourceType}.subject`,
              diagnostics: `Patient/${order.subjectId} has no identifier: an order needs the patient's identifier (MRN)`,
            },
          ]);
        }
        const dispatch = this.dispatch(
          resourceType,
          order.category,
          order.coding,
          order.priority,
          options.router,
        );
        const id = randomUUID();
        const { meta: _meta, ...rest } = order.resource;
        const content: JsonObject = {
          resourceType,
          id,
          meta: { versionId: '1', lastUpdated: now.toISOString(), source },
          ...rest,
        };
        await this.writeVersion(client, resourceType, id, 1, content, now, source);
        const event = buildOrderEvent({
          action: 'NEW',
          resourceType,
          id,
          versionId: 1,
          content,
          patientId: order.subjectId,
          patient: state.patient,
          dispatch,
          coding: order.coding,
          placerSystem: order.placer.system,
          placerOrderNumber: order.placer.value,
          publishedAt: now,
        });
        const topic = orderTopic(dispatch.lane).name;
        await this.insertOutbox(client, event, topic, key, headers);
        return {
          outcome: 'CREATED',
          resource: stored(resourceType, id, { version_id: 1, content, last_updated: now }),
          event,
          topic,
        };
      },
    ).catch((error: unknown) => {
      throw this.refused(error, resourceType);
    });
    this.options.metrics.writes.inc({ resource_type: resourceType, outcome: receipt.outcome });
    if (receipt.event) this.committed(receipt.event);
    this.options.logger.info(
      {
        resourceType,
        id: receipt.resource.id,
        outcome: receipt.outcome,
        ...(receipt.event
          ? {
              eventId: receipt.event.eventId,
              destination: receipt.event.destination,
              lane: receipt.event.lane,
              placerGenerated: order.placer.generated,
            }
          : {}),
      },
      'order placed',
    );
    return receipt;
  }

  /**
   * Applies an update (PUT) of a placed order. Only a cancellation is accepted (ServiceRequest
   * `revoked`, MedicationRequest `cancelled`): it writes a version and a CANCEL event in the lane
   * and to the destination of the order's NEW event. Anything else that changes the order is
   * refused (cancel it and place a new one); an update that changes nothing writes nothing.
   */
  async updateOrder(
    resourceType: OrderResourceType,
    id: string,
    body: unknown,
    options: UpdateOrderOptions,
  ): Promise<UpdateOrderReceipt> {
    const validated = validateOrderUpdate(resourceType, id, body);
    if (!validated.ok)
      throw this.refused(new ResourceValidationError(resourceType, validated.issues));
    const update = validated.value;
    const now = options.now ?? new Date();
    const source = options.source ?? DEFAULT_ORDER_SOURCE;
    const headers = outboxHeaders(options.headers);
    const receipt = await inLockedTransaction(
      this.pool,
      [resourceLockName(resourceType, id)],
      `updating ${resourceType}/${id}`,
      async (client): Promise<UpdateOrderReceipt> => {
        const { rows } = await client.query<
          ResourceRow & { placed: { payload: OrderEvent; key: string } | null }
        >(
          `SELECT r.version_id, r.content, r.last_updated,
             (SELECT jsonb_build_object('payload', o.payload, 'key', o.message_key)
              FROM fhir.outbox o WHERE o.event_id = $3) AS placed
           FROM fhir.resource r WHERE r.resource_type = $1 AND r.id = $2
           FOR UPDATE`,
          [resourceType, id, orderEventId(resourceType, id, 1)],
        );
        const current = rows[0];
        if (!current) throw new UnknownResourceError(resourceType, id);
        if (options.ifMatch !== undefined && options.ifMatch !== current.version_id) {
          throw new VersionConflictError(resourceType, id, options.ifMatch, current.version_id);
        }
        const currentStatus = String(current.content['status']);
        const changed = changedElements(current.content, update.resource);
        const refuse = (diagnostics: string, expression = `${resourceType}.status`) =>
          new ResourceValidationError(resourceType, [
            { code: 'business-rule', expression, diagnostics },
          ]);
        if (changed.length > 0) {
          throw refuse(
            `a placed order cannot be changed (${changed.map((c) => `${resourceType}.${c}`).join(', ')} differ): cancel it (status '${CANCELLED_STATUS[resourceType]}') and place a new order`,
            `${resourceType}.${changed[0] ?? ''}`,
          );
        }
        if (update.status === currentStatus) {
          return { outcome: 'UNCHANGED', resource: stored(resourceType, id, current) };
        }
        const cancelled = CANCELLED_STATUS[resourceType];
        if (update.status !== cancelled) {
          throw refuse(
            `${resourceType}.status '${update.status}': an update can only cancel a placed order (status '${cancelled}'); its other statuses come from the ancillary`,
          );
        }
        if (FINAL_ORDER_STATUSES[resourceType].includes(currentStatus)) {
          throw refuse(
            `${resourceType}/${id} is '${currentStatus}' already: it can no longer be cancelled`,
          );
        }
        const versionId = current.version_id + 1;
        const { meta: _meta, ...rest } = current.content;
        const content: JsonObject = {
          ...rest,
          resourceType,
          id,
          meta: { versionId: String(versionId), lastUpdated: now.toISOString(), source },
          status: cancelled,
          ...(update.resource['statusReason'] !== undefined
            ? { statusReason: update.resource['statusReason'] }
            : {}),
        };
        await this.writeVersion(client, resourceType, id, versionId, content, now, source);
        const resource = stored(resourceType, id, {
          version_id: versionId,
          content,
          last_updated: now,
        });
        if (!current.placed) {
          // Never announced (not placed through this API): there is nothing to call back.
          this.options.logger.warn(
            { resourceType, id },
            'order cancelled without a CANCEL event: it was never sent through the outbox',
          );
          return { outcome: 'UPDATED', resource };
        }
        const placed = current.placed.payload;
        const patientId = placed.patientId;
        const patient = await client.query<{ content: JsonObject }>(
          `SELECT content FROM fhir.resource WHERE resource_type = 'Patient' AND id = $1`,
          [patientId],
        );
        const event = buildOrderEvent({
          action: 'CANCEL',
          resourceType,
          id,
          versionId,
          content,
          patientId,
          // The patient as the NEW event carried it, should the Patient be gone.
          patient: patient.rows[0]?.content ?? { identifier: placed.patient.identifiers },
          dispatch: {
            category: placed.category,
            destination: placed.destination,
            lane: placed.lane,
          },
          coding: placed.code,
          placerSystem: placed.placerSystem,
          placerOrderNumber: placed.placerOrderNumber,
          publishedAt: now,
        });
        // Same key and lane as the NEW: the cancel can never overtake the order it cancels.
        const topic = orderTopic(placed.lane).name;
        await this.insertOutbox(client, event, topic, current.placed.key, headers);
        return { outcome: 'UPDATED', resource, event, topic };
      },
    ).catch((error: unknown) => {
      throw this.refused(error, resourceType);
    });
    this.options.metrics.writes.inc({ resource_type: resourceType, outcome: receipt.outcome });
    if (receipt.event) this.committed(receipt.event);
    this.options.logger.info(
      {
        resourceType,
        id,
        outcome: receipt.outcome,
        versionId: receipt.resource.versionId,
        ...(receipt.event ? { eventId: receipt.event.eventId, lane: receipt.event.lane } : {}),
      },
      'order updated',
    );
    return receipt;
  }

  /** Registers a Patient (conditional create on an identifier); a taken identifier is refused. */
  async createPatient(body: unknown, options: CreatePatientOptions = {}): Promise<CreateReceipt> {
    const validated = validatePatient(body);
    if (!validated.ok) throw this.refused(new ResourceValidationError('Patient', validated.issues));
    const { resource, identifiers } = validated.value;
    const criteria = options.ifNoneExist;
    const locks = identifiers.map((i) => identifierLockName('Patient', i.system, i.value));
    if (criteria) locks.push(identifierLockName('Patient', criteria.system, criteria.value));
    const now = options.now ?? new Date();
    const source = options.source ?? DEFAULT_ORDER_SOURCE;
    const receipt = await inLockedTransaction(
      this.pool,
      locks,
      'creating a Patient',
      async (client): Promise<CreateReceipt> => {
        const { rows } = await client.query<{ matches: string[]; owners: string[] }>(
          `SELECT
             ARRAY(SELECT DISTINCT id FROM fhir.search_token
                   WHERE resource_type = 'Patient' AND param = 'identifier' AND system = $1 AND code = $2
                   ORDER BY id) AS matches,
             ARRAY(SELECT DISTINCT t.id FROM fhir.search_token t
                   JOIN unnest($3::text[], $4::text[]) AS q(system, code)
                     ON t.system = q.system AND t.code = q.code
                   WHERE t.resource_type = 'Patient' AND t.param = 'identifier'
                   ORDER BY t.id) AS owners`,
          [
            criteria?.system ?? null,
            criteria?.value ?? null,
            identifiers.map((i) => i.system),
            identifiers.map((i) => i.value),
          ],
        );
        const state = rows[0];
        if (!state) throw new Error('loading the patient state returned no row');
        if (criteria) {
          const existing = await this.conditional(client, 'Patient', state.matches);
          if (existing) return { outcome: 'EXISTING', resource: existing };
        }
        if (state.owners.length > 0) {
          throw new ResourceValidationError('Patient', [
            {
              code: 'duplicate',
              expression: 'Patient.identifier',
              diagnostics: `an identifier of this Patient already belongs to Patient/${state.owners.join(', Patient/')}; to create a patient once send If-None-Exist: identifier=<system>|<value>`,
            },
          ]);
        }
        const id = randomUUID();
        const content: JsonObject = {
          resourceType: 'Patient',
          id,
          meta: { versionId: '1', lastUpdated: now.toISOString(), source },
          ...resource,
        };
        await this.writeVersion(client, 'Patient', id, 1, content, now, source);
        return {
          outcome: 'CREATED',
          resource: stored('Patient', id, { version_id: 1, content, last_updated: now }),
        };
      },
    ).catch((error: unknown) => {
      throw this.refused(error, 'Patient');
    });
    this.options.metrics.writes.inc({ resource_type: 'Patient', outcome: receipt.outcome });
    this.options.logger.info(
      { resourceType: 'Patient', id: receipt.resource.id, outcome: receipt.outcome },
      'patient registered',
    );
    return receipt;
  }

  /** The one resource a conditional create matched, undefined for none; 412 for several. */
  private async conditional(
    client: PoolClient,
    resourceType: string,
    matches: readonly string[],
  ): Promise<StoredResource | undefined> {
    if (matches.length > 1) throw new MultipleMatchesError(resourceType, matches.length);
    const id = matches[0];
    if (id === undefined) return undefined;
    const { rows } = await client.query<ResourceRow>(
      `SELECT version_id, content, last_updated FROM fhir.resource
       WHERE resource_type = $1 AND id = $2`,
      [resourceType, id],
    );
    const row = rows[0];
    if (!row) throw new RepositoryConflictError(`${resourceType}/${id} is indexed but not stored`);
    return stored(resourceType, id, row);
  }

  private dispatch(
    resourceType: OrderResourceType,
    category: OrderDispatch['category'],
    coding: { system: string; code: string },
    priority: string,
    router: OrderRouter,
  ): OrderDispatch {
    try {
      const route = router.route(category, coding);
      return { category, destination: route.destination, lane: router.rule(priority).lane };
    } catch (error) {
      if (!(error instanceof UnroutableOrderError)) throw error;
      const element = resourceType === 'ServiceRequest' ? 'code' : 'medicationCodeableConcept';
      throw new ResourceValidationError(
        resourceType,
        [
          {
            code: 'business-rule',
            expression: `${resourceType}.${element}`,
            diagnostics: `no route for this order: ${error.message}`,
          },
        ],
        { cause: error, status: 422 },
      );
    }
  }

  private async writeVersion(
    client: PoolClient,
    resourceType: string,
    id: string,
    versionId: number,
    content: JsonObject,
    now: Date,
    source: string,
  ): Promise<void> {
    const statement = writeStatement({
      versions: [{ resourceType, id, versionId, content, source }],
      indexTargets: [
        { resourceType, id, entries: indexEntries(resourceType, content), replaces: versionId > 1 },
      ],
      lastUpdated: now,
      timeZone: this.options.timeZone,
    });
    const result = await client.query<WriteStatementResult>(statement.text, statement.values);
    if (result.rows[0]?.upserted !== 1) {
      throw new RepositoryConflictError(`${resourceType}/${id} changed concurrently`);
    }
  }

  private async insertOutbox(
    client: PoolClient,
    event: OrderEvent,
    topic: string,
    key: string,
    headers: Record<string, string>,
  ): Promise<void> {
    await client.query(
      `INSERT INTO fhir.outbox (event_id, topic, message_key, payload, headers)
       VALUES ($1, $2, $3, $4::jsonb, $5::jsonb)`,
      [event.eventId, topic, key, JSON.stringify(event), JSON.stringify(headers)],
    );
    this.options.metrics.events.inc({
      action: event.action,
      category: event.category,
      lane: event.lane,
    });
  }

  private committed(event: OrderEvent): void {
    for (const listener of this.listeners) {
      try {
        listener([event]);
      } catch (error) {
        this.options.logger.error(describeError(error), 'outbox commit listener failed');
      }
    }
  }

  /** Counts and logs a refusal (elements and codes only), and passes the error on. */
  private refused(error: unknown, resourceType?: string): unknown {
    if (error instanceof ResourceValidationError) {
      this.options.metrics.writes.inc({ resource_type: error.resourceType, outcome: 'REFUSED' });
      this.options.logger.debug(
        {
          resourceType: error.resourceType,
          status: error.status,
          issues: error.issues.map((i) => `${i.expression} (${i.code})`),
        },
        'resource refused',
      );
    } else if (
      error instanceof MultipleMatchesError ||
      error instanceof VersionConflictError ||
      error instanceof UnknownResourceError
    ) {
      this.options.metrics.writes.inc({
        resource_type: resourceType ?? error.resourceType,
        outcome: 'REFUSED',
      });
      this.options.logger.debug({ resourceType, code: error.code }, 'resource refused');
    }
    return error;
  }
}
