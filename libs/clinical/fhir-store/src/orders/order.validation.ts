/**
 * Validation of the resources the EHR creates through the FHIR API: ServiceRequest and
 * MedicationRequest orders, and Patients. Pure: it reads the request body, says precisely what
 * is wrong (one issue per problem, each with a FHIRPath-like expression such as
 * `ServiceRequest.code.coding[0].system`) and returns the resource to store, with the
 * repository's defaults filled in (priority, authoredOn, a placer order number).
 *
 * It checks what the order flow depends on, not every FHIR invariant: elements it does not
 * read are kept as sent. Issue codes are FHIR issue types
 * (https://hl7.org/fhir/R4/valueset-issue-type.html); structural ones make the request a 400,
 * the others (a business rule, an unsupported code) a 422, as https://hl7.org/fhir/R4/http.html#create
 * distinguishes them.
 */
import { type JsonObject, toJsonObject } from '../content';
import { dateRange } from '../date-range';
import { FHIR_ID_PATTERN } from '../ids';
import {
  CANCELLED_STATUS,
  CPT_SYSTEM,
  IDENTIFIER_TYPE_SYSTEM,
  LOINC_SYSTEM,
  MEDICATION_REQUEST_INTENTS,
  MEDICATION_REQUEST_STATUSES,
  type OrderCategory,
  type OrderResourceType,
  PLACEABLE_INTENTS,
  REQUEST_INTENTS,
  REQUEST_PRIORITIES,
  REQUEST_STATUSES,
  type RequestPriority,
  RXNORM_SYSTEM,
} from './order-codes';
import { classifyOrder, declaredCategory } from './order-event';
import { newPlacerOrderNumber } from './placer-number';

export type ValidationIssueCode =
  | 'structure'
  | 'required'
  | 'value'
  | 'invalid'
  | 'not-supported'
  | 'code-invalid'
  | 'business-rule'
  | 'not-found'
  | 'duplicate';

export interface ValidationIssue {
  code: ValidationIssueCode;
  /** FHIRPath-like location, e.g. `ServiceRequest.subject.reference`. */
  expression: string;
  /** What is wrong and what is expected; names codes, never patient data. */
  diagnostics: string;
}

const MALFORMED: ReadonlySet<ValidationIssueCode> = new Set([
  'structure',
  'required',
  'value',
  'invalid',
  'not-supported',
]);

/** 400 when the request is malformed, 422 when it is well formed but breaks a rule. */
export function validationStatus(issues: readonly ValidationIssue[]): 400 | 422 {
  return issues.some((i) => MALFORMED.has(i.code)) ? 400 : 422;
}

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; issues: ValidationIssue[] };

export interface ValidatedOrder {
  resourceType: OrderResourceType;
  /** The content to store: defaults filled in, `id` and `meta` left to the repository. */
  resource: JsonObject;
  placer: { system: string; value: string; generated: boolean };
  subjectId: string;
  priority: RequestPriority;
  category: OrderCategory;
  coding: { system: string; code: string; display: string | null };
}

export interface ValidatedPatient {
  resource: JsonObject;
  identifiers: { system: string; value: string }[];
}

export interface OrderValidationOptions {
  /** Identifier system of placer order numbers (the EHR's, configured per deployment). */
  placerOrderSystem: string;
  /** authoredOn when the order has none, and the time of a generated placer number. */
  now: Date;
  /** Default newPlacerOrderNumber. */
  newPlacerNumber?: (now: Date) => string;
}

type Json = Record<string, unknown>;

const FHIR_DATE_TIME =
  /^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$/;
const FHIR_DATE =
  /^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$/;
const PATIENT_REFERENCE = /^Patient\/([A-Za-z0-9\-.]{1,64})$/;
const GENDERS = ['male', 'female', 'other', 'unknown'];
/** UCUM and common spellings of a day, for expectedSupplyDuration. */
const DAY_UNITS = new Set(['d', 'day', 'days']);

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** Collects issues while walking a resource; each check returns the value when usable. */
class Checker {
  readonly issues: ValidationIssue[] = [];

  add(code: ValidationIssueCode, expression: string, diagnostics: string): void {
    this.issues.push({ code, expression, diagnostics });
  }

