import { Hl7ParseError } from './hl7.errors';
import type { Hl7Message } from './hl7-message';
import type { Hl7Segment } from './hl7-segment';
import {
  addToPatient,
  newObservation,
  newPatient,
  sequenceError,
  walk,
  type Observation,
  type PatientGroup,
  type Specimen,
} from './message.groups';

/** ORDER_OBSERVATION: [ORC] OBR [NTE] [TQ1/TQ2] [CTD] {OBX [NTE]} [FT1] [CTI] {SPM [OBX]}. */
export interface OrderObservation {
  readonly orc?: Hl7Segment;
  readonly obr: Hl7Segment;
  readonly notes: Hl7Segment[];
  readonly timing: Hl7Segment[];
  readonly observations: Observation[];
  readonly specimens: Specimen[];
  /** CTD, FT1, CTI, Z-segments… */
  readonly other: Hl7Segment[];
}

/** PATIENT_RESULT: [PATIENT] {ORDER_OBSERVATION}. */
export interface PatientResult {
  readonly patient?: PatientGroup;
  readonly orders: OrderObservation[];
}

/** ORU^R01 as groups (v2.5.1 ch. 7.3.1; v2.3 has the same shape without SFT/TQ1/SPM). */
export interface OruR01 {
  readonly header: Hl7Segment;
  readonly software: Hl7Segment[];
  readonly patientResults: PatientResult[];
  /** DSC and anything before the first patient/order. */
  readonly other: Hl7Segment[];
}

interface OrderDraft {
  orc?: Hl7Segment;
  obr?: Hl7Segment;
  orcAt?: { segment: Hl7Segment; occurrence: number; position: number };
  notes: Hl7Segment[];
  timing: Hl7Segment[];
  observations: Observation[];
  specimens: Specimen[];
  other: Hl7Segment[];
}

/**
 * Groups an ORU^R01 (or any ORU^R0x with the same structure): patient → order (ORC/OBR) →
 * observations (OBX + NTE), with specimens (SPM + OBX). Throws `Hl7ParseError`
 * (`SEGMENT_SEQUENCE`, table 0357 code 100) when the order cannot be made out — an OBX before
 * any OBR, an ORC without OBR — rather than returning a partial result.
 * @see https://www.hl7.eu/HL7v2x/v251/std251/ch07.html#Heading17 ORU^R01 structure
 */
export function readOruR01(message: Hl7Message): OruR01 {
  const code = message.header.get(9) ?? '';
  if (code !== 'ORU') {
    throw new Hl7ParseError('MESSAGE_TYPE', `Expected an ORU message, got ${message.messageType}`, {
      segment: 'MSH',
      segmentIndex: 1,
      position: 1,
      field: 9,
      hl7ErrorCode: '200',
    });
  }
  const software: Hl7Segment[] = [];
  const other: Hl7Segment[] = [];
  const results: { patient?: PatientGroup; orders: OrderDraft[] }[] = [];
  let result: { patient?: PatientGroup; orders: OrderDraft[] } | undefined;
  let order: OrderDraft | undefined;
  let observation: Observation | undefined;
  let specimen: Specimen | undefined;

  const startResult = (
    patient?: PatientGroup,
  ): { patient?: PatientGroup; orders: OrderDraft[] } => {
    const r = patient ? { patient, orders: [] } : { orders: [] };
    results.push(r);
    return r;
  };
  const startOrder = (): OrderDraft => {
    result ??= startResult();
    const draft: OrderDraft = {
      notes: [],
      timing: [],
      observations: [],
      specimens: [],
      other: [],
    };
    result.orders.push(draft);
    observation = undefined;
    specimen = undefined;
    return draft;
  };

  for (const at of walk(message)) {
    const seg = at.segment;
    switch (seg.name) {
      case 'SFT':
        if (result) throw sequenceError(at, 'SFT must follow MSH');
        software.push(seg);
        break;
      case 'PID':
        result = startResult(newPatient(seg));
        order = undefined;
        observation = undefined;
        specimen = undefined;
        break;
      case 'PD1':
      case 'NK1':
      case 'PV1':
      case 'PV2':
        if (!result?.patient || order || !addToPatient(result.patient, seg)) {
          throw sequenceError(
            at,
            'expected within the patient group, after PID and before ORC/OBR',
          );
        }
        break;
      case 'ORC':
        order = startOrder();
        order.orc = seg;
        order.orcAt = at;
        break;
      case 'OBR':
        if (!order || order.obr) order = startOrder();
        order.obr = seg;
        observation = undefined;
        specimen = undefined;
        break;
      case 'TQ1':
      case 'TQ2':
        if (!order?.obr || observation || specimen) {
          throw sequenceError(at, 'timing/quantity must follow OBR');
        }
        order.timing.push(seg);
        break;
      case 'OBX':
        if (!order?.obr) throw sequenceError(at, 'OBX before any OBR');
        observation = newObservation(seg);
        (specimen ? specimen.observations : order.observations).push(observation);
        break;
      case 'SPM':
        if (!order?.obr) throw sequenceError(at, 'SPM before any OBR');
        specimen = { spm: seg, observations: [], other: [] };
        order.specimens.push(specimen);
        observation = undefined;
        break;
      case 'NTE':
        if (observation) observation.notes.push(seg);
        else if (order) order.notes.push(seg);
        else if (result?.patient) result.patient.notes.push(seg);
        else other.push(seg);
        break;
      default:
        (
          observation?.other ??
          specimen?.other ??
          order?.other ??
          result?.patient?.other ??
          other
        ).push(seg);
    }
  }

  const patientResults: PatientResult[] = [];
  for (const r of results) {
    const orders: OrderObservation[] = [];
    for (const o of r.orders) {
      if (!o.obr) {
        throw o.orcAt ? sequenceError(o.orcAt, 'ORC without OBR') : new Error('unreachable');
      }
      orders.push({
        ...(o.orc ? { orc: o.orc } : {}),
        obr: o.obr,
        notes: o.notes,
        timing: o.timing,
        observations: o.observations,
        specimens: o.specimens,
        other: o.other,
      });
    }
    if (orders.length === 0) {
      throw new Hl7ParseError('SEGMENT_SEQUENCE', 'ORU patient group without any OBR', {
        segment: 'PID',
        hl7ErrorCode: '100',
      });
    }
    patientResults.push(r.patient ? { patient: r.patient, orders } : { orders });
  }
  if (patientResults.length === 0) {
    throw new Hl7ParseError('SEGMENT_SEQUENCE', 'ORU message without any OBR', {
      segment: 'OBR',
      hl7ErrorCode: '100',
    });
  }
  return { header: message.header, software, patientResults, other };
}

/** Every observation of an ORU, flattened in message order, with its order and patient. */
export function* oruObservations(
  oru: OruR01,
): Generator<{ observation: Observation; order: OrderObservation; patient?: PatientGroup }> {
  for (const result of oru.patientResults) {
    for (const order of result.orders) {
      for (const observation of order.observations) {
        yield result.patient
          ? { observation, order, patient: result.patient }
          : { observation, order };
      }
    }
  }
}
