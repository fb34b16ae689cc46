/**
 * OrderEvent → HL7 v2 order message: ORM^O01 (v2.3 – v2.5.1), OML^O21 (v2.5+) for labs and
 * RDE^O11 for pharmacies, new (ORC-1 NW) or cancelled (ORC-1 CA).
 *
 * Segment layouts follow the abstract message syntax of HL7 v2.5.1 ch. 4:
 * - ORM^O01 (4.4.1): MSH PID PV1 ORC [TQ1] OBR {NTE} {DG1}
 * - OML^O21 (4.4.6): MSH PID PV1 ORC TQ1 OBR {NTE} {DG1} {SPM}
 * - RDE^O11 (4A.3.4): MSH PID PV1 ORC RXO {NTE} [RXR] RXE TQ1 [RXR]
 * Priority travels the way each version expects it: ORC-7.6 / OBR-27.6 (TQ, and OBR-5 in v2.3)
 * up to v2.4, TQ1-9 from v2.5 where TQ was deprecated.
 * @see https://www.hl7.eu/HL7v2x/v251/std251/ch04.html
 * @see https://www.hl7.eu/HL7v2x/v251/std251/ch04a.html
 */
import type { OrderEvent } from '@ancillary/contracts';
import {
  formatHl7DateTime,
  SegmentWriter,
  Hl7Message,
  hl7Date,
  hl7Number,
  versionAtLeast,
  type Hl7Component,
  type Hl7Repetition,
} from '@ancillary/hl7-core';
import { hl7CodeSystemName } from '@ancillary/terminology';
import { mapOrderCodes, type OrderCodes, type OrderTerminology } from './order-codes';

export const ORDER_MESSAGE_FORMATS = ['ORM^O01', 'OML^O21', 'RDE^O11'] as const;
/** The message an ancillary takes orders as (MSH-9.1^9.2). */
export type OrderMessageFormat = (typeof ORDER_MESSAGE_FORMATS)[number];

export interface OrderMessageOptions {
  format: OrderMessageFormat;
  /** MSH-12, e.g. `2.3` or `2.5.1`. */
  version: string;
  /** The terminology facility whose tables map the codes (e.g. `NWH-LAB`). */
  facility: string;
  /** MSH-3 / MSH-4 (ours), e.g. `ANCILLARY-HUB` / `NWH`. */
  sendingApplication: string;
  sendingFacility: string;
  /** MSH-5 / MSH-6: the ancillary's application and facility (facilities.csv). */
  receivingApplication: string;
  receivingFacility: string;
  /** MSH-10: {@link orderControlId} of the event, so a resend carries the same id. */
  controlId: string;
  /** MSH-7 and ORC-9. */
  now: Date;
}

/** An order that the chosen message cannot carry (e.g. a lab order as RDE^O11). */
export class OrderEncodingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OrderEncodingError';
  }
}

/** HL7 table 0027 priority of a FHIR request-priority (`urgent` has no code of its own: ASAP). */
export type Hl7OrderPriority = 'S' | 'A' | 'R';

const PRIORITY_TEXT: Record<Hl7OrderPriority, string> = { S: 'Stat', A: 'ASAP', R: 'Routine' };

/**
 * stat → S, asap → A, urgent → A, routine (and anything else, and none) → R. Table 0027 codes
 * given as such are kept.
 * @see https://terminology.hl7.org/CodeSystem-v2-0027.html
 */
export function hl7OrderPriority(priority: string | null | undefined): Hl7OrderPriority {
  switch ((priority ?? '').trim().toLowerCase()) {
    case 'stat':
    case 's':
      return 'S';
    case 'asap':
    case 'urgent':
    case 'a':
      return 'A';
    default:
      return 'R';
  }
}

/** Maps the order's codes with the terminology, then composes the message. */
export function buildOrderMessage(
  order: OrderEvent,
  terminology: OrderTerminology,
  options: OrderMessageOptions,
): Hl7Message {
  return composeOrderMessage(order, mapOrderCodes(order, terminology, options.facility), options);
}

/**
 * Composes the message from codes already mapped ({@link mapOrderCodes}). Pure: the same event,
 * codes and options give the same bytes. MSH-18 is `UNICODE UTF-8` only when some text is not
 * ASCII (most receivers expect nothing there).
 * @throws OrderEncodingError when the format cannot carry the order's category.
 */
export function composeOrderMessage(
  order: OrderEvent,
  codes: OrderCodes,
  options: OrderMessageOptions,
): Hl7Message {
  const pharmacy = order.category === 'PHARMACY';
  if (pharmacy !== (options.format === 'RDE^O11')) {
    throw new OrderEncodingError(
      `a ${order.category} order cannot be sent as ${options.format}: ${pharmacy ? 'pharmacies take RDE^O11' : 'RDE^O11 carries medication orders only'}`,
    );
  }
  if (options.format === 'OML^O21' && !versionAtLeast(options.version, 2, 5)) {
    throw new OrderEncodingError(
      `OML^O21 needs HL7 v2.5 or later (SPM), not ${options.version}; use ORM^O01`,
    );
  }
  const ascii = compose(order, codes, options, '');
  // eslint-disable-next-line no-control-regex -- the ASCII range is the point
  return /^[\x00-\x7f]*$/.test(ascii.toString())
    ? ascii
    : compose(order, codes, options, 'UNICODE UTF-8');
}

