/**
 * The messages an order-receiving ancillary sends about an order, other than its results:
 *
 * - the application acknowledgment of an order message: ORR^O02 for ORM^O01 (HL7 v2.5.1
 *   4.4.2), ORL^O22 for OML^O21 (4.4.7), RRE^O12 for RDE^O11 (4A.3.5) — MSA (AA / AR / AE / CE,
 *   MSA-2 the order's MSH-10), ERR with the reason, and per order an ORC: ORC-1 OK (accepted),
 *   CR (cancelled as requested), UA (unable to accept), UC (unable to cancel); ORC-2 the placer
 *   number echoed, ORC-3 the filler number the ancillary assigned;
 *   https://www.hl7.eu/HL7v2x/v251/std251/ch04.html#Heading18 (ORC-1, table 0119)
 * - an unsolicited status update: ORM^O01 with ORC-1 SC and ORC-5 the order status (table 0038,
 *   IP in process), as LIS and RIS send when work on an order starts.
 *
 * The acknowledgment is built on hl7-core's `buildAck` (same version, charset and delimiters as
 * the order, ERR in the version's form), then typed and given its order segments.
 */
import {
  buildAck,
  formatHl7DateTime,
  Hl7Message,
  type AckCode,
  type AckError,
  type OrderGroup,
} from '@ancillary/hl7-core';
import { copySegment, translateRaw, type ReceivedOrderMessage } from './received-order.reader';

/** The application acknowledgment of an order message type (MSH-9.1^9.2 and structure). */
export function orderAnswerTypeFor(
  messageType: string,
): { messageType: string; structure: string } | undefined {
  switch (messageType) {
    case 'ORM^O01':
      return { messageType: 'ORR^O02', structure: 'ORR_O02' };
    case 'OML^O21':
      return { messageType: 'ORL^O22', structure: 'ORL_O22' };
    case 'RDE^O11':
      return { messageType: 'RRE^O12', structure: 'RRE_O12' };
    default:
      return undefined;
  }
}

/** ORC-1 values of an answer (table 0119). */
export type AnswerOrderControl = 'OK' | 'CR' | 'UA' | 'UC';

export interface OrderAnswerLine {
  readonly orderControl: AnswerOrderControl;
  /** Index into the received message's groups / lines. */
  readonly line: number;
  /** ORC-3.1; null when none was assigned (a rejected new order). */
  readonly fillerOrderNumber: string | null;
}

export interface OrderAnswerOptions {
  readonly code: AckCode;
  /** MSA-3 (up to v2.6). */
  readonly text?: string;
  readonly errors?: readonly AckError[];
  /** MSH-3 / MSH-4 (and ORC-3.2, the filler's namespace): the ancillary. */
  readonly sendingApplication: string;
  readonly sendingFacility: string;
  /** One ORC per line; none for AE/CE (nothing was processed). */
  readonly lines: readonly OrderAnswerLine[];
  readonly now?: Date;
  /** MSH-10; default a new unique id. */
  readonly controlId?: string;
}

/**
 * The application acknowledgment of a received order message; a plain ACK when the message
 * type has none (see {@link orderAnswerTypeFor}).
 */
export function buildOrderAnswer(
  received: ReceivedOrderMessage,
  options: OrderAnswerOptions,
): Hl7Message {
  const { message } = received;
  const answer = buildAck(message, options.code, {
    errors: [...(options.errors ?? [])],
    ...(options.text === undefined ? {} : { text: options.text }),
    ...(options.now ? { now: options.now } : {}),
    ...(options.controlId === undefined ? {} : { controlId: options.controlId }),
  });
  answer.set('MSH-3', options.sendingApplication).set('MSH-4', options.sendingFacility);
  const type = orderAnswerTypeFor(message.messageType);
  if (!type) return answer;
  const [code = '', event = ''] = type.messageType.split('^');
  answer.set(
    'MSH-9',
    structureAllowed(message.version) ? [code, event, type.structure] : [code, event],
  );
  if (options.lines.length === 0) return answer;
  if (received.pid) copySegment(answer, received.pid);
  const now = formatHl7DateTime(options.now ?? new Date());
  for (const line of options.lines) {
    const group = received.groups[line.line];
    const ordered = received.content.lines[line.line];
    if (!group || !ordered) continue;
    const placer = [ordered.placerOrderNumber, ordered.placerNamespace];
    const filler = line.fillerOrderNumber
      ? [line.fillerOrderNumber, options.sendingApplication]
      : '';
    answer.addSegment('ORC', [
      line.orderControl,
      placer,
      filler,
      '',
      line.orderControl === 'CR' ? 'CA' : '',
      '',
      '',
      '',
      now,
    ]);
    echoDetail(answer, group, placer, filler);
  }
  return answer;
}

