/**
 * Applies the billing topics to the chart (ADR 0004 item 5), each event in one transaction,
 * idempotently by event id (fhir.event_ledger, kinds `charge` and `charge-status`):
 *
 * - a CHARGE line (billing.charges.v1) writes its ChargeItem: subject the patient, the EHR's
 *   order in supportingInformation (found by placer number), the MedicationDispense in service;
 * - a CREDIT line marks the ChargeItem of the charge it reverses `entered-in-error` (final);
 * - a charge status (billing.charge-status.v1) records the engine's answer: `billed` for AA/CA,
 *   `aborted` for AR/CE, the later answer winning.
 *
 * What decides the status is kept in fhir.charge_status, apart from the resource, under the
 * ChargeItem's lock: an answer or a credit consumed before its charge (the two topics are read
 * independently) is applied when the charge is written. Nothing here creates or changes a
 * patient's demographics; a patient the chart does not know yet is created from the line's
 * identifiers, as the other writers do, so the charge is never held up.
 */
import type { ChargeEvent, ChargeStatusEvent } from '@ancillary/contracts';
import type { Pool, PoolClient } from 'pg';
import {
  chargedEventId,
  chargeItemId,
  chargeItemStatus,
  type ChargeStatusRow,
  mapChargeItem,
  validateChargeLine,
  withEngineAnswer,
} from './charge-item.mapper';
import { InvalidClinicalEventError } from './errors';
import { nonEmpty, patientFromCanonical, patientKeys } from './event.mapper';
import {
  duplicateFromState,
  type EventWriteReceipt,
  type EventWriterOptions,
  executeWrite,
  loadEventState,
  patientFor,
  patientLockNames,
  recordedEvent,
  resourceKey,
  storedMap,
  subjectPatientId,
  versionsToWrite,
} from './event-writer';
import type { ChargeItemStatus, ResourceBase } from './fhir.types';
import { resourceLockName } from './ids';
import type { WriteOutcome } from './lab-result.writer';
import { inLockedTransaction } from './transaction';

export interface ChargeItemReceipt extends EventWriteReceipt {
  chargeItemId: string;
  /** The ChargeItem's status after the write (not known for a DUPLICATE_EVENT). */
  status?: ChargeItemStatus;
  /** False when the event's ChargeItem is not in the chart yet (an answer before its charge). */
  written?: boolean;
}

/** The ledger's source system of billing events. */
export const BILLING_SOURCE_SYSTEM = 'billing-trigger';

const ORDER_TYPES = ['ServiceRequest', 'MedicationRequest'] as const;

const STATUS_ROW_SQL = `
SELECT engine_status, engine_decided_at, reversed_by
FROM fhir.charge_status WHERE charge_event_id = $1`;

const SAVE_STATUS_ROW_SQL = `
INSERT INTO fhir.charge_status
  (charge_event_id, engine_status, engine_decided_at, engine_event_id, reversed_by, updated_at)
VALUES ($1, $2, $3, $4, $5, now())
ON CONFLICT (charge_event_id) DO UPDATE SET
  engine_status = EXCLUDED.engine_status,
  engine_decided_at = EXCLUDED.engine_decided_at,
  engine_event_id = coalesce(EXCLUDED.engine_event_id, fhir.charge_status.engine_event_id),
  reversed_by = coalesce(fhir.charge_status.reversed_by, EXCLUDED.reversed_by),
  updated_at = now()`;

/** The chart's MedicationDispense carrying the pharmacy's dispense id (any pharmacy system). */
const DISPENSE_SQL = `
SELECT t.id FROM fhir.search_token t
WHERE t.resource_type = 'MedicationDispense' AND t.param = 'identifier' AND t.code = $1
ORDER BY t.id LIMIT 1`;

const DISPENSE_KEY_PREFIX = 'dispense:';

export class ChargeItemWriter {
  constructor(
    private readonly pool: Pool,
    private readonly options: EventWriterOptions,
  ) {}

