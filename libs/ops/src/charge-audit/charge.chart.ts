/**
 * What the missed-charge audit reads from the clinical repository, in a few set-based queries
 * (never one per item). Tables (created by the fhir-store migrations):
 *   fhir.resource(resource_type, id, version_id, last_updated, content jsonb)  current versions
 *   fhir.resource_history(resource_type, id, version_id, last_updated, content, source)
 *   fhir.search_token(resource_type, id, param, system, code)                  token index
 *
 * Completion time of a ServiceRequest: R4 has no element for it (occurrence is when it was to
 * be done, authoredOn when it was ordered), and the current version's last_updated moves with
 * any later write. So it is the last_updated of the first version the chart stored as
 * `completed` — when the ehr-writer filed the final result or report — which stays the same on
 * every run of the audit. Since last_updated only grows, `last_updated >= since` on the current
 * row selects the candidates through the (resource_type, last_updated) index first.
 *
 * A MedicationDispense's completion time is its whenHandedOver. ChargeItems are matched to
 * work through their JSON (supportingInformation, identifier), which no index covers: one pass
 * over the ChargeItems per audit, with every key of the window in one array parameter.
 */
import type { Pool } from 'pg';
import { ChartQueryError } from '../ops.errors';
import {
  CHARGE_KEY_SYSTEM,
  chargeRecord,
  medicationDispenseRecord,
  serviceRequestRecord,
  type ChargeRecord,
  type WorkRecord,
} from './charge-records';

interface ResourceSqlRow {
  resource_type: string;
  id: string;
  last_updated: Date;
  content: Record<string, unknown>;
}

interface ServiceRequestSqlRow extends ResourceSqlRow {
  completed_at: Date | null;
}

export interface ChargeQuery {
  /** Placer numbers of the window's completed orders. */
  placerOrderNumbers: readonly string[];
  /** Filler numbers of completed orders that have no placer number. */
  fillerOrderNumbers: readonly string[];
  /** `dispense:<id>` keys of the window's completed dispenses. */
  dispenseKeys: readonly string[];
  /** Also every ChargeItem written at or after this time (the window's own charges). */
  updatedSince: Date;
}

export class ChargeChart {
  constructor(
    private readonly pool: Pool,
    private readonly placerOrderSystem: string,
  ) {}

  /** ServiceRequests that are completed and were first stored as completed in [since, until). */
  async completedServiceRequests(since: Date, until: Date): Promise<WorkRecord[]> {
    const rows = await this.query<ServiceRequestSqlRow>(
      'reading completed ServiceRequests',
      `SELECT * FROM (
         SELECT r.resource_type, r.id, r.last_updated, r.content,
                (SELECT min(h.last_updated) FROM fhir.resource_history h
                  WHERE h.resource_type = r.resource_type AND h.id = r.id
                    AND h.content->>'status' = 'completed') AS completed_at
           FROM fhir.resource r
          WHERE r.resource_type = 'ServiceRequest' AND r.last_updated >= $1
            AND r.content->>'status' = 'completed') sr
        WHERE sr.completed_at >= $1 AND sr.completed_at < $2
        ORDER BY sr.completed_at, sr.id`,
      [since, until],
    );
    return rows.map((r) =>
      serviceRequestRecord(r.id, r.content, this.placerOrderSystem, r.completed_at ?? undefined),
    );
  }

  /**
   * MedicationDispenses that are completed and were handed over in [since, until). A dispense
   * is written after it was handed over, so rows updated before `since - skew` are not read.
   */
  async completedDispenses(since: Date, until: Date, skewMs: number): Promise<WorkRecord[]> {
    const rows = await this.query<ResourceSqlRow>(
      'reading completed MedicationDispenses',
      `SELECT resource_type, id, last_updated, content
         FROM fhir.resource
        WHERE resource_type = 'MedicationDispense' AND last_updated >= $1
          AND content->>'status' = 'completed'
        ORDER BY id`,
      [new Date(since.getTime() - skewMs)],
    );
    return rows
      .map((r) => medicationDispenseRecord(r.id, r.content))
      .filter(
        (w) => w.completedAt !== undefined && w.completedAt >= since && w.completedAt < until,
      );
  }

  /**
   * ChargeItems of the window's work (by placer number, filler number of the key, dispense
   * key) and every ChargeItem written since `updatedSince`, in one pass.
   */
  async charges(query: ChargeQuery): Promise<ChargeRecord[]> {
    const rows = await this.query<ResourceSqlRow>(
      'reading ChargeItems',
      `SELECT r.resource_type, r.id, r.last_updated, r.content
         FROM fhir.resource r
        WHERE r.resource_type = 'ChargeItem'
          AND (r.last_updated >= $4
            OR EXISTS (
              SELECT 1 FROM jsonb_array_elements(
                       CASE WHEN jsonb_typeof(r.content->'supportingInformation') = 'array'
                            THEN r.content->'supportingInformation' ELSE '[]'::jsonb END) s
               WHERE s->'identifier'->>'value' = ANY($1::text[]))
            OR EXISTS (
              SELECT 1 FROM jsonb_array_elements(
                       CASE WHEN jsonb_typeof(r.content->'identifier') = 'array'
                            THEN r.content->'identifier' ELSE '[]'::jsonb END) i
               WHERE i->>'system' = $5
                 AND (i->>'value' = ANY($3::text[])
                      OR split_part(i->>'value', '|', 1) = ANY($2::text[]))))
        ORDER BY r.id`,
      [
        [...query.placerOrderNumbers],
        [...query.fillerOrderNumbers],
        [...query.dispenseKeys],
        query.updatedSince,
        CHARGE_KEY_SYSTEM,
      ],
    );
    return rows.map((r) => chargeRecord(r.id, r.content, r.last_updated));
  }

  /**
   * ServiceRequests and MedicationDispenses with any of these identifier values (placer or
   * filler numbers, dispense ids), whatever their status or time: the work charges name.
   */
  async workByIdentifiers(
    orderNumbers: readonly string[],
    dispenseIds: readonly string[],
  ): Promise<WorkRecord[]> {
    if (orderNumbers.length === 0 && dispenseIds.length === 0) return [];
    const rows = await this.query<ServiceRequestSqlRow>(
      'reading the work that charges name',
      `SELECT DISTINCT r.resource_type, r.id, r.last_updated, r.content, NULL::timestamptz AS completed_at
         FROM fhir.search_token t
         JOIN fhir.resource r ON r.resource_type = t.resource_type AND r.id = t.id
        WHERE t.param = 'identifier'
          AND ((t.resource_type = 'ServiceRequest' AND t.code = ANY($1::text[]))
            OR (t.resource_type = 'MedicationDispense' AND t.code = ANY($2::text[])))`,
      [[...orderNumbers], [...dispenseIds]],
    );
    return rows.map((r) =>
      r.resource_type === 'MedicationDispense'
        ? medicationDispenseRecord(r.id, r.content)
        : serviceRequestRecord(r.id, r.content, this.placerOrderSystem),
    );
  }

  private async query<R>(doing: string, sql: string, params: unknown[]): Promise<R[]> {
    try {
      const result = await this.pool.query(sql, params);
      return result.rows as R[];
    } catch (error) {
      throw new ChartQueryError(
        `${doing} failed: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }
}
