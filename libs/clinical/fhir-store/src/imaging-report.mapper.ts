/**
 * The canonical ImagingReport as FHIR R4: a radiology DiagnosticReport (the readable report as
 * presentedForm, the impression as conclusion), the ImagingStudy when the DICOM Study Instance
 * UID is known, and the ServiceRequest this repository keeps when no EHR order matches. Pure
 * functions; the writer resolves patient and order. Mapping choices follow the HL7 v2-to-FHIR
 * ORU^R01 mapping and the US Core DiagnosticReport Note profile (category LP29684-5 Radiology):
 * https://build.fhir.org/ig/HL7/v2-to-fhir/ ,
 * https://hl7.org/fhir/us/core/StructureDefinition-us-core-diagnosticreport-note.html
 */
import type { ImagingReport } from '@ancillary/contracts';
import { InvalidClinicalEventError } from './errors';
import {
  coding,
  concept,
  CPT_SYSTEM,
  DICOM_DCM,
  fillerOrderSystem,
  identifierType,
  instant,
  LOINC,
  nonEmpty,
  type PatientIdentifierKey,
  patientKeys,
  reference,
  requestPriority,
  resultPriorityExtensions,
  SNOMED_SYSTEM,
  V2_0074,
} from './event.mapper';
import type {
  CodeableConcept,
  DiagnosticReport,
  DiagnosticReportStatus,
  Identifier,
  ImagingStudy,
  ServiceRequest,
} from './fhir.types';
import { nameBasedId } from './ids';

type ImagingStatus = ImagingReport['status'];

/** ImagingStudy identifier system for a Study Instance UID (value `urn:oid:<uid>`). */
export const DICOM_UID_SYSTEM = 'urn:dicom:uid';
/** SNOMED CT "Imaging (procedure)": the ServiceRequest category of imaging orders. */
export const IMAGING_ORDER_CATEGORY = { system: SNOMED_SYSTEM, code: '363679005' };
/** The media type of presentedForm: the report as the RIS wrote it, line breaks kept. */
export const REPORT_TEXT_CONTENT_TYPE = 'text/plain; charset=utf-8';

/** Accession numbers (OBR-18) are assigned by the RIS, so scoped to it. */
export function accessionSystem(sourceSystem: string): string {
  return `urn:ancillary:${encodeURIComponent(sourceSystem)}:accession`;
}

/** A DICOM UID: dot-separated numbers without leading zeros, at most 64 characters (PS3.5 9.1). */
const DICOM_UID = /^(0|[1-9]\d*)(\.(0|[1-9]\d*))+$/;

export interface ImagingReportKeys {
  /** What identifies the report: the filler order, else the accession, else the placer order, else the message. */
  reportKey: { kind: 'FILL' | 'ACSN' | 'PLAC' | 'EVENT'; system: string; value: string };
  diagnosticReportId: string;
  /** FILL / ACSN identifiers of the report (those the event has), else its report key. */
  reportIdentifiers: Identifier[];
  /** PLAC and FILL identifiers of the order (those the event has). */
  orderIdentifiers: Identifier[];
  /** The placer order number to look the EHR's ServiceRequest up by. */
  placer?: { system: string; value: string };
  /** Id of the ServiceRequest this repository creates when no EHR-sent one exists. */
  serviceRequestId?: string;
  /** Id of the study's ImagingStudy (derived from the report key, so a corrected UID versions it). */
  imagingStudyId: string;
  /** The Study Instance UID when the event carries a valid one. */
  studyInstanceUid?: string;
  patientIdentifiers: PatientIdentifierKey[];
  newPatientId: string;
  /** Data the event carried that could not be used (kept out, with this reason). */
  warnings: string[];
}

const invalid = (message: string): Error => new InvalidClinicalEventError(message);