  string(value: unknown, path: string, required = false): string | undefined {
    if (value === undefined) {
      if (required) this.add('required', path, `${path} is required`);
      return undefined;
    }
    if (typeof value !== 'string' || value.trim().length === 0) {
      this.add(
        'value',
        path,
        `${path} must be a non-empty string, not ${typeof value === 'string' ? 'an empty one' : describe(value)}`,
      );
      return undefined;
    }
    return value;
  }

  code<T extends string>(
    value: unknown,
    path: string,
    allowed: readonly T[],
    required = false,
  ): T | undefined {
    const code = this.string(value, path, required);
    if (code === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(code)) {
      this.add('value', path, `${path} '${code}' is not one of ${allowed.join(', ')}`);
      return undefined;
    }
    return code as T;
  }

  object(value: unknown, path: string, required = false): Json | undefined {
    if (value === undefined) {
      if (required) this.add('required', path, `${path} is required`);
      return undefined;
    }
    if (!isObject(value)) {
      this.add('structure', path, `${path} must be an object, not ${describe(value)}`);
      return undefined;
    }
    return value;
  }

  /** A repeating element: absent is empty; FHIR JSON always writes it as an array. */
  array(value: unknown, path: string): unknown[] {
    if (value === undefined) return [];
    if (!Array.isArray(value)) {
      this.add('structure', path, `${path} must be an array, not ${describe(value)}`);
      return [];
    }
    return value;
  }

  objects(value: unknown, path: string): [Json, string][] {
    return this.array(value, path).flatMap((item, i): [Json, string][] => {
      const itemPath = `${path}[${i}]`;
      const object = this.object(item, itemPath, true);
      return object ? [[object, itemPath]] : [];
    });
  }

  coding(value: Json, path: string): void {
    this.string(value['system'], `${path}.system`);
    this.string(value['code'], `${path}.code`);
    this.string(value['display'], `${path}.display`);
  }

  /** https://hl7.org/fhir/R4/datatypes.html#CodeableConcept */
  concept(value: unknown, path: string, required = false): Json | undefined {
    const concept = this.object(value, path, required);
    if (!concept) return undefined;
    for (const [coding, codingPath] of this.objects(concept['coding'], `${path}.coding`)) {
      this.coding(coding, codingPath);
    }
    this.string(concept['text'], `${path}.text`);
    return concept;
  }

  concepts(value: unknown, path: string): void {
    this.array(value, path).forEach((item, i) => this.concept(item, `${path}[${i}]`, true));
  }

  /** https://hl7.org/fhir/R4/datatypes.html#Quantity */
  quantity(value: unknown, path: string, options: { integer?: boolean } = {}): Json | undefined {
    const quantity = this.object(value, path);
    if (!quantity) return undefined;
    const amount = quantity['value'];
    if (amount === undefined) {
      this.add('required', `${path}.value`, `${path}.value is required`);
    } else if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0) {
      this.add('value', `${path}.value`, `${path}.value must be a non-negative number`);
    } else if (options.integer && !Number.isInteger(amount)) {
      this.add('value', `${path}.value`, `${path}.value must be a whole number`);
    }
    this.string(quantity['unit'], `${path}.unit`);
    this.string(quantity['system'], `${path}.system`);
    this.string(quantity['code'], `${path}.code`);
    return quantity;
  }

  /** https://hl7.org/fhir/R4/references.html#Reference: a reference, an identifier or a display. */
  reference(value: unknown, path: string): Json | undefined {
    const ref = this.object(value, path);
    if (!ref) return undefined;
    this.string(ref['reference'], `${path}.reference`);
    this.string(ref['display'], `${path}.display`);
    const identifier = this.object(ref['identifier'], `${path}.identifier`);
    if (identifier) {
      this.string(identifier['system'], `${path}.identifier.system`);
      this.string(identifier['value'], `${path}.identifier.value`, true);
    }
    if (
      ref['reference'] === undefined &&
      ref['display'] === undefined &&
      ref['identifier'] === undefined
    ) {
      this.add('required', path, `${path} needs a reference, an identifier or a display`);
    }
    return ref;
  }

  dateTime(value: unknown, path: string): string | undefined {
    const text = this.string(value, path);
    if (text === undefined) return undefined;
    if (!FHIR_DATE_TIME.test(text) || !dateRange(text)) {
      this.add(
        'value',
        path,
        `${path} must be a FHIR dateTime (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss with a time zone)`,
      );
      return undefined;
    }
    return text;
  }

  date(value: unknown, path: string): string | undefined {
    const text = this.string(value, path);
    if (text === undefined) return undefined;
    if (!FHIR_DATE.test(text) || !dateRange(text)) {
      this.add('value', path, `${path} must be a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD)`);
      return undefined;
    }
    return text;
  }

  resourceType(body: unknown, type: string): Json | undefined {
    if (!isObject(body)) {
      this.add('structure', type, `the body must be a ${type} resource (a JSON object)`);
      return undefined;
    }
    const declared = body['resourceType'];
    if (declared !== type) {
      this.add(
        'invalid',
        `${type}.resourceType`,
        typeof declared === 'string'
          ? `resourceType is '${declared}': this endpoint takes ${type} resources`
          : `resourceType is required and must be '${type}'`,
      );
      return undefined;
    }
    return body;
  }
}

