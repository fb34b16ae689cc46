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

/**
 * One order of an ORM^O01, OML^O21, RDE^O11 or RDS^O13: the ORC and its detail segment(s)
 * — OBR for lab/radiology, RXO/RXE/RXD for pharmacy — with timing (TQ1/TQ2), routes (RXR),
 * components (RXC), notes, observations and specimens.
 */
export interface OrderGroup {
  orc?: Hl7Segment;
  obr?: Hl7Segment;
  rxo?: Hl7Segment;
  rxe?: Hl7Segment;
  rxd?: Hl7Segment;
  readonly timing: Hl7Segment[];
  readonly routes: Hl7Segment[];
  readonly components: Hl7Segment[];
  /** NTE of the order (after ORC, OBR, RXO, RXE or RXD; not those of an OBX). */
  readonly notes: Hl7Segment[];
  readonly observations: Observation[];
  readonly specimens: Specimen[];
  /** DG1, FT1, BLG, CTI, CTD, IN1… and Z-segments met inside the order. */
  readonly other: Hl7Segment[];
}

export interface OrderMessage {
  readonly header: Hl7Segment;
  readonly software: Hl7Segment[];
  /** NTE before the patient (message-level notes). */
  readonly notes: Hl7Segment[];
  readonly patient?: PatientGroup;
  readonly orders: OrderGroup[];
  readonly other: Hl7Segment[];
}

type DetailSlot = 'obr' | 'rxo' | 'rxe' | 'rxd';
const DETAIL: Record<string, DetailSlot> = { OBR: 'obr', RXO: 'rxo', RXE: 'rxe', RXD: 'rxd' };

/**
 * Groups an order message. An ORC always starts an order; an OBR/RXO/RXE/RXD starts one when
 * there is none yet or the current one already has that segment (senders that omit ORC).
 * NTE goes to the innermost open group: observation, order, patient, message. Throws
 * `Hl7ParseError` (`SEGMENT_SEQUENCE`) for segments that cannot belong anywhere (an OBX or
 * RXR before any order, a second PID).
 * @see HL7 v2.5.1 ch. 4.4.1 (ORM^O01), 4.4.6 (OML^O21), 4A.3.4 (RDE^O11), 4A.3.6 (RDS^O13)
 */
export function readOrders(message: Hl7Message): OrderMessage {
  const software: Hl7Segment[] = [];
  const notes: Hl7Segment[] = [];
  const other: Hl7Segment[] = [];
  const orders: OrderGroup[] = [];
  let patient: PatientGroup | undefined;
  let order: OrderGroup | undefined;
  let observation: Observation | undefined;
  let specimen: Specimen | undefined;

  const startOrder = (): OrderGroup => {
    const o: OrderGroup = {
      timing: [],
      routes: [],
      components: [],
      notes: [],
      observations: [],
      specimens: [],
      other: [],
    };
    orders.push(o);
    observation = undefined;
    specimen = undefined;
    return o;
  };

  for (const at of walk(message)) {
    const seg = at.segment;
    const slot = DETAIL[seg.name];
    if (slot) {
      if (!order || order[slot]) order = startOrder();
      order[slot] = seg;
      observation = undefined;
      specimen = undefined;
      continue;
    }
    switch (seg.name) {
      case 'SFT':
        if (patient || order) throw sequenceError(at, 'SFT must follow MSH');
        software.push(seg);
        break;
      case 'PID':
        if (patient || order) throw sequenceError(at, 'only one patient, before the orders');
        patient = newPatient(seg);
        break;
      case 'ORC':
        order = startOrder();
        order.orc = seg;
        break;
      case 'TQ1':
      case 'TQ2':
        if (!order) throw sequenceError(at, 'timing/quantity outside an order');
        order.timing.push(seg);
        break;
      case 'RXR':
        if (!order) throw sequenceError(at, 'RXR outside an order');
        order.routes.push(seg);
        observation = undefined;
        break;
      case 'RXC':
        if (!order) throw sequenceError(at, 'RXC outside an order');
        order.components.push(seg);
        observation = undefined;
        break;
      case 'OBX':
        if (!order) throw sequenceError(at, 'OBX outside an order');
        observation = newObservation(seg);
        (specimen ? specimen.observations : order.observations).push(observation);
        break;
      case 'SPM':
        if (!order) throw sequenceError(at, 'SPM outside an order');
        specimen = { spm: seg, observations: [], other: [] };
        order.specimens.push(specimen);
        observation = undefined;
        break;
      case 'NTE':
        if (observation) observation.notes.push(seg);
        else if (order) order.notes.push(seg);
        else if (patient) patient.notes.push(seg);
        else notes.push(seg);
        break;
      default:
        if (!order && patient && addToPatient(patient, seg)) break;
        (observation?.other ?? specimen?.other ?? order?.other ?? patient?.other ?? other).push(
          seg,
        );
    }
  }
  return {
    header: message.header,
    software,
    notes,
    ...(patient ? { patient } : {}),
    orders,
    other,
  };
}
