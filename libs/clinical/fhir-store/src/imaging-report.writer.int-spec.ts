/**
 * The ImagingReport writer against the real PostgreSQL of the stack, in a database of its own:
 * what a report creates (DiagnosticReport, ImagingStudy, the EHR order completed), replays,
 * corrections, out-of-order reports, reports without an EHR order, patients shared with lab
 * results and created once by concurrent writers.
 */
import { captureLogger, createScratchDatabase, type ScratchDatabase } from '@ancillary/testing';
import type { Pool } from 'pg';
import { imagingReport } from '../test/imaging-report.fixture';
import { labResult } from '../test/lab-result.fixture';
import { PatientIdentityConflictError } from './errors';
import { V2_0203 } from './event.mapper';
import { FhirStore } from './fhir.store';
import type { FhirResourceType } from './fhir.types';
import { imagingReportKeys } from './imaging-report.mapper';
import { DEFAULT_PLACER_ORDER_SYSTEM } from './lab-result.mapper';
import { parseSearchQuery } from './search-query';

let db: ScratchDatabase;
let pool: Pool;
let store: FhirStore;
const captured = captureLogger('imaging-writer-int', 'debug');

beforeAll(async () => {
  db = await createScratchDatabase();
  pool = db.pool(8);
  store = new FhirStore(pool, { logger: captured.logger });
  await store.migrate();
});

afterAll(async () => {
  await db.drop();
});

async function count(sql: string, values: unknown[] = []): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, values);
  return rows[0]!.n;
}

async function ehrOrder(id: string, placer: string, status = 'active'): Promise<void> {
  await store.save(
    {
      resourceType: 'ServiceRequest',
      id,
      identifier: [
        {
          type: { coding: [{ system: V2_0203, code: 'PLAC' }] },
          system: DEFAULT_PLACER_ORDER_SYSTEM,
          value: placer,
        },
      ],
      status,
      intent: 'order',
      priority: 'routine',
      code: { coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: '71046' }] },
      subject: { reference: 'Patient/ehr-patient' },
      authoredOn: '2026-03-05T07:00:00.000Z',
    } as never,
    { source: 'urn:ancillary:fhir-api' },
  );
}