  /** A line of billing.charges.v1: a CHARGE writes its ChargeItem, a CREDIT reverses one. */
  async writeCharge(line: ChargeEvent): Promise<ChargeItemReceipt> {
    validateChargeLine(line);
    const chargedId = chargedEventId(line);
    const itemId = chargeItemId(chargedId);
    const recorded = await recordedEvent(this.pool, line.eventId);
    if (recorded) return { ...recorded.receipt, chargeItemId: itemId };
    const { patientIdentifiers, newPatientId } = patientKeys(
      line.patient,
      (m) => new InvalidClinicalEventError(`charge ${line.eventId}: ${m}`),
    );
    const names = [...patientLockNames(patientIdentifiers), resourceLockName('ChargeItem', itemId)];
    return inLockedTransaction(
      this.pool,
      names,
      `writing charge ${line.eventId}`,
      async (client) => {
        const placer = nonEmpty(line.placerOrderNumber);
        const state = await loadEventState(client, {
          eventId: line.eventId,
          patientIdentifiers,
          ...(placer
            ? {
                order: {
                  resourceTypes: ORDER_TYPES,
                  system: this.options.placerOrderSystem,
                  value: placer,
                },
              }
            : {}),
          wanted: [['ChargeItem', itemId]],
        });
        if (state.ledger) return { ...duplicateFromState(state.ledger), chargeItemId: itemId };
        const stored = storedMap(state.resources);
        const current = stored.get(resourceKey('ChargeItem', itemId));

        let row = await readStatusRow(client, chargedId);
        if (line.action === 'CREDIT' && !row?.reversedBy) {
          row = {
            ...(row ?? { engineStatus: null, engineDecidedAt: null }),
            reversedBy: line.eventId,
          };
          await saveStatusRow(client, chargedId, row, null);
        }
        const status = chargeItemStatus(row);

        const desired: ResourceBase[] = [];
        let patientId: string;
        if (current && line.action === 'CREDIT') {
          // The reversal changes the status only; the charge's own content stays as it was.
          patientId = subjectPatientId(current.content) ?? newPatientId;
          desired.push({ ...(current.content as unknown as ResourceBase), status } as ResourceBase);
        } else {
          patientId = patientFor(
            line.eventId,
            patientIdentifiers.length,
            state.patient_ids,
            newPatientId,
          );
          if (!stored.has(resourceKey('Patient', patientId))) {
            // Identifiers only: demographics belong to the clinical messages, not to billing.
            const created = patientFromCanonical(
              { ...line.patient, familyName: null, givenNames: [] },
              patientIdentifiers,
              patientId,
            );
            const { birthDate: _b, gender: _g, ...identified } = created.patient;
            desired.push(identified);
          }
          const order = state.orders
            .filter(
              (o) => o.resourceType === 'ServiceRequest' || o.resourceType === 'MedicationRequest',
            )
            .sort(
              (a, b) =>
                Number(b.resourceType === orderTypeOf(line)) -
                Number(a.resourceType === orderTypeOf(line)),
            )[0];
          const dispenseId = await this.dispenseOf(client, line);
          desired.push(
            mapChargeItem(
              line,
              {
                patientId,
                placerOrderSystem: this.options.placerOrderSystem,
                ...(order
                  ? {
                      order: {
                        resourceType:
                          order.resourceType === 'MedicationRequest'
                            ? 'MedicationRequest'
                            : 'ServiceRequest',
                        id: order.id,
                      },
                    }
                  : {}),
                ...(dispenseId ? { dispenseId } : {}),
              },
              status,
            ),
          );
        }
        return this.write(client, {
          eventId: line.eventId,
          kind: 'charge',
          itemId,
          desired,
          stored,
          patientId,
          status,
          eventTime: new Date(line.createdAt),
          existed: current !== undefined,
        });
      },
    );
  }

  /** A line of billing.charge-status.v1: the engine's answer moves the ChargeItem's status. */
  async writeStatus(event: ChargeStatusEvent): Promise<ChargeItemReceipt> {
    const chargeEventId =
      event.action === 'CREDIT' ? nonEmpty(event.reversesEventId) : nonEmpty(event.chargeEventId);
    if (!chargeEventId) {
      throw new InvalidClinicalEventError(
        `charge status ${event.eventId} names no charge (chargeEventId / reversesEventId)`,
      );
    }
    const itemId = chargeItemId(chargeEventId);
    const recorded = await recordedEvent(this.pool, event.eventId);
    if (recorded) return { ...recorded.receipt, chargeItemId: itemId };
    const names = [resourceLockName('ChargeItem', itemId)];
    return inLockedTransaction(
      this.pool,
      names,
      `applying charge status ${event.eventId}`,
      async (client) => {
        const state = await loadEventState(client, {
          eventId: event.eventId,
          patientIdentifiers: [],
          wanted: [['ChargeItem', itemId]],
        });
        if (state.ledger) return { ...duplicateFromState(state.ledger), chargeItemId: itemId };
        const stored = storedMap(state.resources);
        const current = stored.get(resourceKey('ChargeItem', itemId));
        let row = await readStatusRow(client, chargeEventId);
        if (event.action === 'CHARGE') {
          const answered = withEngineAnswer(
            row,
            event.status === 'BILLED' ? 'billed' : 'aborted',
            new Date(event.decidedAt),
          );
          if (answered !== row) await saveStatusRow(client, chargeEventId, answered, event.eventId);
          row = answered;
        } else if (event.status === 'REJECTED') {
          // The chart says reversed, the engine still has the charge: a person must see this.
          this.options.logger.warn(
            {
              eventId: event.eventId,
              transactionId: event.transactionId,
              reversesEventId: event.reversesEventId,
              reason: event.reason,
            },
            'the billing engine refused a reversal; the charge it reverses is still billed there',
          );
        }
        const status = chargeItemStatus(row);
        const desired: ResourceBase[] =
          current && current.content['status'] !== status
            ? [{ ...(current.content as unknown as ResourceBase), status } as ResourceBase]
            : [];
        return this.write(client, {
          eventId: event.eventId,
          kind: 'charge-status',
          itemId,
          desired,
          stored,
          patientId: subjectPatientId(current?.content) ?? null,
          status,
          eventTime: new Date(event.decidedAt),
          existed: current !== undefined,
        });
      },
    );
  }