function placerIdentifier(system: string, value: string): JsonObject {
  return {
    use: 'official',
    type: {
      coding: [{ system: IDENTIFIER_TYPE_SYSTEM, code: 'PLAC', display: 'Placer Identifier' }],
    },
    system,
    value,
  };
}

/** The content to store: what was sent, without the server's elements (id, meta). */
function storable(body: Json): JsonObject {
  const { id: _id, meta: _meta, ...rest } = toJsonObject(body);
  return rest;
}

/**
 * Checks an order the EHR creates and returns it ready to store. The rules:
 * - status `active` (an order to carry out now) and intent `order` or `original-order`;
 * - priority routine | urgent | asap | stat, `routine` when absent;
 * - a ServiceRequest has a LOINC coding (laboratory) or a CPT coding (imaging), as its category
 *   (SNOMED CT 108252007 / 363679005) says when it has one; a MedicationRequest has a
 *   medicationCodeableConcept with an RxNorm coding;
 * - subject is `Patient/<id>` (that the patient exists is the repository's check);
 * - authoredOn a FHIR dateTime, now when absent;
 * - identifiers well formed, at most one placer order number (system = placerOrderSystem), one
 *   generated when there is none (https://hl7.org/fhir/R4/servicerequest-definitions.html#ServiceRequest.identifier);
 * - requester, encounter, reasonCode, orderDetail, note, dosageInstruction and dispenseRequest
 *   well formed where present (they travel to the ancillary).
 */
