/**
 * What a simulated ancillary reads from an order message it receives (ORM^O01, OML^O21,
 * RDE^O11): per ORC group the order control, placer and filler numbers, the ordered code and
 * the priority; the patient's MRN. Plus the small HL7 helpers the simulators share: copying a
 * segment into a message with other delimiters, the components and codings of a field.
 */
import {
  escapeValue,
  readOrders,
  type Hl7Delimiters,
  type Hl7Message,
  type Hl7Segment,
  type OrderGroup,
} from '@ancillary/hl7-core';

/** One coding of a CE/CWE: a triplet code ^ display ^ system. */
export interface ReceivedCoding {
  readonly code: string;
  readonly display: string | null;
  /** The coding-system name as sent (table 0396: `L`, `LN`, `C4`, `RXNORM`, `NDC`…). */
  readonly system: string | null;
}

/** One order of a received message (one ORC group). */
export interface ReceivedOrderLine {
  /** ORC-1 (table 0119): NW new, CA cancel, … */
  readonly orderControl: string;
  /** ORC-2.1 (else OBR-2.1). */
  readonly placerOrderNumber: string;
  /** ORC-2.2 (else OBR-2.2), the placer's namespace, e.g. `ANCILLARY-HUB`. */
  readonly placerNamespace: string;
  /** ORC-3.1 (else OBR-3.1) as sent: known on a cancel of an order already accepted. */
  readonly fillerOrderNumber: string | null;
  /** The first coding of OBR-4 (lab, imaging) or RXO-1, else RXE-2 (pharmacy). */
  readonly code: string;
  readonly codeSystem: string | null;
  /** Every coding of OBR-4 / RXO-1 / RXE-2 (primary and alternate triplets). */
  readonly codings: readonly ReceivedCoding[];
  /** OBR-4 (or RXO-1 / RXE-2) components exactly as received, to echo in results. */
  readonly orderCode: readonly string[];
  /** HL7 table 0027 priority: TQ1-9.1, else OBR-27.6 / ORC-7.6 / RXE-1.6, else OBR-5; default R. */
  readonly priority: string;
  /** TQ1-9 components as received (v2.5+), to echo in results. */
  readonly timingPriority: readonly string[] | null;
  /** Priority S (stat). */
  readonly stat: boolean;
}

export interface ReceivedOrderContent {
  /** MSH-10. */
  readonly controlId: string;
  /** MSH-9.1^MSH-9.2, e.g. `ORM^O01`. */
  readonly messageType: string;
  /** MSH-12. */
  readonly version: string;
  /** MSH-3.1 / MSH-4.1 of the sender (the gateway). */
  readonly sendingApplication: string;
  readonly sendingFacility: string;
  /** PID-3.1 of the repetition typed MR (CX-5), else of the first; null without a PID. */
  readonly patientMrn: string | null;
  readonly lines: readonly ReceivedOrderLine[];
}

/** A received order message with the segments the simulators build their answers from. */
export interface ReceivedOrderMessage {
  readonly content: ReceivedOrderContent;
  readonly message: Hl7Message;
  readonly pid: Hl7Segment | undefined;
  readonly pv1: Hl7Segment | undefined;
  /** The ORC groups, parallel to `content.lines`. */
  readonly groups: readonly OrderGroup[];
}

/**
 * Reads an order message. Throws Hl7ParseError when its segments are out of order (see
 * `readOrders`), and a plain Error when it has no order at all.
 */
export function readReceivedOrder(message: Hl7Message): ReceivedOrderMessage {
  const grouped = readOrders(message);
  const groups = grouped.orders.filter((g) => g.orc ?? g.obr ?? g.rxo ?? g.rxe);
  if (groups.length === 0)
    throw new Error('the message carries no order (no ORC, OBR, RXO or RXE)');
  const pid = grouped.patient?.pid;
  return {
    content: {
      controlId: message.controlId,
      messageType: message.messageType,
      version: message.version,
      sendingApplication: message.get('MSH-3') ?? '',
      sendingFacility: message.get('MSH-4') ?? '',
      patientMrn: pid ? mrnOf(pid) : null,
      lines: groups.map(readLine),
    },
    message,
    pid,
    pv1: grouped.patient?.pv1,
    groups,
  };
}

