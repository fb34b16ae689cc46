/**
 * The slice of FHIR R4 (4.0.1) this repository writes and serves: the data types and the five
 * resources of the lab results flow. Written by hand rather than pulled from a types package
 * because the flow needs only these, and every field here is one the code actually fills or reads.
 * https://hl7.org/fhir/R4/resourcelist.html
 */

/** The resource types the repository stores, reads and searches. */
export const FHIR_RESOURCE_TYPES = [
  'Patient',
  'ServiceRequest',
  'Specimen',
  'Observation',
  'DiagnosticReport',
  'MedicationRequest',
  'MedicationDispense',
  'ImagingStudy',
  'ChargeItem',
] as const;

export type FhirResourceType = (typeof FHIR_RESOURCE_TYPES)[number];

export function isFhirResourceType(value: string): value is FhirResourceType {
  return (FHIR_RESOURCE_TYPES as readonly string[]).includes(value);
}

/** https://hl7.org/fhir/R4/resource.html#Meta */
export interface Meta {
  versionId?: string;
  lastUpdated?: string;
  /** Where this version came from: `urn:ancillary:message:<sourceSystem>:<MSH-10>` for lab writes. */
  source?: string;
  tag?: Coding[];
}

export interface Coding {
  system?: string;
  code?: string;
  display?: string;
}

export interface CodeableConcept {
  coding?: Coding[];
  text?: string;
}

export interface Identifier {
  use?: string;
  type?: CodeableConcept;
  system?: string;
  value?: string;
}

export interface Reference {
  reference?: string;
  display?: string;
}

/** https://hl7.org/fhir/R4/datatypes.html#Quantity */
export interface Quantity {
  value?: number;
  comparator?: '<' | '<=' | '>=' | '>';
  unit?: string;
  system?: string;
  code?: string;
}

export interface Period {
  start?: string;
  end?: string;
}

export interface Annotation {
  text: string;
}

export interface Extension {
  url: string;
  valueAnnotation?: Annotation;
  valueString?: string;
  valueCode?: string;
}

/** https://hl7.org/fhir/R4/datatypes.html#Attachment (inline data only) */
export interface Attachment {
  contentType?: string;
  language?: string;
  /** base64 */
  data?: string;
  title?: string;
}

export interface HumanName {
  use?: string;
  family?: string;
  given?: string[];
}

/** What every resource has. */
export interface ResourceBase {
  resourceType: string;
  id?: string;
  meta?: Meta;
  extension?: Extension[];
}

export interface Patient extends ResourceBase {
  resourceType: 'Patient';
  identifier?: Identifier[];
  name?: HumanName[];
  gender?: 'male' | 'female' | 'other' | 'unknown';
  birthDate?: string;
}

export interface ServiceRequest extends ResourceBase {
  resourceType: 'ServiceRequest';
  identifier?: Identifier[];
  status: 'draft' | 'active' | 'on-hold' | 'revoked' | 'completed' | 'entered-in-error' | 'unknown';
  intent: string;
  category?: CodeableConcept[];
  priority?: 'routine' | 'urgent' | 'asap' | 'stat';
  code?: CodeableConcept;
  subject: Reference;
  authoredOn?: string;
  requester?: Reference;
  encounter?: Reference;
  reasonCode?: CodeableConcept[];
  orderDetail?: CodeableConcept[];
  note?: Annotation[];
  extension?: Extension[];
}

export type MedicationRequestStatus =
  | 'active'
  | 'on-hold'
  | 'cancelled'
  | 'completed'
  | 'entered-in-error'
  | 'stopped'
  | 'draft'
  | 'unknown';

/** https://hl7.org/fhir/R4/dosage.html (the fields an order carries to a pharmacy) */
export interface Dosage {
  text?: string;
  timing?: { code?: CodeableConcept };
  route?: CodeableConcept;
  doseAndRate?: { doseQuantity?: Quantity }[];
}

/** https://hl7.org/fhir/R4/medicationrequest.html */
export interface MedicationRequest extends ResourceBase {
  resourceType: 'MedicationRequest';
  identifier?: Identifier[];
  status: MedicationRequestStatus;
  statusReason?: CodeableConcept;
  intent: string;
  priority?: 'routine' | 'urgent' | 'asap' | 'stat';
  medicationCodeableConcept?: CodeableConcept;
  subject: Reference;
  encounter?: Reference;
  authoredOn?: string;
  requester?: Reference;
  reasonCode?: CodeableConcept[];
  note?: Annotation[];
  dosageInstruction?: Dosage[];
  dispenseRequest?: {
    quantity?: Quantity;
    numberOfRepeatsAllowed?: number;
    expectedSupplyDuration?: Quantity;
  };
  extension?: Extension[];
}