describe('writeImagingReport', () => {
  const first = imagingReport({
    mrn: 'MRN-I1',
    placer: 'PLC-I1',
    filler: 'RAD-I1',
    accession: 'ACC-I1',
    messageControlId: 'I1-1',
  });
  const keys = imagingReportKeys(first, DEFAULT_PLACER_ORDER_SYSTEM);

  beforeAll(async () => {
    await ehrOrder('sr-img-1', 'PLC-I1');
  });

  it('creates Patient, DiagnosticReport and ImagingStudy, and completes the EHR order', async () => {
    const receipt = await store.writeImagingReport(first);
    expect(receipt).toMatchObject({
      eventId: first.eventId,
      diagnosticReportId: keys.diagnosticReportId,
      imagingStudyId: keys.imagingStudyId,
      serviceRequestId: 'sr-img-1',
      versionId: 1,
      outcome: 'CREATED',
      order: {
        resourceType: 'ServiceRequest',
        id: 'sr-img-1',
        authoredOn: '2026-03-05T07:00:00.000Z',
        priority: 'routine',
        firstResult: true,
      },
    });
    const report = await store.read('DiagnosticReport', keys.diagnosticReportId);
    expect(report?.resource).toMatchObject({
      status: 'final',
      basedOn: [{ reference: 'ServiceRequest/sr-img-1' }],
      subject: { reference: `Patient/${receipt.patientId}` },
      imagingStudy: [{ reference: `ImagingStudy/${keys.imagingStudyId}` }],
      conclusion: 'No acute disease.',
      meta: { versionId: '1', source: 'urn:ancillary:message:ris-main:I1-1' },
    });
    const form = (report?.resource['presentedForm'] as { data: string }[])[0]!;
    expect(Buffer.from(form.data, 'base64').toString('utf8')).toBe(first.reportText);
    expect((await store.read('ImagingStudy', keys.imagingStudyId))?.resource).toMatchObject({
      status: 'available',
      basedOn: [{ reference: 'ServiceRequest/sr-img-1' }],
    });
    const order = await store.read('ServiceRequest', 'sr-img-1');
    expect(order).toMatchObject({ versionId: 2, resource: { status: 'completed' } });
    // The repository's own ServiceRequest is not created when the EHR's exists.
    expect(await store.read('ServiceRequest', keys.serviceRequestId!)).toBeUndefined();
    expect(await store.eventLedgerEntry(first.eventId)).toMatchObject({
      kind: 'imaging-report',
      sourceSystem: 'ris-main',
      patientId: receipt.patientId,
      resourceType: 'DiagnosticReport',
      resourceId: keys.diagnosticReportId,
      versionId: 1,
      outcome: 'CREATED',
    });
  });

  it('is found by the radiology category, the study by its UID, the report by accession', async () => {
    const search = async (type: FhirResourceType, query: string) =>
      (await store.search(parseSearchQuery(type, new URLSearchParams(query)))).matches.map(
        (m) => m.id,
      );
    expect(await search('DiagnosticReport', 'category=http://loinc.org|LP29684-5')).toContain(
      keys.diagnosticReportId,
    );
    expect(await search('DiagnosticReport', 'identifier=ACC-I1')).toEqual([
      keys.diagnosticReportId,
    ]);
    expect(
      await search(
        'ImagingStudy',
        'identifier=urn:dicom:uid|urn:oid:1.2.826.0.1.3680043.8.498.10001',
      ),
    ).toEqual([keys.imagingStudyId]);
  });

  it('changes nothing when the same event comes again', async () => {
    const before = await count('fhir.resource_history');
    const again = await store.writeImagingReport(first);
    expect(again).toMatchObject({
      outcome: 'UNCHANGED',
      unchangedReason: 'DUPLICATE_EVENT',
      recordedOutcome: 'CREATED',
      diagnosticReportId: keys.diagnosticReportId,
      versionId: 1,
    });
    expect(await count('fhir.resource_history')).toBe(before);
    expect(await count('fhir.event_ledger WHERE event_id = $1', [first.eventId])).toBe(1);
  });

  it('versions the same report for a correction; the study and the order stay as they are', async () => {
    const corrected = imagingReport(
      {
        mrn: 'MRN-I1',
        placer: 'PLC-I1',
        filler: 'RAD-I1',
        accession: 'ACC-I1',
        messageControlId: 'I1-2',
        receivedAt: first.receivedAt + 60_000,
      },
      { status: 'CORRECTED', impression: 'Small left pleural effusion.' },
    );
    const receipt = await store.writeImagingReport(corrected);
    expect(receipt).toMatchObject({
      outcome: 'UPDATED',
      versionId: 2,
      diagnosticReportId: keys.diagnosticReportId,
      order: { firstResult: false },
    });
    const report = await store.read('DiagnosticReport', keys.diagnosticReportId);
    expect(report?.resource).toMatchObject({
      status: 'corrected',
      conclusion: 'Small left pleural effusion.',
    });
    expect((await store.read('ImagingStudy', keys.imagingStudyId))?.versionId).toBe(1);
    expect((await store.read('ServiceRequest', 'sr-img-1'))?.versionId).toBe(2);
    expect(await count("fhir.resource WHERE resource_type = 'DiagnosticReport'")).toBe(1);
  });

  it('does not let an older report revert a newer one', async () => {
    const stale = imagingReport(
      {
        mrn: 'MRN-I1',
        placer: 'PLC-I1',
        filler: 'RAD-I1',
        accession: 'ACC-I1',
        messageControlId: 'I1-0',
        receivedAt: first.receivedAt - 60_000,
      },
      { status: 'PRELIMINARY' },
    );
    const receipt = await store.writeImagingReport(stale);
    expect(receipt).toMatchObject({
      outcome: 'UNCHANGED',
      unchangedReason: 'OUT_OF_ORDER',
      versionId: 2,
    });
    expect(
      (await store.read('DiagnosticReport', keys.diagnosticReportId))?.resource['status'],
    ).toBe('corrected');
    expect(await store.eventLedgerEntry(stale.eventId)).toMatchObject({
      outcome: 'UNCHANGED',
      versionId: 2,
    });
    expect(
      captured
        .lines()
        .some(
          (l) =>
            l['msg'] ===
              'imaging report older than the report version in the chart; recorded, not applied' &&
            l['eventId'] === stale.eventId,
        ),
    ).toBe(true);
  });
});