export function validateOrder(
  resourceType: OrderResourceType,
  body: unknown,
  options: OrderValidationOptions,
): ValidationResult<ValidatedOrder> {
  const check = new Checker();
  const resource = check.resourceType(body, resourceType);
  if (!resource) return { ok: false, issues: check.issues };
  const P = resourceType;

  // Identifiers, and the placer order number among them.
  const placers: string[] = [];
  for (const [identifier, path] of check.objects(resource['identifier'], `${P}.identifier`)) {
    const system = check.string(identifier['system'], `${path}.system`);
    const value = check.string(identifier['value'], `${path}.value`, true);
    if (identifier['type'] !== undefined) check.concept(identifier['type'], `${path}.type`);
    if (system === options.placerOrderSystem && value !== undefined) placers.push(value);
  }
  if (placers.length > 1) {
    check.add(
      'invalid',
      `${P}.identifier`,
      `${P}.identifier has ${placers.length} placer order numbers (system ${options.placerOrderSystem}); an order has one`,
    );
  }

  // Status and intent: only an order to act on now can be placed.
  const statuses =
    resourceType === 'ServiceRequest' ? REQUEST_STATUSES : MEDICATION_REQUEST_STATUSES;
  const status = check.code(resource['status'], `${P}.status`, statuses, true);
  if (status !== undefined && status !== 'active') {
    check.add(
      'business-rule',
      `${P}.status`,
      `${P}.status is '${status}': only an active order can be placed (cancel a placed one with an update to '${CANCELLED_STATUS[resourceType]}')`,
    );
  }
  const intents = resourceType === 'ServiceRequest' ? REQUEST_INTENTS : MEDICATION_REQUEST_INTENTS;
  const intent = check.code(resource['intent'], `${P}.intent`, intents, true);
  if (intent !== undefined && !PLACEABLE_INTENTS.includes(intent)) {
    check.add(
      'business-rule',
      `${P}.intent`,
      `${P}.intent is '${intent}': only an order (intent order or original-order) is sent to an ancillary`,
    );
  }
  const priority =
    check.code(resource['priority'], `${P}.priority`, REQUEST_PRIORITIES) ??
    (resource['priority'] === undefined ? 'routine' : undefined);

  // What is ordered.
  check.concepts(resource['category'], `${P}.category`);
  if (resourceType === 'ServiceRequest') {
    const code = check.concept(resource['code'], `${P}.code`, true);
    if (code && !classifyOrder(resourceType, resource)) {
      const declared = declaredCategory(resource);
      check.add(
        'code-invalid',
        `${P}.code.coding`,
        declared === 'LABORATORY'
          ? `${P}.code needs a LOINC coding (system ${LOINC_SYSTEM}) for a laboratory order`
          : declared === 'IMAGING'
            ? `${P}.code needs a CPT coding (system ${CPT_SYSTEM}) for an imaging order`
            : `${P}.code needs a LOINC coding (system ${LOINC_SYSTEM}, laboratory) or a CPT coding (system ${CPT_SYSTEM}, imaging)`,
      );
    }
    check.concepts(resource['orderDetail'], `${P}.orderDetail`);
  } else {
    if (resource['medicationReference'] !== undefined) {
      check.add(
        'not-supported',
        `${P}.medicationReference`,
        `${P}.medicationReference is not supported: send the medication as medicationCodeableConcept with an RxNorm coding`,
      );
    }
    const medication = check.concept(
      resource['medicationCodeableConcept'],
      `${P}.medicationCodeableConcept`,
      resource['medicationReference'] === undefined,
    );
    if (medication && !classifyOrder(resourceType, resource)) {
      check.add(
        'code-invalid',
        `${P}.medicationCodeableConcept.coding`,
        `${P}.medicationCodeableConcept needs an RxNorm coding (system ${RXNORM_SYSTEM})`,
      );
    }
    for (const [dosage, path] of check.objects(
      resource['dosageInstruction'],
      `${P}.dosageInstruction`,
    )) {
      check.string(dosage['text'], `${path}.text`);
      const timing = check.object(dosage['timing'], `${path}.timing`);
      if (timing) check.concept(timing['code'], `${path}.timing.code`);
      check.concept(dosage['route'], `${path}.route`);
      for (const [rate, ratePath] of check.objects(dosage['doseAndRate'], `${path}.doseAndRate`)) {
        check.quantity(rate['doseQuantity'], `${ratePath}.doseQuantity`);
      }
    }
    const dispense = check.object(resource['dispenseRequest'], `${P}.dispenseRequest`);
    if (dispense) {
      const path = `${P}.dispenseRequest`;
      check.quantity(dispense['quantity'], `${path}.quantity`);
      const repeats = dispense['numberOfRepeatsAllowed'];
      if (
        repeats !== undefined &&
        (typeof repeats !== 'number' || !Number.isInteger(repeats) || repeats < 0)
      ) {
        check.add(
          'value',
          `${path}.numberOfRepeatsAllowed`,
          `${path}.numberOfRepeatsAllowed must be a non-negative whole number`,
        );
      }
      const duration = check.quantity(
        dispense['expectedSupplyDuration'],
        `${path}.expectedSupplyDuration`,
        { integer: true },
      );
      if (duration) {
        const unit = duration['code'] ?? duration['unit'];
        if (typeof unit === 'string' && !DAY_UNITS.has(unit.trim().toLowerCase())) {
          check.add(
            'value',
            `${path}.expectedSupplyDuration`,
            `${path}.expectedSupplyDuration must be in days (UCUM code d), not '${unit}'`,
          );
        }
      }
    }
  }

  // Whom for, by whom, when, why.
  const subject = check.object(resource['subject'], `${P}.subject`, true);
  let subjectId: string | undefined;
  if (subject) {
    const reference = check.string(subject['reference'], `${P}.subject.reference`, true);
    const match = reference ? PATIENT_REFERENCE.exec(reference) : null;
    if (reference !== undefined && !match) {
      check.add(
        'value',
        `${P}.subject.reference`,
        `${P}.subject.reference must reference a Patient of this server as Patient/<id>`,
      );
    }
    subjectId = match?.[1];
  }
  const authoredOn = check.dateTime(resource['authoredOn'], `${P}.authoredOn`);
  check.reference(resource['requester'], `${P}.requester`);
  check.reference(resource['encounter'], `${P}.encounter`);
  check.concepts(resource['reasonCode'], `${P}.reasonCode`);
  for (const [note, path] of check.objects(resource['note'], `${P}.note`)) {
    check.string(note['text'], `${path}.text`, true);
  }

  const classified = classifyOrder(resourceType, resource);
  if (check.issues.length > 0 || !classified || !subjectId || !priority) {
    return { ok: false, issues: check.issues };
  }
  const content = storable(resource);
  content['priority'] = priority;
  content['authoredOn'] = authoredOn ?? options.now.toISOString();
  const existing = placers[0];
  const placer = existing ?? (options.newPlacerNumber ?? newPlacerOrderNumber)(options.now);
  if (existing === undefined) {
    const identifiers: unknown[] = Array.isArray(content['identifier'])
      ? content['identifier']
      : [];
    content['identifier'] = [...identifiers, placerIdentifier(options.placerOrderSystem, placer)];
  }
  return {
    ok: true,
    value: {
      resourceType,
      resource: content,
      placer: {
        system: options.placerOrderSystem,
        value: placer,
        generated: existing === undefined,
      },
      subjectId,
      priority,
      category: classified.category,
      coding: classified.coding,
    },
  };
}