/** Computes the keys and ids of an imaging report, validating what the repository needs. */
export function imagingReportKeys(
  report: ImagingReport,
  placerOrderSystem: string,
): ImagingReportKeys {
  const source = report.sourceSystem;
  const { patientIdentifiers, newPatientId } = patientKeys(report.patient, invalid);
  if (!nonEmpty(report.procedure.code)) {
    throw invalid('procedure.code (OBR-4) is empty: an imaging report needs its procedure');
  }
  const warnings: string[] = [];
  const filler = nonEmpty(report.fillerOrderNumber);
  const accession = nonEmpty(report.accessionNumber);
  const placerNumber = nonEmpty(report.placerOrderNumber);
  const placer = placerNumber ? { system: placerOrderSystem, value: placerNumber } : undefined;
  const fillerKey = filler ? { system: fillerOrderSystem(source), value: filler } : undefined;
  const accessionKey = accession
    ? { system: accessionSystem(source), value: accession }
    : undefined;

  const reportKey: ImagingReportKeys['reportKey'] = fillerKey
    ? { kind: 'FILL', ...fillerKey }
    : accessionKey
      ? { kind: 'ACSN', ...accessionKey }
      : placer
        ? { kind: 'PLAC', ...placer }
        : {
            // No order number at all: the message is the only identity (a later correction
            // cannot be matched and becomes a report of its own).
            kind: 'EVENT',
            system: `urn:ancillary:${encodeURIComponent(source)}:message`,
            value: `${report.messageControlId}:${report.orderIndex}`,
          };
  const reportIdentifiers: Identifier[] = [];
  if (fillerKey) reportIdentifiers.push({ type: identifierType('FILL'), ...fillerKey });
  if (accessionKey) reportIdentifiers.push({ type: identifierType('ACSN'), ...accessionKey });
  if (reportIdentifiers.length === 0) {
    reportIdentifiers.push(
      reportKey.kind === 'EVENT'
        ? { system: reportKey.system, value: reportKey.value }
        : {
            type: identifierType(reportKey.kind),
            system: reportKey.system,
            value: reportKey.value,
          },
    );
  }
  const orderIdentifiers: Identifier[] = [];
  if (placer) orderIdentifiers.push({ type: identifierType('PLAC'), ...placer });
  if (fillerKey) orderIdentifiers.push({ type: identifierType('FILL'), ...fillerKey });
  const orderKey = placer ?? fillerKey;

  let studyInstanceUid = nonEmpty(report.studyInstanceUid)?.replace(/^urn:oid:/i, '');
  if (studyInstanceUid && (studyInstanceUid.length > 64 || !DICOM_UID.test(studyInstanceUid))) {
    warnings.push('studyInstanceUid is not a DICOM UID; the ImagingStudy is left out');
    studyInstanceUid = undefined;
  }

  return {
    reportKey,
    diagnosticReportId: nameBasedId('DiagnosticReport', reportKey.system, reportKey.value),
    reportIdentifiers,
    orderIdentifiers,
    ...(placer ? { placer } : {}),
    ...(orderKey
      ? { serviceRequestId: nameBasedId('ServiceRequest', orderKey.system, orderKey.value) }
      : {}),
    imagingStudyId: nameBasedId('ImagingStudy', reportKey.system, reportKey.value),
    ...(studyInstanceUid ? { studyInstanceUid } : {}),
    patientIdentifiers,
    newPatientId,
    warnings,
  };
}

const DIAGNOSTIC_REPORT_STATUS: Record<ImagingStatus, DiagnosticReportStatus> = {
  PRELIMINARY: 'preliminary',
  FINAL: 'final',
  CORRECTED: 'corrected',
  CANCELLED: 'cancelled',
  UNKNOWN: 'unknown',
};

/** The repository's own ServiceRequest follows its report, as for lab results. */
const SERVICE_REQUEST_STATUS: Record<ImagingStatus, ServiceRequest['status']> = {
  PRELIMINARY: 'active',
  FINAL: 'completed',
  CORRECTED: 'completed',
  CANCELLED: 'revoked',
  UNKNOWN: 'unknown',
};

/** Images exist once any report, even a preliminary one, is written about them. */
function studyStatus(status: ImagingStatus): ImagingStudy['status'] {
  return status === 'CANCELLED' ? 'cancelled' : 'available';
}

export interface ImagingReportLinks {
  patientId: string;
  /** The ServiceRequest the report is based on (EHR-sent or this repository's), if any. */
  serviceRequestId?: string;
  /** Whether the repository already has this report's ImagingStudy (kept referenced without a UID). */
  imagingStudyStored?: boolean;
}

export interface ImagingReportResources {
  /** The repository's own ServiceRequest (when there is an order number). */
  serviceRequest?: ServiceRequest;
  /** Only when the Study Instance UID is known. */
  imagingStudy?: ImagingStudy;
  report: DiagnosticReport;
}

