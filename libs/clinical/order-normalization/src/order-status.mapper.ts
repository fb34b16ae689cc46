/**
 * Order status the ancillaries send on their own — ORM^O01 / OML^O21 with ORC-1 `SC` (status
 * changed) and ORC-5, and application answers ORR^O02 / ORL^O22 / RRE^O12 — as
 * OrderStatusChanged events, one per order (ORC).
 * @see https://www.hl7.eu/HL7v2x/v251/std251/ch04.html#Heading24 ORC, tables 0119 and 0038
 */
import { orderStatusEventId, type OrderStatusChanged } from '@ancillary/contracts';
import { readOrders, type Hl7Message, type Hl7Segment, type OrderGroup } from '@ancillary/hl7-core';
import {
  Hl7MessageReader,
  fieldValue,
  notesOf,
  type Hl7MessageSource,
} from '@ancillary/lab-normalization';

export type OrderStatusCode = OrderStatusChanged['status'];

export interface OrderStatusOptions {
  /** IANA zone of the ancillary's clock, for ORC-9 / MSH-7 without an offset (default `UTC`). */
  readonly defaultTimeZone?: string;
}

/** Unsolicited order messages: their ORC-1 must say what happened to the order. */
export const ORDER_STATUS_MESSAGE_TYPES = ['ORM^O01', 'OML^O21'] as const;
/** Application answers to an order. */
export const ORDER_ANSWER_MESSAGE_TYPES = ['ORR^O02', 'ORL^O22', 'RRE^O12'] as const;
/** Every message type {@link orderStatusFromMessage} maps. */
export const STATUS_MESSAGE_TYPES: readonly string[] = [
  ...ORDER_STATUS_MESSAGE_TYPES,
  ...ORDER_ANSWER_MESSAGE_TYPES,
];

/** Whether MSH-9 (`TYPE^EVENT`, as the envelope has it) is a message the status mapper takes. */
export function isStatusMessageType(messageType: string): boolean {
  return STATUS_MESSAGE_TYPES.includes(messageType.toUpperCase());
}

/**
 * HL7 table 0038 order status (ORC-5) → the canonical status. `SC` (scheduled) and `A` (some,
 * not all, results available) are work in progress; `DC` (discontinued) ends the order like a
 * cancellation; `RP` (replaced) and `ER` (error, order not found) say nothing the EHR can act on.
 */
function fromOrderStatus(code: string): OrderStatusCode {
  switch (code.toUpperCase()) {
    case 'IP':
    case 'SC':
    case 'A':
      return 'IN_PROGRESS';
    case 'CM':
      return 'COMPLETED';
    case 'CA':
    case 'DC':
      return 'CANCELLED';
    case 'HD':
      return 'ON_HOLD';
    default:
      return 'UNKNOWN';
  }
}

/**
 * HL7 table 0119 order control (ORC-1) → the status it announces; undefined when the code is
 * not a status (NW, CA, XO… are requests, not news about an order). `SC` defers to ORC-5.
 */
function fromOrderControl(code: string, orderStatus: string): OrderStatusCode | undefined {
  switch (code.toUpperCase()) {
    case 'SC':
      return fromOrderStatus(orderStatus);
    case 'OK':
    case 'NA':
      return 'ACCEPTED';
    case 'UA':
    case 'UN':
      return 'REJECTED';
    case 'CR':
    case 'OC':
    case 'OD':
    case 'DR':
      return 'CANCELLED';
    case 'OH':
    case 'HR':
      return 'ON_HOLD';
    case 'OR':
    case 'RR':
      return 'ACCEPTED';
    default:
      return undefined;
  }
}

/**
 * Maps a status message to one `OrderStatusChanged` per order group (ORC), `eventId =
 * orderStatusEventId(sourceSystem, MSH-10, orderIndex, payloadDigest)`.
 *
 * - ORM^O01 / OML^O21 carry status news only with ORC-1 `SC` (status from ORC-5) or a filler's
 *   own control code (OC/OD cancelled, OH on hold…); an ORC-1 that asks for something (NW, CA,
 *   XO) is `unsupported-order-control`: orders come from the EHR, not from the ancillary.
 * - ORR^O02 / ORL^O22 / RRE^O12: MSA-1 `AR` or `CR` is REJECTED (reason: ERR-8, else ERR-3.2 /
 *   ERR-1.4.2, else MSA-3); `AE` / `CE` is an error the sender may retry, recorded as UNKNOWN
 *   with its reason rather than ending the order; `AA` / `CA` is what ORC-1 says (OK accepted,
 *   UA unable to accept → REJECTED, CR cancelled as requested, SC → ORC-5…), ACCEPTED when
 *   ORC-1 says nothing more.
 * - `placer/fillerOrderNumber`: ORC-2 / ORC-3, else OBR-2 / OBR-3; `patientIdentifier`: the
 *   first PID-3 value (the key); `occurredAt`: ORC-9, else MSH-7, else when it was received;
 *   `reason` for a status: ORC-16 text, else the order's NTE.
 *
 * @throws NormalizationError (permanent): `missing-patient-identifier` (an answer without PID
 *   cannot be keyed), `missing-order-number`, `unsupported-order-control`, `invalid-structure`…
 */