function readLine(group: OrderGroup): ReceivedOrderLine {
  const { orc, obr, rxo, rxe } = group;
  const coded = obr ? [obr, 4] : rxo ? [rxo, 1] : rxe ? [rxe, 2] : undefined;
  const codings = [
    ...(obr ? codingsOf(obr, 4) : []),
    ...(rxo ? codingsOf(rxo, 1) : []),
    ...(rxe ? codingsOf(rxe, 2) : []),
  ];
  const first = codings[0];
  const tq1 = group.timing.find((s) => s.name === 'TQ1' && nonEmpty(s.get(9)));
  const priority = (
    firstNonEmpty(
      tq1?.get(9),
      obr?.get(27, 1, 6),
      orc?.get(7, 1, 6),
      rxe?.get(1, 1, 6),
      obr?.get(5),
    ) ?? 'R'
  ).toUpperCase();
  return {
    orderControl: (orc?.get(1) ?? 'NW').toUpperCase() || 'NW',
    placerOrderNumber: firstNonEmpty(orc?.get(2), obr?.get(2)) ?? '',
    placerNamespace: firstNonEmpty(orc?.get(2, 1, 2), obr?.get(2, 1, 2)) ?? '',
    fillerOrderNumber: firstNonEmpty(orc?.get(3), obr?.get(3)) ?? null,
    code: first?.code ?? '',
    codeSystem: first?.system ?? null,
    codings,
    orderCode: coded ? componentsOf(coded[0] as Hl7Segment, coded[1] as number) : [],
    priority,
    timingPriority: tq1 ? componentsOf(tq1, 9) : null,
    stat: priority === 'S',
  };
}

/** PID-3.1 of the repetition with identifier type MR, else of the first repetition. */
export function mrnOf(pid: Hl7Segment): string | null {
  const count = pid.repetitionCount(3);
  for (let r = 1; r <= count; r++) {
    if ((pid.get(3, r, 5) ?? '').toUpperCase() === 'MR' && nonEmpty(pid.get(3, r, 1))) {
      return pid.get(3, r, 1) ?? null;
    }
  }
  return firstNonEmpty(pid.get(3)) ?? null;
}

/** The decoded components of a field's first repetition, trailing empty ones dropped. */
export function componentsOf(segment: Hl7Segment, field: number): string[] {
  const raw = segment.getRaw(field, 1);
  if (raw === undefined || raw === '') return [];
  const count = raw.split(segment.delimiters.component).length;
  const out: string[] = [];
  for (let c = 1; c <= count; c++) out.push(segment.get(field, 1, c) ?? '');
  while (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out;
}

/** Every CE/CWE triplet of a field (primary and alternate, every repetition). */
export function codingsOf(segment: Hl7Segment, field: number): ReceivedCoding[] {
  const out: ReceivedCoding[] = [];
  const reps = Math.max(1, segment.repetitionCount(field));
  for (let r = 1; r <= reps; r++) {
    for (const offset of [0, 3]) {
      const code = segment.get(field, r, 1 + offset) ?? '';
      if (code === '') continue;
      out.push({
        code,
        display: firstNonEmpty(segment.get(field, r, 2 + offset)) ?? null,
        system: firstNonEmpty(segment.get(field, r, 3 + offset)) ?? null,
      });
    }
  }
  return out;
}

/**
 * Appends a copy of `source` (a segment of another message) to `target`, its encoded text
 * translated to the target's delimiters: the fields stay exactly as the sender encoded them.
 * `fields` limits the copy to the first n fields; `index` inserts it there (0-based) instead of
 * appending it.
 */
export function copySegment(
  target: Hl7Message,
  source: Hl7Segment,
  options: { name?: string; fields?: number; index?: number } = {},
): Hl7Segment {
  const segment = target.addSegment(options.name ?? source.name, [], options.index);
  const count = Math.min(source.fieldCount, options.fields ?? Number.MAX_SAFE_INTEGER);
  for (let f = 1; f <= count; f++) {
    const raw = source.getRaw(f);
    if (raw) segment.setRaw(f, translateRaw(raw, source.delimiters, target.delimiters));
  }
  return segment;
}

/**
 * Encoded text re-encoded for other delimiters: each delimiter of `from` becomes the same role's
 * delimiter of `to`, and a character that is a delimiter only in `to` becomes its escape
 * sequence. Escape sequences (`\F\`, `\.br\`, `\X0D\`) name roles, not characters, so they stay.
 */
export function translateRaw(raw: string, from: Hl7Delimiters, to: Hl7Delimiters): string {
  if (
    from.field === to.field &&
    from.component === to.component &&
    from.repetition === to.repetition &&
    from.escape === to.escape &&
    from.subcomponent === to.subcomponent
  ) {
    return raw;
  }
  const roles = new Map<string, string>([
    [from.component, to.component],
    [from.repetition, to.repetition],
    [from.subcomponent, to.subcomponent],
    [from.escape, to.escape],
    [from.field, to.field],
  ]);
  let out = '';
  for (const ch of raw) {
    const mapped = roles.get(ch);
    out += mapped ?? escapeValue(ch, to);
  }
  return out;
}

function nonEmpty(value: string | undefined): value is string {
  return value !== undefined && value !== '' && value !== '""';
}

function firstNonEmpty(...values: (string | undefined)[]): string | undefined {
  return values.find(nonEmpty);
}