describe('orders and patients', () => {
  it("keeps the repository's own ServiceRequest when the EHR has no order with the number", async () => {
    const report = imagingReport({
      mrn: 'MRN-I2',
      placer: 'PLC-I2',
      filler: 'RAD-I2',
      messageControlId: 'I2-1',
    });
    const keys = imagingReportKeys(report, DEFAULT_PLACER_ORDER_SYSTEM);
    const receipt = await store.writeImagingReport(report);
    expect(receipt.serviceRequestId).toBe(keys.serviceRequestId);
    expect(receipt.order).toBeUndefined();
    expect((await store.read('ServiceRequest', keys.serviceRequestId!))?.resource).toMatchObject({
      status: 'completed',
      category: [{ coding: [{ code: '363679005' }] }],
    });
  });

  it('never revives a revoked order', async () => {
    await ehrOrder('sr-img-3', 'PLC-I3', 'revoked');
    const report = imagingReport({
      mrn: 'MRN-I3',
      placer: 'PLC-I3',
      filler: 'RAD-I3',
      messageControlId: 'I3-1',
    });
    const receipt = await store.writeImagingReport(report);
    expect(receipt.outcome).toBe('CREATED');
    expect(await store.read('ServiceRequest', 'sr-img-3')).toMatchObject({
      versionId: 1,
      resource: { status: 'revoked' },
    });
  });

  it('share the patient with lab results, whose older demographics do not revert newer ones', async () => {
    const imaging = imagingReport({ mrn: 'MRN-I4', filler: 'RAD-I4', messageControlId: 'I4-1' });
    imaging.patient.familyName = 'Newname';
    const lab = labResult({
      mrn: 'MRN-I4',
      filler: 'FIL-I4',
      messageControlId: 'I4-L',
      receivedAt: imaging.receivedAt - 3_600_000,
    });
    lab.patient.familyName = 'Oldname';
    const ri = await store.writeImagingReport(imaging);
    const rl = await store.writeLabResult(lab);
    expect(rl.patientId).toBe(ri.patientId);
    const patient = await store.read('Patient', ri.patientId!);
    expect(patient?.resource['name']).toEqual([{ family: 'Newname', given: ['Robin'] }]);
    expect(patient?.versionId).toBe(1);
  });

  it('are created once when reports for a new patient are written at the same time', async () => {
    const reports = Array.from({ length: 6 }, (_, i) =>
      imagingReport({
        mrn: 'MRN-I5',
        filler: `RAD-I5-${i}`,
        placer: `PLC-I5-${i}`,
        messageControlId: `I5-${i}`,
      }),
    );
    const receipts = await Promise.all(reports.map((r) => store.writeImagingReport(r)));
    expect(new Set(receipts.map((r) => r.patientId)).size).toBe(1);
    expect(receipts.every((r) => r.outcome === 'CREATED')).toBe(true);
    expect(
      await count(
        "fhir.search_token WHERE resource_type = 'Patient' AND param = 'identifier' AND code = 'MRN-I5'",
      ),
    ).toBe(1);
  });

  it('are not guessed at when one report names two patients', async () => {
    await store.writeImagingReport(
      imagingReport({ mrn: 'MRN-I6', filler: 'RAD-I6', messageControlId: 'I6-1' }),
    );
    await store.writeImagingReport(
      imagingReport({ mrn: 'MRN-I7', filler: 'RAD-I7', messageControlId: 'I7-1' }),
    );
    const both = imagingReport({ mrn: 'MRN-I6', filler: 'RAD-I8', messageControlId: 'I8-1' });
    both.patient.identifiers.push({ value: 'MRN-I7', system: 'urn:hospital:mrn', type: 'MR' });
    await expect(store.writeImagingReport(both)).rejects.toThrow(PatientIdentityConflictError);
    expect(await store.eventLedgerEntry(both.eventId)).toBeUndefined();
  });
});