export function orderStatusFromMessage(
  message: Hl7Message,
  source: Hl7MessageSource,
  options: OrderStatusOptions = {},
): OrderStatusChanged[] {
  const reader = new Hl7MessageReader(message, options.defaultTimeZone ?? 'UTC');
  reader.requireMessageType(STATUS_MESSAGE_TYPES, 'an order status message');
  const answer = (ORDER_ANSWER_MESSAGE_TYPES as readonly string[]).includes(reader.messageType);
  const grouped = reader.groups(readOrders, reader.messageType);
  const orders = grouped.orders.filter((o) => o.orc);
  if (orders.length === 0) {
    throw reader.error(
      'invalid-structure',
      'the message has no ORC segment; an order status names its order in ORC',
      message.header,
      undefined,
    );
  }
  const patient = reader.patient(grouped.patient?.pid, orders[0]?.orc);
  const patientIdentifier = patient.identifiers[0]?.value ?? '';
  const msa = message.segment('MSA');
  const ackCode = answer ? fieldValue(msa, 1).toUpperCase() : '';
  if (answer && ackCode === '') {
    throw reader.error(
      'invalid-structure',
      'MSA-1 (acknowledgment code) is empty or MSA is missing; an answer must say whether the order was accepted',
      msa ?? message.header,
      msa ? 1 : undefined,
    );
  }
  const sentAt = reader.timestamp(message.header, 7);
  return grouped.orders.flatMap((order, orderIndex) => {
    const orc = order.orc;
    if (!orc) return [];
    reader.orderIndex = orderIndex;
    const { placer, filler } = reader.orderNumbers(orc, order.obr);
    const { status, reason } = answer
      ? answerStatus(message, ackCode, orc, order)
      : unsolicitedStatus(reader, orc, order);
    return [
      {
        eventId: orderStatusEventId(
          source.sourceSystem,
          message.controlId,
          orderIndex,
          source.payloadDigest,
        ),
        sourceSystem: source.sourceSystem,
        status,
        placerOrderNumber: placer,
        fillerOrderNumber: filler,
        orderEventId: null,
        orderResourceType: null,
        orderResourceId: null,
        patientIdentifier,
        ackCode: answer ? ackCode : null,
        reason,
        messageControlId: message.controlId,
        occurredAt: reader.timestamp(orc, 9) ?? sentAt ?? source.receivedAt,
      },
    ];
  });
}

function unsolicitedStatus(
  reader: Hl7MessageReader,
  orc: Hl7Segment,
  order: OrderGroup,
): { status: OrderStatusCode; reason: string | null } {
  const control = fieldValue(orc, 1);
  const status = fromOrderControl(control, fieldValue(orc, 5));
  if (status === undefined || status === 'ACCEPTED' || status === 'REJECTED') {
    throw reader.error(
      'unsupported-order-control',
      `ORC-1 "${control || '(empty)'}" is not order status news in an ${reader.messageType}; expected SC (status changed, with ORC-5) or OC, OD, OH, CR`,
      orc,
      1,
    );
  }
  return { status, reason: statusReason(orc, order) };
}

function answerStatus(
  message: Hl7Message,
  ackCode: string,
  orc: Hl7Segment,
  order: OrderGroup,
): { status: OrderStatusCode; reason: string | null } {
  switch (ackCode) {
    case 'AR':
    case 'CR':
      return { status: 'REJECTED', reason: errorText(message) };
    case 'AE':
    case 'CE':
      return { status: 'UNKNOWN', reason: errorText(message) };
    default: {
      const status = fromOrderControl(fieldValue(orc, 1), fieldValue(orc, 5)) ?? 'ACCEPTED';
      return {
        status,
        reason:
          status === 'REJECTED'
            ? (statusReason(orc, order) ?? errorText(message))
            : statusReason(orc, order),
      };
    }
  }
}

/** Why an answer refused: ERR-8 (user message), ERR-3.2, ERR-1.4.2 (v2.3), else MSA-3. */
function errorText(message: Hl7Message): string | null {
  const texts = message
    .segments('ERR')
    .map((err) => fieldValue(err, 8) || fieldValue(err, 3, 1, 2) || fieldValue(err, 1, 1, 4, 2))
    .filter((t) => t !== '');
  if (texts.length > 0) return texts.join('; ');
  const msa3 = fieldValue(message.segment('MSA'), 3);
  return msa3 === '' ? null : msa3;
}

/** ORC-16 (order control code reason: text, else code), else the order's notes. */
function statusReason(orc: Hl7Segment, order: OrderGroup): string | null {
  const reason = fieldValue(orc, 16, 1, 2) || fieldValue(orc, 16, 1, 1);
  if (reason !== '') return reason;
  const notes = notesOf(order.notes);
  return notes.length > 0 ? notes.join('\n') : null;
}
