/**
 * Applies one canonical MedicationDispensed in one transaction, idempotently (the steps and
 * guarantees of event-writer.ts): Patient and the MedicationDispense, whose
 * authorizingPrescription is the EHR's MedicationRequest found by placer number. The
 * MedicationRequest itself is left as it is: one dispense does not complete an order that may
 * allow refills.
 */
import type { MedicationDispensed } from '@ancillary/contracts';
import type { Pool, PoolClient } from 'pg';
import { dispenseKeys, type DispenseKeys, mapDispense } from './dispense.mapper';
import { eventSource } from './event.mapper';
import {
  duplicateFromState,
  type EventWriteReceipt,
  type EventWriterOptions,
  executeWrite,
  linkedOrder,
  loadEventState,
  patientFor,
  patientLockNames,
  patientUpdate,
  recordedEvent,
  watermarkOf,
  resourceKey,
  storedMap,
  subjectPatientId,
  versionsToWrite,
} from './event-writer';
import type { ResourceBase } from './fhir.types';
import { identifierLockName, resourceLockName } from './ids';
import type { WriteOutcome } from './lab-result.writer';
import { inLockedTransaction } from './transaction';

export interface DispenseWriteReceipt extends EventWriteReceipt {
  medicationDispenseId: string;
  /** The MedicationRequest dispensed against, when found (not known for a DUPLICATE_EVENT). */
  medicationRequestId?: string;
}

const KIND = 'dispense';

export class DispenseWriter {
  constructor(
    private readonly pool: Pool,
    private readonly options: EventWriterOptions,
  ) {}

  async write(dispense: MedicationDispensed): Promise<DispenseWriteReceipt> {
    const keys = dispenseKeys(dispense, this.options.placerOrderSystem);
    const recorded = await recordedEvent(this.pool, dispense.eventId);
    if (recorded) {
      return { ...recorded.receipt, medicationDispenseId: recorded.entry.resourceId };
    }
    const names = patientLockNames(keys.patientIdentifiers);
    if (keys.placer) {
      names.push(identifierLockName('MedicationRequest', keys.placer.system, keys.placer.value));
    }
    names.push(resourceLockName('MedicationDispense', keys.medicationDispenseId));
    const receipt = await inLockedTransaction(
      this.pool,
      names,
      `writing dispense ${dispense.eventId}`,
      (client) => this.apply(client, dispense, keys),
    );
    return receipt.unchangedReason === 'DUPLICATE_EVENT'
      ? receipt
      : { ...receipt, writtenAt: Date.now() };
  }