  private async dispenseOf(client: PoolClient, line: ChargeEvent): Promise<string | undefined> {
    if (line.sourceKind !== 'PHARMACY' || !line.chargeKey.startsWith(DISPENSE_KEY_PREFIX)) {
      return undefined;
    }
    const dispenseId = line.chargeKey.slice(DISPENSE_KEY_PREFIX.length);
    const { rows } = await client.query<{ id: string }>(DISPENSE_SQL, [dispenseId]);
    return rows[0]?.id;
  }

  private async write(
    client: PoolClient,
    input: {
      eventId: string;
      kind: 'charge' | 'charge-status';
      itemId: string;
      desired: ResourceBase[];
      stored: ReturnType<typeof storedMap>;
      patientId: string | null;
      status: ChargeItemStatus;
      eventTime: Date;
      existed: boolean;
    },
  ): Promise<ChargeItemReceipt> {
    const { timeZone, metrics } = this.options;
    const now = new Date();
    const source = `urn:ancillary:billing:${input.kind}:${input.eventId}`;
    const versions = versionsToWrite(input.desired, input.stored, now, source);
    const item = versions.find((v) => v.resourceType === 'ChargeItem');
    const versionId =
      item?.versionId ?? input.stored.get(resourceKey('ChargeItem', input.itemId))?.versionId ?? 0;
    const written = item !== undefined || input.existed;
    const outcome: WriteOutcome =
      !input.existed && item ? 'CREATED' : item ? 'UPDATED' : 'UNCHANGED';
    await executeWrite(client, {
      versions,
      now,
      timeZone,
      metrics,
      eventLedger: {
        eventId: input.eventId,
        kind: input.kind,
        sourceSystem: BILLING_SOURCE_SYSTEM,
        patientId: input.patientId,
        resourceType: 'ChargeItem',
        resourceId: input.itemId,
        versionId,
        outcome,
        receivedAt: input.eventTime,
      },
    });
    return {
      eventId: input.eventId,
      ...(input.patientId ? { patientId: input.patientId } : {}),
      chargeItemId: input.itemId,
      versionId,
      outcome,
      status: input.status,
      written,
      writtenAt: now.getTime(),
      ...(outcome === 'UNCHANGED' ? { unchangedReason: 'SAME_CONTENT' as const } : {}),
    };
  }
}

function orderTypeOf(line: ChargeEvent): 'ServiceRequest' | 'MedicationRequest' {
  return line.sourceKind === 'PHARMACY' ? 'MedicationRequest' : 'ServiceRequest';
}

async function readStatusRow(
  client: PoolClient,
  chargeEventId: string,
): Promise<ChargeStatusRow | undefined> {
  const { rows } = await client.query<{
    engine_status: 'billed' | 'aborted' | null;
    engine_decided_at: Date | null;
    reversed_by: string | null;
  }>(STATUS_ROW_SQL, [chargeEventId]);
  const row = rows[0];
  if (!row) return undefined;
  return {
    engineStatus: row.engine_status,
    engineDecidedAt: row.engine_decided_at,
    reversedBy: row.reversed_by,
  };
}

async function saveStatusRow(
  client: PoolClient,
  chargeEventId: string,
  row: ChargeStatusRow,
  engineEventId: string | null,
): Promise<void> {
  await client.query(SAVE_STATUS_ROW_SQL, [
    chargeEventId,
    row.engineStatus,
    row.engineDecidedAt,
    engineEventId,
    row.reversedBy,
  ]);
}