/** The procedure: CPT first, then the code as the RIS sent it. */
function procedureConcept(report: ImagingReport): CodeableConcept {
  const text = nonEmpty(report.procedure.display) ?? nonEmpty(report.localProcedure?.display);
  return concept([coding(report.procedure, CPT_SYSTEM), coding(report.localProcedure)], text);
}

/** The resources an imaging report describes, without `meta` (the writer versions them). */
export function mapImagingReport(
  report: ImagingReport,
  keys: ImagingReportKeys,
  links: ImagingReportLinks,
): ImagingReportResources {
  const subject = reference('Patient', links.patientId);
  const basedOn = links.serviceRequestId
    ? [reference('ServiceRequest', links.serviceRequestId)]
    : undefined;
  const code = procedureConcept(report);
  const effective = instant(report.effectiveAt, 'effectiveAt (OBR-7)', invalid);
  const issued = instant(report.issuedAt, 'issuedAt (OBR-22)', invalid);
  const priority = requestPriority(report.priority);

  let serviceRequest: ServiceRequest | undefined;
  if (keys.serviceRequestId && links.serviceRequestId === keys.serviceRequestId) {
    serviceRequest = {
      resourceType: 'ServiceRequest',
      id: keys.serviceRequestId,
      identifier: keys.orderIdentifiers,
      status: SERVICE_REQUEST_STATUS[report.status],
      intent: 'order',
      category: [{ coding: [IMAGING_ORDER_CATEGORY] }],
      ...(priority ? { priority } : {}),
      code,
      subject,
    };
  }

  let imagingStudy: ImagingStudy | undefined;
  if (keys.studyInstanceUid) {
    const modality = nonEmpty(report.modality)?.toUpperCase();
    const description = nonEmpty(report.procedure.display);
    const accession = keys.reportIdentifiers.find((i) => i.type?.coding?.[0]?.code === 'ACSN');
    imagingStudy = {
      resourceType: 'ImagingStudy',
      id: keys.imagingStudyId,
      identifier: [
        { system: DICOM_UID_SYSTEM, value: `urn:oid:${keys.studyInstanceUid}` },
        ...(accession ? [accession] : []),
      ],
      status: studyStatus(report.status),
      ...(modality ? { modality: [{ system: DICOM_DCM, code: modality }] } : {}),
      subject,
      ...(effective ? { started: effective } : {}),
      ...(basedOn ? { basedOn } : {}),
      procedureCode: [code],
      ...(description ? { description } : {}),
    };
  }
  const studyRef =
    imagingStudy || links.imagingStudyStored
      ? reference('ImagingStudy', keys.imagingStudyId)
      : undefined;

  const text = report.reportText;
  const impression = nonEmpty(report.impression);
  const interpreter = nonEmpty(report.interpreter);
  const extension = resultPriorityExtensions(report.highPriority, report.priority);
  const diagnosticReport: DiagnosticReport = {
    resourceType: 'DiagnosticReport',
    id: keys.diagnosticReportId,
    ...(extension.length > 0 ? { extension } : {}),
    identifier: keys.reportIdentifiers,
    ...(basedOn ? { basedOn } : {}),
    status: DIAGNOSTIC_REPORT_STATUS[report.status],
    category: [
      { coding: [{ system: V2_0074, code: 'RAD', display: 'Radiology' }] },
      { coding: [{ system: LOINC, code: 'LP29684-5', display: 'Radiology' }] },
    ],
    code,
    subject,
    ...(effective ? { effectiveDateTime: effective } : {}),
    ...(issued ? { issued } : {}),
    ...(interpreter ? { resultsInterpreter: [{ display: interpreter }] } : {}),
    ...(studyRef ? { imagingStudy: [studyRef] } : {}),
    ...(impression ? { conclusion: impression } : {}),
    ...(text.trim().length > 0
      ? {
          presentedForm: [
            {
              contentType: REPORT_TEXT_CONTENT_TYPE,
              data: Buffer.from(text, 'utf8').toString('base64'),
            },
          ],
        }
      : {}),
  };
  return {
    ...(serviceRequest ? { serviceRequest } : {}),
    ...(imagingStudy ? { imagingStudy } : {}),
    report: diagnosticReport,
  };
}