function compose(
  order: OrderEvent,
  codes: OrderCodes,
  options: OrderMessageOptions,
  charset: string,
): Hl7Message {
  const v25 = versionAtLeast(options.version, 2, 5);
  // MSH-9.3 (message structure) exists from v2.3.1.
  const structure = versionAtLeast(options.version, 2, 4) || options.version.startsWith('2.3.1');
  const [code, event] = options.format.split('^') as [string, string];
  const message = Hl7Message.create({
    messageType: structure ? `${code}^${event}^${code}_${event}` : options.format,
    version: options.version,
    controlId: options.controlId,
    sendingApplication: options.sendingApplication,
    sendingFacility: options.sendingFacility,
    receivingApplication: options.receivingApplication,
    receivingFacility: options.receivingFacility,
    charset,
    now: options.now,
  });
  const w = new SegmentWriter(message);
  const priority = hl7OrderPriority(order.priority);

  writePatient(w, order);
  writeOrc(w, order, options, priority, v25);
  if (options.format === 'RDE^O11') {
    writePharmacyOrder(w, order, codes, priority, v25);
  } else {
    if (v25) w.add('TQ1', { 1: '1', 9: priorityCwe(priority) });
    writeObr(w, order, codes, options, priority, v25);
    writeNotes(w, order);
    order.reasons.forEach((reason, i) => {
      w.add('DG1', {
        1: String(i + 1),
        3: coded(reason.code, reason.display, reason.system),
        // DG1-4 (description) was deprecated in v2.5 in favour of DG1-3.2.
        ...(v25 ? {} : { 4: reason.display }),
        6: 'W', // table 0052: working diagnosis, the reason the order is placed for
      });
    });
    if (options.format === 'OML^O21') {
      order.specimenTypes.forEach((specimen, i) => {
        w.add('SPM', {
          1: String(i + 1),
          4: coded(specimen.code, specimen.display, specimen.system),
        });
      });
    }
  }
  return message;
}

/** PID and PV1: who the order is for, and the visit when the EHR gave one. */
function writePatient(w: SegmentWriter, order: OrderEvent): void {
  const p = order.patient;
  const [given, ...middle] = p.givenNames;
  w.add('PID', {
    1: '1',
    // PID-3: every identifier as CX: value ^^^ assigning authority (CX-4) ^ type (CX-5).
    3: {
      reps: p.identifiers.map((id): Hl7Repetition => [
        id.value,
        null,
        null,
        assigningAuthority(id.system),
        id.type,
      ]),
    },
    5:
      p.familyName || given ? [p.familyName, given, middle.join(' '), null, null, null, 'L'] : null,
    7: hl7Date(p.birthDate),
    8: p.administrativeSex,
    // PID-18 the account the work is billed to: the encounter's (one account per visit, as the
    // ancillary echoes it back on results and billing posts charges to it).
    18: order.encounterId,
  });
  // PV1-2 `O` (outpatient, table 0004): the order does not say; PV1-19 the visit when known.
  w.add('PV1', { 1: '1', 2: 'O', 19: order.encounterId });
}

function writeOrc(
  w: SegmentWriter,
  order: OrderEvent,
  options: OrderMessageOptions,
  priority: Hl7OrderPriority,
  v25: boolean,
): void {
  const frequency = order.medication?.frequency ?? null;
  w.add('ORC', {
    1: order.action === 'CANCEL' ? 'CA' : 'NW',
    2: placer(order, options),
    3: filler(order, options),
    // ORC-7 quantity/timing (TQ) until v2.4: TQ.2 interval (frequency), TQ.6 priority.
    ...(v25 ? {} : { 7: [null, frequency, null, null, null, priority] }),
    9: formatHl7DateTime(options.now),
    12: provider(order),
  });
}

function writeObr(
  w: SegmentWriter,
  order: OrderEvent,
  codes: OrderCodes,
  options: OrderMessageOptions,
  priority: Hl7OrderPriority,
  v25: boolean,
): void {
  const v23 = !versionAtLeast(options.version, 2, 4);
  const specimen = order.specimenTypes[0];
  w.add('OBR', {
    1: '1',
    2: placer(order, options),
    3: filler(order, options),
    4: outboundCe(codes),
    // OBR-5 (priority) was used in v2.3 only; it is "not used" from v2.4.
    ...(v23 ? { 5: priority } : {}),
    // ORM has no SPM: the specimen source (SPS.1) tells the lab what to collect. Deprecated in
    // v2.5 for SPM, but ORM^O01 has no other place for it.
    ...(specimen && options.format === 'ORM^O01'
      ? { 15: [[specimen.code, specimen.display, codeSystemName(specimen.system)]] }
      : {}),
    16: provider(order),
    ...(v25 ? {} : { 27: [null, null, null, null, null, priority] }),
    31: {
      reps: order.reasons.map((r) => coded(r.code, r.display, r.system)),
    },
  });
}