/** https://hl7.org/fhir/R4/medicationdispense.html */
export interface MedicationDispense extends ResourceBase {
  resourceType: 'MedicationDispense';
  identifier?: Identifier[];
  status:
    | 'preparation'
    | 'in-progress'
    | 'cancelled'
    | 'on-hold'
    | 'completed'
    | 'entered-in-error'
    | 'stopped'
    | 'declined'
    | 'unknown';
  medicationCodeableConcept?: CodeableConcept;
  subject?: Reference;
  performer?: { actor: Reference }[];
  authorizingPrescription?: Reference[];
  quantity?: Quantity;
  daysSupply?: Quantity;
  whenHandedOver?: string;
  note?: Annotation[];
}

/** https://hl7.org/fhir/R4/imagingstudy.html (identity and links only; images stay in the PACS) */
export interface ImagingStudy extends ResourceBase {
  resourceType: 'ImagingStudy';
  identifier?: Identifier[];
  status: 'registered' | 'available' | 'cancelled' | 'entered-in-error' | 'unknown';
  modality?: Coding[];
  subject: Reference;
  started?: string;
  basedOn?: Reference[];
  procedureCode?: CodeableConcept[];
  description?: string;
}

export interface Specimen extends ResourceBase {
  resourceType: 'Specimen';
  identifier?: Identifier[];
  accessionIdentifier?: Identifier;
  type?: CodeableConcept;
  subject?: Reference;
  receivedTime?: string;
  request?: Reference[];
  collection?: { collectedDateTime?: string };
}

export interface ReferenceRange {
  low?: Quantity;
  high?: Quantity;
  text?: string;
}

export type ObservationStatus =
  | 'registered'
  | 'preliminary'
  | 'final'
  | 'amended'
  | 'corrected'
  | 'cancelled'
  | 'entered-in-error'
  | 'unknown';

export interface Observation extends ResourceBase {
  resourceType: 'Observation';
  identifier?: Identifier[];
  basedOn?: Reference[];
  status: ObservationStatus;
  category?: CodeableConcept[];
  code: CodeableConcept;
  subject?: Reference;
  effectiveDateTime?: string;
  effectivePeriod?: Period;
  issued?: string;
  valueQuantity?: Quantity;
  valueCodeableConcept?: CodeableConcept;
  valueString?: string;
  dataAbsentReason?: CodeableConcept;
  interpretation?: CodeableConcept[];
  note?: Annotation[];
  specimen?: Reference;
  referenceRange?: ReferenceRange[];
}

export type DiagnosticReportStatus =
  | 'registered'
  | 'partial'
  | 'preliminary'
  | 'final'
  | 'amended'
  | 'corrected'
  | 'appended'
  | 'cancelled'
  | 'entered-in-error'
  | 'unknown';

export interface DiagnosticReport extends ResourceBase {
  resourceType: 'DiagnosticReport';
  identifier?: Identifier[];
  basedOn?: Reference[];
  status: DiagnosticReportStatus;
  category?: CodeableConcept[];
  code: CodeableConcept;
  subject?: Reference;
  effectiveDateTime?: string;
  effectivePeriod?: Period;
  issued?: string;
  specimen?: Reference[];
  result?: Reference[];
  resultsInterpreter?: Reference[];
  imagingStudy?: Reference[];
  conclusion?: string;
  presentedForm?: Attachment[];
}

/** https://hl7.org/fhir/R4/chargeitem.html */
export type ChargeItemStatus =
  'planned' | 'billable' | 'not-billable' | 'aborted' | 'billed' | 'entered-in-error' | 'unknown';

/** https://hl7.org/fhir/R4/datatypes.html#Money */
export interface Money {
  value?: number;
  currency?: string;
}

export interface ChargeItemReference extends Reference {
  identifier?: Identifier;
  type?: string;
}

export interface ChargeItem extends ResourceBase {
  resourceType: 'ChargeItem';
  identifier?: Identifier[];
  status: ChargeItemStatus;
  code: CodeableConcept;
  subject: Reference;
  occurrenceDateTime?: string;
  performer?: { function?: CodeableConcept; actor: ChargeItemReference }[];
  costCenter?: Reference;
  quantity?: Quantity;
  priceOverride?: Money;
  enteredDate?: string;
  reason?: CodeableConcept[];
  service?: Reference[];
  productCodeableConcept?: CodeableConcept;
  supportingInformation?: ChargeItemReference[];
  note?: Annotation[];
}

export type FhirResource =
  | Patient
  | ServiceRequest
  | Specimen
  | Observation
  | DiagnosticReport
  | MedicationRequest
  | MedicationDispense
  | ImagingStudy
  | ChargeItem;

/**
 * A resource as read from the repository: content is JSON the repository holds, which other
 * writers (an EHR's orders) may also have produced, so readers treat it as data, not as a
 * guarantee of shape.
 */
export interface StoredResource {
  resourceType: FhirResourceType;
  id: string;
  versionId: number;
  lastUpdated: Date;
  /** The FHIR JSON of that version, `meta` included. */
  resource: ResourceBase & Record<string, unknown>;
}