export interface OrderStatusUpdateOptions {
  /** ORC-5, table 0038: IP in process, SC scheduled, CM completed, CA cancelled, HD on hold. */
  readonly status: 'IP' | 'SC' | 'CM' | 'CA' | 'HD';
  readonly line: number;
  readonly fillerOrderNumber: string;
  /** MSH-12 of the update (the ancillary's own version). */
  readonly version: string;
  readonly controlId: string;
  readonly sendingApplication: string;
  readonly sendingFacility: string;
  readonly receivingApplication: string;
  readonly receivingFacility: string;
  readonly now?: Date;
}

/**
 * An unsolicited order status update (ORM^O01, ORC-1 SC "status changed", ORC-5 the status),
 * for one order of a received message: its patient, placer and filler numbers, and the
 * order's detail segment (OBR, or RXO for a pharmacy).
 * @see https://www.hl7.eu/HL7v2x/v251/std251/ch04.html#Heading25 (ORC-5, table 0038)
 */
export function buildOrderStatusUpdate(
  received: ReceivedOrderMessage,
  options: OrderStatusUpdateOptions,
): Hl7Message {
  const now = options.now ?? new Date();
  const update = Hl7Message.create({
    messageType: structureAllowed(options.version) ? 'ORM^O01^ORM_O01' : 'ORM^O01',
    version: options.version,
    controlId: options.controlId,
    sendingApplication: options.sendingApplication,
    sendingFacility: options.sendingFacility,
    receivingApplication: options.receivingApplication,
    receivingFacility: options.receivingFacility,
    charset: options.version === '2.3' ? '8859/1' : 'UNICODE UTF-8',
    now,
  });
  if (received.pid) copySegment(update, received.pid);
  if (received.pv1) copySegment(update, received.pv1);
  const group = received.groups[options.line];
  const ordered = received.content.lines[options.line];
  if (!group || !ordered) throw new RangeError(`no order ${options.line} in the received message`);
  const placer = [ordered.placerOrderNumber, ordered.placerNamespace];
  const filler = [options.fillerOrderNumber, options.sendingApplication];
  update.addSegment('ORC', [
    'SC',
    placer,
    filler,
    '',
    options.status,
    '',
    '',
    '',
    formatHl7DateTime(now),
  ]);
  if (group.obr) {
    echoDetail(update, group, placer, filler);
  } else if (group.rxo) {
    copySegment(update, group.rxo);
  }
  return update;
}

/**
 * The order's detail segment in an answer: an OBR with the placer and filler numbers and the
 * ordered code (OBR-4) as received; for a pharmacy the RXE and its RXR as received.
 */
function echoDetail(
  target: Hl7Message,
  group: OrderGroup,
  placer: readonly string[],
  filler: readonly string[] | string,
): void {
  if (group.obr) {
    const obr = target.addSegment('OBR', ['1', placer, filler]);
    const code = group.obr.getRaw(4);
    if (code) obr.setRaw(4, translateRaw(code, group.obr.delimiters, target.delimiters));
  } else if (group.rxe) {
    copySegment(target, group.rxe);
    for (const route of distinctRoutes(group)) copySegment(target, route);
  }
}

/**
 * The order's RXR segments without repeats: an RDE^O11 may state the route twice, after RXO
 * (what is ordered) and after RXE (what is given).
 */
export function distinctRoutes(group: OrderGroup): OrderGroup['routes'] {
  const seen = new Set<string>();
  return group.routes.filter((route) => {
    const text = route.toString();
    if (seen.has(text)) return false;
    seen.add(text);
    return true;
  });
}

/** MSH-9.3 (message structure) exists from v2.3.1 on. */
function structureAllowed(version: string): boolean {
  const [major = 0, minor = 0, patch = 0] = version
    .split('.')
    .map((p) => Number.parseInt(p, 10) || 0);
  return major > 2 || (major === 2 && (minor > 3 || (minor === 3 && patch >= 1)));
}