function writeNotes(w: SegmentWriter, order: OrderEvent): void {
  order.notes.forEach((note, i) => {
    // NTE-2 `P`: the placer is the source of the comment (table 0105); NTE-3 is FT.
    w.add('NTE', { 1: String(i + 1), 2: 'P', 3: { text: note } });
  });
}

/** RDE^O11: what is ordered (RXO), how it is given (RXR, TQ1), what is dispensed (RXE). */
function writePharmacyOrder(
  w: SegmentWriter,
  order: OrderEvent,
  codes: OrderCodes,
  priority: Hl7OrderPriority,
  v25: boolean,
): void {
  const m = order.medication;
  const formulary = codes.formulary;
  const doseUnit = m?.doseUnit ? [m.doseUnit, m.doseUnit, 'UCUM'] : null;
  const dispenseUnit = m?.quantityUnit ?? formulary?.dispenseUnit ?? null;
  const route = m?.route ? coded(m.route.code, m.route.display, m.route.system) : null;
  w.add('RXO', {
    1: outboundCe(codes),
    2: hl7Number(m?.doseValue),
    4: doseUnit,
    11: hl7Number(m?.quantityValue),
    12: dispenseUnit,
    13: m?.refills === null || m?.refills === undefined ? null : String(m.refills),
  });
  writeNotes(w, order);
  if (route) w.add('RXR', { 1: route });
  w.add('RXE', {
    // RXE-1 (TQ) until v2.4; TIMING_ENCODED (TQ1) from v2.5.
    ...(v25 ? {} : { 1: [null, m?.frequency ?? null, null, null, null, priority] }),
    2: formulary ? [formulary.ndc, formulary.ndcDisplay, 'NDC'] : outboundCe(codes),
    3: hl7Number(m?.doseValue),
    5: doseUnit,
    6: formulary ? [null, formulary.doseForm] : null,
    // RXE-7 provider's administration instructions (CE): the sig as text.
    7: m?.instructions ? [null, m.instructions] : null,
    10: hl7Number(m?.quantityValue),
    11: dispenseUnit,
    12: m?.refills === null || m?.refills === undefined ? null : String(m.refills),
  });
  if (v25) {
    // TQ1-3 repeat pattern (table 0335: BID, TID, Q8H…), TQ1-9 priority (table 0485).
    w.add('TQ1', { 1: '1', 3: m?.frequency ?? null, 9: priorityCwe(priority) });
  }
  if (route) w.add('RXR', { 1: route });
}

/** ORC-2 / OBR-2 (EI): the EHR's order number, namespaced by our application. */
function placer(order: OrderEvent, options: OrderMessageOptions): Hl7Component[] {
  return [order.placerOrderNumber, firstComponent(options.sendingApplication)];
}

/** ORC-3 / OBR-3 (EI): the ancillary's number, when it has given one (a cancel, a resend). */
function filler(order: OrderEvent, options: OrderMessageOptions): Hl7Component[] | null {
  return order.fillerOrderNumber
    ? [order.fillerOrderNumber, firstComponent(options.receivingApplication)]
    : null;
}

/**
 * ORC-12 / OBR-16 (XCN): id ^ family ^ given. A requester known only by a display name gets it
 * in the family-name component, the one name slot every receiver shows.
 * @see https://www.hl7.eu/HL7v2x/v251/std251/ch02a.html#Heading175 XCN
 */
function provider(order: OrderEvent): Hl7Repetition {
  const r = order.requester;
  if (!r) return null;
  const named = Boolean(r.familyName) || Boolean(r.givenName);
  return [r.identifier, named ? r.familyName : r.display, named ? r.givenName : null];
}

/** OBR-4 / RXO-1: local ^ display ^ local system ^ standard ^ display ^ LN | C4 | RXNORM. */
function outboundCe(codes: OrderCodes): Hl7Component[] {
  const c = codes.ordered;
  return [
    c.localCode,
    c.localDisplay,
    c.localSystem,
    c.code.code,
    c.code.display,
    codeSystemName(c.code.system),
  ];
}

function coded(code: string, display: string | null, system: string | null): Hl7Component[] {
  return [code, display, codeSystemName(system)];
}

/** Table 0396 name of a FHIR code system URI; an unknown URI is sent as it is (CE.3 is free). */
function codeSystemName(system: string | null): string | null {
  if (!system) return null;
  return hl7CodeSystemName(system) ?? system;
}

function priorityCwe(priority: Hl7OrderPriority): Hl7Component[] {
  return [priority, PRIORITY_TEXT[priority], 'HL70485'];
}

/**
 * CX-4 (HD): a URI system (`urn:oid:…`, `http://…`) as universal id with type `URI`, anything
 * else as the namespace id. Readers take HD.1, else HD.2, so both round-trip.
 */
function assigningAuthority(system: string | null): Hl7Component {
  if (!system) return null;
  return /^[a-z][a-z0-9+.-]*:/i.test(system) ? [null, system, 'URI'] : system;
}

function firstComponent(hd: string): string {
  return hd.split('^')[0] ?? '';
}