  private async apply(
    client: PoolClient,
    dispense: MedicationDispensed,
    keys: DispenseKeys,
  ): Promise<DispenseWriteReceipt> {
    const { logger, timeZone, metrics } = this.options;
    const state = await loadEventState(client, {
      eventId: dispense.eventId,
      patientIdentifiers: keys.patientIdentifiers,
      ...(keys.placer ? { order: { resourceTypes: ['MedicationRequest'], ...keys.placer } } : {}),
      wanted: [['MedicationDispense', keys.medicationDispenseId]],
      results: {
        resourceType: 'MedicationDispense',
        param: 'prescription',
        statuses: ['completed'],
      },
    });
    if (state.ledger) {
      return {
        ...duplicateFromState(state.ledger),
        medicationDispenseId: keys.medicationDispenseId,
      };
    }
    const patientId = patientFor(
      dispense.eventId,
      keys.patientIdentifiers.length,
      state.patient_ids,
      keys.newPatientId,
    );
    const stored = storedMap(state.resources);
    const current = stored.get(resourceKey('MedicationDispense', keys.medicationDispenseId));
    const receivedAt = new Date(dispense.receivedAt);
    const now = new Date();
    const source = eventSource(dispense.sourceSystem, dispense.messageControlId, dispense.eventId);
    const where = {
      eventId: dispense.eventId,
      sourceSystem: dispense.sourceSystem,
      ...(dispense.messageControlId ? { messageControlId: dispense.messageControlId } : {}),
      medicationDispenseId: keys.medicationDispenseId,
    };
    const ledger = (versionId: number, outcome: WriteOutcome, patient: string) => ({
      eventId: dispense.eventId,
      kind: KIND,
      sourceSystem: dispense.sourceSystem,
      patientId: patient,
      resourceType: 'MedicationDispense',
      resourceId: keys.medicationDispenseId,
      versionId,
      outcome,
      receivedAt,
    });

    const watermark = watermarkOf(state, 'MedicationDispense', keys.medicationDispenseId);
    if (current && watermark && receivedAt.getTime() < watermark.getTime()) {
      const filedFor = state.patient_ids[0] ?? subjectPatientId(current.content) ?? patientId;
      await executeWrite(client, {
        versions: [],
        now,
        timeZone,
        metrics,
        eventLedger: ledger(current.versionId, 'UNCHANGED', filedFor),
      });
      logger.warn(
        {
          ...where,
          receivedAt: receivedAt.toISOString(),
          newestAppliedAt: watermark.toISOString(),
        },
        'dispense older than the version in the chart; recorded, not applied',
      );
      return {
        eventId: dispense.eventId,
        patientId: filedFor,
        medicationDispenseId: keys.medicationDispenseId,
        versionId: current.versionId,
        outcome: 'UNCHANGED',
        writtenAt: now.getTime(),
        unchangedReason: 'OUT_OF_ORDER',
      };
    }

    const desired: ResourceBase[] = [];
    const patient = patientUpdate(
      this.options,
      dispense,
      keys.patientIdentifiers,
      patientId,
      stored,
      state.patient_watermark,
    );
    if (patient) desired.push(patient);

    const found = state.orders.map((o) => o.id);
    if (keys.placer && found.length === 0) {
      logger.warn(
        where,
        'no MedicationRequest carries the placer order number; the dispense is filed without authorizingPrescription',
      );
    } else if (found.length > 1) {
      logger.warn(
        { ...where, medicationRequestIds: found },
        'several MedicationRequests carry the placer order number; the dispense names the first',
      );
    }
    const request = found[0] ? stored.get(resourceKey('MedicationRequest', found[0])) : undefined;
    const orderPatient = subjectPatientId(request?.content);
    if (request && orderPatient && orderPatient !== patientId) {
      // Identifiers decide the chart; a mismatch with the order's subject is for a person to see.
      logger.warn(
        { ...where, medicationRequestId: request.id, patientId, orderPatientId: orderPatient },
        "the dispense's patient is not the subject of its MedicationRequest",
      );
    }
    desired.push(
      mapDispense(dispense, keys, {
        patientId,
        ...(request ? { medicationRequestId: request.id } : {}),
      }),
    );

    const versions = versionsToWrite(desired, stored, now, source);
    const versionId =
      versions.find((v) => v.resourceType === 'MedicationDispense')?.versionId ??
      current?.versionId ??
      1;
    const outcome: WriteOutcome = !current
      ? 'CREATED'
      : versions.length > 0
        ? 'UPDATED'
        : 'UNCHANGED';
    await executeWrite(client, {
      versions,
      now,
      timeZone,
      metrics,
      eventLedger: ledger(versionId, outcome, patientId),
    });
    return {
      eventId: dispense.eventId,
      patientId,
      medicationDispenseId: keys.medicationDispenseId,
      ...(request ? { medicationRequestId: request.id } : {}),
      versionId,
      outcome,
      writtenAt: now.getTime(),
      ...(outcome === 'UNCHANGED' ? { unchangedReason: 'SAME_CONTENT' as const } : {}),
      ...(request
        ? {
            order: linkedOrder(
              request,
              dispense.status === 'COMPLETED' && (state.prior_results[request.id] ?? 0) === 0,
            ),
          }
        : {}),
    };
  }
}