/**
 * Checks a Patient the EHR registers: at least one identifier with a system and a value (orders
 * are keyed and matched by it; https://hl7.org/fhir/R4/patient-definitions.html#Patient.identifier),
 * names, gender (administrative-gender) and birthDate well formed.
 */
export function validatePatient(body: unknown): ValidationResult<ValidatedPatient> {
  const check = new Checker();
  const resource = check.resourceType(body, 'Patient');
  if (!resource) return { ok: false, issues: check.issues };
  const identifiers: { system: string; value: string }[] = [];
  const entries = check.objects(resource['identifier'], 'Patient.identifier');
  if (
    resource['identifier'] === undefined ||
    (Array.isArray(resource['identifier']) && entries.length === 0)
  ) {
    check.add(
      'required',
      'Patient.identifier',
      'Patient.identifier is required: a patient needs an identifier (system and value), e.g. the MRN',
    );
  }
  for (const [identifier, path] of entries) {
    const system = check.string(identifier['system'], `${path}.system`, true);
    const value = check.string(identifier['value'], `${path}.value`, true);
    if (identifier['type'] !== undefined) check.concept(identifier['type'], `${path}.type`);
    if (system !== undefined && value !== undefined) identifiers.push({ system, value });
  }
  for (const [name, path] of check.objects(resource['name'], 'Patient.name')) {
    check.string(name['family'], `${path}.family`);
    check.array(name['given'], `${path}.given`).forEach((given, i) => {
      check.string(given, `${path}.given[${i}]`, true);
    });
    check.string(name['text'], `${path}.text`);
  }
  check.code(resource['gender'], 'Patient.gender', GENDERS);
  check.date(resource['birthDate'], 'Patient.birthDate');
  if (check.issues.length > 0) return { ok: false, issues: check.issues };
  return { ok: true, value: { resource: storable(resource), identifiers } };
}

/**
 * Checks the body of an update (PUT) of an order: the resource type of the URL, the id of the
 * URL (https://hl7.org/fhir/R4/http.html#update: otherwise 400) and a status of the order's
 * value set. What may change is the repository's decision, against the stored version.
 */
export function validateOrderUpdate(
  resourceType: OrderResourceType,
  id: string,
  body: unknown,
): ValidationResult<{ resource: JsonObject; status: string }> {
  const check = new Checker();
  const resource = check.resourceType(body, resourceType);
  if (!resource) return { ok: false, issues: check.issues };
  const bodyId = check.string(resource['id'], `${resourceType}.id`, true);
  if (bodyId !== undefined && (bodyId !== id || !FHIR_ID_PATTERN.test(bodyId))) {
    check.add(
      'invalid',
      `${resourceType}.id`,
      `${resourceType}.id '${bodyId}' does not match the id in the URL ('${id}')`,
    );
  }
  const statuses =
    resourceType === 'ServiceRequest' ? REQUEST_STATUSES : MEDICATION_REQUEST_STATUSES;
  const status = check.code(resource['status'], `${resourceType}.status`, statuses, true);
  if (check.issues.length > 0 || status === undefined) return { ok: false, issues: check.issues };
  return { ok: true, value: { resource: storable(resource), status } };
}
