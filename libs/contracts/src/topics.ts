/**
 * The topic catalogue: every Kafka topic the platform owns, its value contract, its key and
 * its dead-letter topic. Provisioning creates exactly these topics and registers exactly these
 * subjects; producers and consumers look topics up here instead of spelling names.
 *
 * Naming: `<domain>.<entity>.v<major>`; dead letters `<topic>.dlt`; subject `<topic>-value`
 * (Confluent TopicNameStrategy). A breaking change to a contract is a new major topic.
 */
import {
  ChargeEventContract,
  ChargeStatusEventContract,
  CriticalAlertContract,
  ImagingReportContract,
  LabResultContract,
  MedicationDispensedContract,
  OrderEventContract,
  OrderStatusChangedContract,
  RawFhirEnvelopeContract,
  RawHl7EnvelopeContract,
  ResultWrittenContract,
} from './generated';

export interface ValueContract {
  /** Avro full name of the record. */
  readonly name: string;
  /** The schema file under schemas/ it was generated from. */
  readonly source: string;
  /** Canonical schema JSON text, as registered. */
  readonly schema: string;
}

export interface TopicDefinition {
  readonly name: string;
  readonly description: string;
  readonly value: ValueContract;
  /** What the (UTF-8 string) key identifies; it decides per-partition ordering. */
  readonly key: string;
  readonly partitions: number;
  /** Retention in milliseconds; -1 keeps records forever. */
  readonly retentionMs: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Builds one catalogue entry; the dead-letter topic and the subject follow from the name. */
function topic(def: TopicDefinition): TopicDefinition {
  if (!/^[a-z]+(?:-[a-z]+)*\.[a-z0-9]+(?:-[a-z0-9]+)*\.v[1-9][0-9]*$/.test(def.name)) {
    throw new Error(`topic name ${def.name} does not follow <domain>.<entity>.v<major>`);
  }
  return def;
}

export const Topics = {
  labHl7Inbound: topic({
    name: 'lab.hl7-inbound.v1',
    description: 'HL7 v2 messages from the laboratory information system, as received.',
    value: RawHl7EnvelopeContract,
    key: 'patient identifier (PID-3, first repetition), else the message control id',
    partitions: 6,
    retentionMs: 30 * DAY_MS,
  }),
  clinicalResults: topic({
    name: 'clinical.results.v1',
    description: 'Laboratory results mapped to LOINC/UCUM, one event per order group.',
    value: LabResultContract,
    key: 'patient identifier',
    partitions: 6,
    retentionMs: -1,
  }),
  clinicalAlerts: topic({
    name: 'clinical.alerts.v1',
    description: 'Critical (panic) laboratory values, one event per critical observation.',
    value: CriticalAlertContract,
    key: 'patient identifier',
    partitions: 6,
    retentionMs: 90 * DAY_MS,
  }),
  clinicalResultsWritten: topic({
    name: 'clinical.results-written.v1',
    description:
      'A lab result is readable in the FHIR repository (one per LabResult, for latency and audit).',
    value: ResultWrittenContract,
    key: 'patient identifier',
    partitions: 6,
    retentionMs: 7 * DAY_MS,
  }),
  radiologyHl7Inbound: topic({
    name: 'radiology.hl7-inbound.v1',
    description: 'HL7 v2 messages from the radiology information system, as received.',
    value: RawHl7EnvelopeContract,
    key: 'patient identifier (PID-3, first repetition), else the message control id',
    partitions: 6,
    retentionMs: 30 * DAY_MS,
  }),
  pharmacyHl7Inbound: topic({
    name: 'pharmacy.hl7-inbound.v1',
    description: 'HL7 v2 messages from the pharmacy system (RDS^O13 dispenses), as received.',
    value: RawHl7EnvelopeContract,
    key: 'patient identifier (PID-3, first repetition), else the message control id',
    partitions: 6,
    retentionMs: 30 * DAY_MS,
  }),
  pharmacyFhirInbound: topic({
    name: 'pharmacy.fhir-inbound.v1',
    description:
      'FHIR resources (MedicationDispense) POSTed by API-first pharmacy platforms, as received.',
    value: RawFhirEnvelopeContract,
    key: 'patient reference or identifier of the resource, else its idempotency key',
    partitions: 6,
    retentionMs: 30 * DAY_MS,
  }),
  clinicalOrders: topic({
    name: 'clinical.orders.v1',
    description:
      'Orders placed or cancelled in the EHR, routed to one ancillary each (routine lane).',
    value: OrderEventContract,
    key: 'patient identifier',
    partitions: 6,
    retentionMs: -1,
  }),
  clinicalOrdersStat: topic({
    name: 'clinical.orders-stat.v1',
    description:
      'The STAT lane: orders whose priority the order rules send ahead of the routine queue.',
    value: OrderEventContract,
    key: 'patient identifier',
    partitions: 6,
    retentionMs: -1,
  }),
  clinicalOrderStatus: topic({
    name: 'clinical.order-status.v1',
    description:
      'Order status from the ancillaries: accepted or rejected answers, and later ORC-5 statuses.',
    value: OrderStatusChangedContract,
    key: 'patient identifier',
    partitions: 6,
    retentionMs: -1,
  }),
  clinicalImagingReports: topic({
    name: 'clinical.imaging-reports.v1',
    description: 'Radiology reports with impression, findings and study identity, CPT-coded.',
    value: ImagingReportContract,
    key: 'patient identifier',
    partitions: 6,
    retentionMs: -1,
  }),
  clinicalDispenses: topic({
    name: 'clinical.dispenses.v1',
    description: 'Medication dispenses from the pharmacy, NDC with RxNorm where mapped.',
    value: MedicationDispensedContract,
    key: 'patient identifier',
    partitions: 6,
    retentionMs: -1,
  }),
  billingCharges: topic({
    name: 'billing.charges.v1',
    description:
      'Charges and credits for completed clinical work, priced from the charge master; each is one FT1 of a DFT^P03 to the billing engine.',
    value: ChargeEventContract,
    key: 'patient identifier',
    partitions: 6,
    retentionMs: -1,
  }),
  billingChargeStatus: topic({
    name: 'billing.charge-status.v1',
    description:
      "The billing engine's answer per charge line (BILLED or REJECTED with its ERR text); the ehr-writer moves the ChargeItem's status from it.",
    value: ChargeStatusEventContract,
    key: 'patient identifier',
    partitions: 6,
    retentionMs: -1,
  }),
} as const satisfies Record<string, TopicDefinition>;

export type TopicKey = keyof typeof Topics;

/** All topics in a stable order (for provisioning and documentation). */
export const topicCatalogue: readonly TopicDefinition[] = Object.values(Topics);

/** The dead-letter topic of a topic: original bytes plus provenance headers, no own schema. */
export function deadLetterTopicOf(topicName: string): string {
  return `${topicName}.dlt`;
}

/** The schema registry subject of a topic's values (TopicNameStrategy). */
export function valueSubjectOf(topicName: string): string {
  return `${topicName}-value`;
}

export function findTopic(name: string): TopicDefinition | undefined {
  return topicCatalogue.find((t) => t.name === name);
}
