/**
 * A seeded generator of laboratory result traffic as an LIS sends it: ORU^R01 (v2.5.1, or v2.3)
 * with one ORC/OBR order group per message, built and escaped by @ancillary/hl7-core.
 *
 * Variety, all from the lab catalogue (the terminology table):
 * - panels and single tests with several OBX each; numeric values drawn around the reference
 *   range, some low or high (L/H), some critical (LL/HH, beyond the critical range when the
 *   terminology has one); structured numerics with `>`/`<` now and then; coded (CWE/CE) and
 *   string results for urinalysis; an NTE comment on the order or an observation now and then;
 * - corrections: an order already sent, sent again with OBR-25 and the changed OBX-11 `C`, a
 *   changed value and a new MSH-10;
 * - exact duplicates: the same bytes (same MSH-10) sent again, as after a lost ACK;
 * - malformed messages (broken MSH, a message cut off inside a segment, garbage), which the
 *   gateway must answer AR;
 * - results carrying a local code that is not in the table, which the gateway accepts and the
 *   normalizer sends to the dead-letter topic.
 *
 * Every item says what it is and what should become of it, so tests and benchmarks can check
 * the platform's answers. The same seed and run id give the same bytes; the run id is part of
 * every MSH-10 and order number, so two runs never look like resends to the gateway's dedupe.
 */
import { Hl7Message, type AckCode } from '@ancillary/hl7-core';
import { Buffer } from 'node:buffer';
import {
  DEFAULT_ORDER_WEIGHT,
  ORDER_MIX_BY_LOINC,
  validateLabCatalogue,
  type LabCatalogue,
  type LabTestDefinition,
  type OrderableDefinition,
} from './lab-catalogue';
import { SeededRandom } from './seeded-random';
import {
  createPatientPool,
  createProviderPool,
  type OrderingProvider,
  type SyntheticPatient,
} from './synthetic-patients';

export type GeneratedKind = 'result' | 'correction' | 'duplicate' | 'malformed' | 'unmapped';
export type Malformation = 'bad-msh' | 'truncated' | 'garbage';
export type SimHl7Version = '2.5.1' | '2.3';
/** OBX-8 flags the generator writes (HL7 table 0078); '' is a normal value. */
export type SimAbnormalFlag = '' | 'L' | 'H' | 'LL' | 'HH' | 'A';

/** Shares of the stream (0–1); what is left over is plain results. */
export interface TrafficMix {
  corrections: number;
  duplicates: number;
  malformed: number;
  unmapped: number;
  /** Share of result, correction and unmapped messages that carry a critical value. */
  critical: number;
}

export const DEFAULT_TRAFFIC_MIX: Readonly<TrafficMix> = Object.freeze({
  corrections: 0.04,
  duplicates: 0.02,
  malformed: 0.01,
  unmapped: 0.01,
  critical: 0.05,
});

/** Plain results only: what a benchmark wants. */
export const RESULTS_ONLY_MIX: Readonly<TrafficMix> = Object.freeze({
  corrections: 0,
  duplicates: 0,
  malformed: 0,
  unmapped: 0,
  critical: 0.05,
});

export interface LisTrafficOptions {
  catalogue: LabCatalogue;
  seed: number;
  /**
   * 1–8 characters [A-Z0-9] in every MSH-10 and order number; default derived from the seed.
   * Give each run its own (the CLI does) unless the point is to resend the same traffic.
   */
  runId?: string;
  /** MSH-12; default 2.5.1. v2.3 messages are Latin-1 (MSH-18 `8859/1`), v2.5.1 UTF-8. */
  version?: SimHl7Version;
  mix?: Partial<TrafficMix>;
  /** Size of the synthetic patient pool; default 200. */
  patients?: number;
  /** `enhanced` sets MSH-15 AL / MSH-16 NE, so the gateway answers CA/CR; default original (AA/AR). */
  ackMode?: 'original' | 'enhanced';
  /** MSH-5 / MSH-6; default ANCILLARY-HUB / NWH. */
  receivingApplication?: string;
  receivingFacility?: string;
  /** PID-3.4 of every MRN; default NWH. */
  assigningAuthority?: string;
  /**
   * Message time (MSH-7, OBR-22). Default: a simulated clock starting at `startTime` and moving
   * 5–40 s per message, so that output depends on the seed only. The CLI passes real time.
   */
  clock?: () => Date;
  /** Start of the simulated clock; default 2026-01-05T07:00:00Z. */
  startTime?: Date;
}

export interface GeneratedObservation {
  /** OBX-1. */
  setId: number;
  /** OBX-2 as written. */
  valueType: string;
  /** OBX-3.1. */
  localCode: string;
  /** The LOINC code the terminology maps it to; undefined for an injected unmapped code. */
  loinc: string | undefined;
  /** OBX-5 as a person reads it, e.g. `4.2`, `>400`, `Negative`. */
  value: string;
  /** OBX-6. */
  unit: string;
  /** OBX-7. */
  referenceRange: string;
  /** OBX-8. */
  flag: SimAbnormalFlag;
  /** OBX-11. */
  status: 'F' | 'C';
  critical: boolean;
}

export interface GeneratedOrder {
  /** ORC-2.1 / OBR-2.1. */
  placerOrderNumber: string;
  /** ORC-3.1 / OBR-3.1. */
  fillerOrderNumber: string;
  /** OBR-4.1 and its LOINC. */
  orderableCode: string;
  orderableLoinc: string;
  /** OBR-25: F final, C corrected. */
  status: 'F' | 'C';
  observations: readonly GeneratedObservation[];
}

export interface GeneratedMessage {
  /** 1-based position in the stream. */
  seq: number;
  kind: GeneratedKind;
  /**
   * MSH-10. For a duplicate, the original's. For garbage, the id this item was given although
   * the bytes carry no MSH at all (the gateway's ACK then has an empty MSA-2).
   */
  controlId: string;
  version: SimHl7Version;
  /** Exactly what goes between the MLLP start and end blocks. Treat as read-only. */
  bytes: Buffer;
  /** Whether @ancillary/hl7-core parses it (false only for malformed messages). */
  parseable: boolean;
  /** The gateway's expected MSA-1. */
  expectedAck: AckCode;
  /**
   * Whether this very message should produce a write in the chart (a ResultWritten event with
   * its MSH-10): true for results and corrections; false for duplicates (their original did),
   * malformed messages (AR) and unmapped codes (dead-lettered by the normalizer).
   */
  reachesChart: boolean;
  patient: SyntheticPatient;
  order: GeneratedOrder;
  /** Any observation critical (LL/HH). */
  critical: boolean;
  /** MSH-10 of the message that must have been acknowledged before this one is sent. */
  dependsOn?: string;
  /** Corrections: MSH-10 of the version of the order this one corrects. */
  corrects?: string;
  malformation?: Malformation;
  /** Unmapped: the local code that is not in the terminology table. */
  unmappedCode?: string;
}

/**
 * An order an LIS received (ORM^O01 / OML^O21) and now reports on: {@link LisTrafficGenerator.resultFor}
 * writes the ORU^R01 for exactly this order — its test, patient, order numbers and priority — with
 * values drawn as for generated traffic.
 */
export interface LabResultRequest {
  /** What was ordered: a panel, or a single test as a one-component orderable. */
  orderable: OrderableDefinition;
  patient: SyntheticPatient;
  /** ORC-2.1 / OBR-2.1, echoed. */
  placerOrderNumber: string;
  /** ORC-2.2 / OBR-2.2 as received; default `EHR`. */
  placerNamespace?: string;
  /** ORC-3.1 / OBR-3.1 the LIS assigned. */
  fillerOrderNumber: string;
  /** OBR-4 components as received (echoed as they came); default the orderable's code. */
  orderCode?: readonly string[];
  /** Priority, HL7 table 0027 (S, A, R…), written at OBR-27.6; default R. */
  priority?: string;
  /** TQ1-9 components as received; v2.5.1 results carry a TQ1 with them when given. */
  timingPriority?: readonly string[];
  /** MSH-10; default the generator's next control id. */
  controlId?: string;
  /** OBR-7; default 30–240 min before the message time. */
  collectedAt?: Date;
  /** OBR-14; default 5–25 min after collection, never after the message time. */
  specimenReceivedAt?: Date;
  /** Whether one value is critical; default drawn with the mix's `critical` share. */
  critical?: boolean;
  /** ORC-12 / OBR-16; default one of the generator's synthetic providers. */
  provider?: OrderingProvider;
}

type ObxValue =
  | { kind: 'NM'; number: string }
  | { kind: 'SN'; comparator: '>' | '<'; number: string }
  | { kind: 'TITER'; comparator: '' | '<'; denominator: string }
  | { kind: 'CE'; code: string; text: string; system: string }
  | { kind: 'ST'; text: string }
  | { kind: 'FT'; text: string };

interface ObservationState {
  test: LabTestDefinition;
  value: ObxValue;
  flag: SimAbnormalFlag;
  status: 'F' | 'C';
  critical: boolean;
  notes: string[];
  /** Injected on purpose: not in the terminology table. */
  unmapped: boolean;
}

interface OrderState {
  placer: string;
  /** ORC-2.2 / OBR-2.2. */
  placerNamespace: string;
  filler: string;
  orderable: OrderableDefinition;
  patient: SyntheticPatient;
  provider: OrderingProvider;
  /** Table 0027 code, OBR-27.6. */
  priority: string;
  /** OBR-4 as received, when reporting on a received order. */
  orderCode?: readonly string[];
  /** TQ1-9 as received, when reporting on a received order (v2.5.1). */
  timingPriority?: readonly string[];
  collectedAt: Date;
  receivedAt: Date;
  specimenId: string;
  observations: ObservationState[];
  notes: string[];
  status: 'F' | 'C';
  /** MSH-10 of the last message that carried this order. */
  lastControlId: string;
}

/** Urinalysis dipstick answers as SNOMED CT qualifiers (public codes). */
const DIPSTICK: Readonly<
  Record<'negative' | 'trace' | 'positive', { code: string; text: string }>
> = {
  negative: { code: '260385009', text: 'Negative' },
  trace: { code: '260405006', text: 'Trace' },
  positive: { code: '10828004', text: 'Positive' },
};
const URINE_COLOURS = ['Yellow', 'Straw', 'Pale yellow', 'Amber', 'Dark yellow'];

// Comments as laboratories write them; some carry HL7 delimiter characters, which must travel
// escaped (\F\, \T\, \S\) and come back out as written.
const ORDER_NOTES = [
  'Specimen slightly hemolyzed.',
  'Received at 2-8 °C; processed within 2 h.',
  'Non-fasting sample & lipemic: interpret with caution.',
  'Hemolysis index 2+ | potassium may be falsely elevated.',
  'Repeat requested by ward; see previous result.',
  'Results verified by repeat analysis.',
];
const OBSERVATION_NOTES = [
  'Verified by repeat analysis.',
  'Result confirmed on a second aliquot.',
  'Value above linearity; diluted 1:2 and re-run.',
  'Interference from lipemia cannot be excluded.',
  'Delta check failed ^ reviewed by technologist.',
];
const COMMENT_TEXTS = [
  'Specimen received 3 h after collection.\nInterpret glucose and potassium with caution.',
  'Sample re-collected at the request of the ward.\nPrevious sample clotted.',
];

const RUN_ID = /^[A-Z0-9]{1,8}$/;
const DEFAULT_START = new Date('2026-01-05T07:00:00Z');
const HISTORY_LIMIT = 256;
const OPEN_ORDER_LIMIT = 512;
const MINUTE = 60_000;

function hl7Time(date: Date): string {
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
  return (
    pad(date.getUTCFullYear(), 4) +
    pad(date.getUTCMonth() + 1) +
    pad(date.getUTCDate()) +
    pad(date.getUTCHours()) +
    pad(date.getUTCMinutes()) +
    pad(date.getUTCSeconds()) +
    '+0000'
  );
}

function checkShare(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw new RangeError(`traffic mix ${name} must be between 0 and 1, got ${value}`);
  }
  return value;
}

export class LisTrafficGenerator implements Iterable<GeneratedMessage> {
  readonly runId: string;
  readonly version: SimHl7Version;
  readonly mix: Readonly<TrafficMix>;
  readonly catalogue: LabCatalogue;
  /** How many items of each kind were generated so far. */
  readonly counts: Record<GeneratedKind, number> = {
    result: 0,
    correction: 0,
    duplicate: 0,
    malformed: 0,
    unmapped: 0,
  };

  private readonly random: SeededRandom;
  private readonly patients: SyntheticPatient[];
  private readonly providers: OrderingProvider[];
  private readonly orderables: { item: OrderableDefinition; weight: number }[];
  private readonly tests: Map<string, LabTestDefinition>;
  private readonly knownCodes: Set<string>;
  private readonly enhanced: boolean;
  private readonly clock: () => Date;
  private simulatedTime: number;
  private seq = 0;
  private orderSeq = 0;
  /** Results and corrections sent, newest last: what a duplicate can repeat. */
  private readonly history: GeneratedMessage[] = [];
  /** Orders in the chart (last version a result or correction), newest last. */
  private readonly openOrders: OrderState[] = [];

  constructor(private readonly options: LisTrafficOptions) {
    this.catalogue = validateLabCatalogue(options.catalogue);
    this.random = new SeededRandom(options.seed);
    this.runId = options.runId ?? `S${(options.seed >>> 0).toString(36).toUpperCase()}`.slice(0, 8);
    if (!RUN_ID.test(this.runId)) {
      throw new RangeError(`runId must be 1–8 characters A-Z or 0-9, got ${this.runId}`);
    }
    this.version = options.version ?? '2.5.1';
    const mix = { ...DEFAULT_TRAFFIC_MIX, ...options.mix };
    for (const [name, value] of Object.entries(mix)) checkShare(name, value);
    if (mix.corrections + mix.duplicates + mix.malformed + mix.unmapped > 1) {
      throw new RangeError('traffic mix: corrections + duplicates + malformed + unmapped exceed 1');
    }
    this.mix = Object.freeze(mix);
    this.enhanced = options.ackMode === 'enhanced';
    this.patients = createPatientPool(
      this.random,
      options.patients ?? 200,
      options.assigningAuthority ?? 'NWH',
    );
    this.providers = createProviderPool(this.random);
    this.tests = new Map(this.catalogue.tests.map((t) => [t.localCode, t]));
    this.knownCodes = new Set(this.catalogue.tests.map((t) => t.localCode));
    this.orderables = this.catalogue.orderables.map((item) => ({
      item,
      weight: ORDER_MIX_BY_LOINC[item.loinc] ?? DEFAULT_ORDER_WEIGHT,
    }));
    this.simulatedTime = (options.startTime ?? DEFAULT_START).getTime();
    this.clock =
      options.clock ??
      (() => {
        this.simulatedTime += this.random.int(5, 40) * 1000;
        return new Date(this.simulatedTime);
      });
  }

  /** The next message of the stream. */
  next(): GeneratedMessage {
    this.seq += 1;
    const roll = this.random.next();
    const { malformed, duplicates, corrections, unmapped } = this.mix;
    let message: GeneratedMessage | undefined;
    if (roll < malformed) {
      message = this.malformedMessage();
    } else if (roll < malformed + duplicates) {
      message = this.duplicateMessage();
    } else if (roll < malformed + duplicates + corrections) {
      message = this.correctionMessage();
    } else if (roll < malformed + duplicates + corrections + unmapped) {
      message = this.unmappedMessage();
    }
    // nothing to repeat or correct yet: a plain result instead
    message ??= this.resultMessage();
    this.counts[message.kind] += 1;
    if (message.kind === 'result' || message.kind === 'correction') {
      this.history.push(message);
      if (this.history.length > HISTORY_LIMIT) this.history.shift();
    }
    return message;
  }

  /** The next `count` messages. */
  take(count: number): GeneratedMessage[] {
    const out: GeneratedMessage[] = [];
    for (let i = 0; i < count; i++) out.push(this.next());
    return out;
  }

  *[Symbol.iterator](): Iterator<GeneratedMessage> {
    for (;;) yield this.next();
  }

  /**
   * The ORU^R01 for an order the simulated LIS received: the requested orderable's components
   * with values drawn as for generated traffic (the same ranges, flags, critical values, notes),
   * for the given patient and order numbers. Counts as a `result` of the stream; it does not
   * become something later traffic corrects or repeats.
   */
  resultFor(request: LabResultRequest): GeneratedMessage {
    this.seq += 1;
    const order = this.newOrder(request.critical ?? this.random.chance(this.mix.critical), request);
    const message = this.message('result', request.controlId ?? this.controlId(), order);
    this.counts.result += 1;
    return message;
  }

  // ------------------------------------------------------------------------------------------
  // kinds
  // ------------------------------------------------------------------------------------------

  private resultMessage(): GeneratedMessage {
    const order = this.newOrder(this.random.chance(this.mix.critical));
    const controlId = this.controlId();
    const message = this.message('result', controlId, order);
    order.lastControlId = controlId;
    this.openOrders.push(order);
    if (this.openOrders.length > OPEN_ORDER_LIMIT) this.openOrders.shift();
    return message;
  }

  private unmappedMessage(): GeneratedMessage {
    const order = this.newOrder(this.random.chance(this.mix.critical));
    let code: string;
    do {
      code = `ZZ${this.random.chars('0123456789', 3)}`;
    } while (this.knownCodes.has(code));
    const test: LabTestDefinition = {
      localCode: code,
      localSystem: order.orderable.localSystem,
      display: 'Send-out test (not in the terminology table)',
      loinc: '',
      valueType: 'NM',
      unit: 'mg/L',
      ucumUnit: 'mg/L',
      referenceLow: 1,
      referenceHigh: 10,
      decimals: 1,
    };
    order.observations.push({
      test,
      value: { kind: 'NM', number: this.random.between(1, 10).toFixed(1) },
      flag: '',
      status: 'F',
      critical: false,
      notes: [],
      unmapped: true,
    });
    const message = this.message('unmapped', this.controlId(), order);
    // not in the chart (dead-lettered), so never corrected or repeated
    return { ...message, unmappedCode: code };
  }

  private duplicateMessage(): GeneratedMessage | undefined {
    if (this.history.length === 0) return undefined;
    const original = this.random.pick(this.history);
    return {
      ...original,
      seq: this.seq,
      kind: 'duplicate',
      reachesChart: false,
      dependsOn: original.controlId,
      corrects: undefined,
    };
  }

  private correctionMessage(): GeneratedMessage | undefined {
    const order = this.openOrders.length > 0 ? this.random.pick(this.openOrders) : undefined;
    if (!order) return undefined;
    const changeable = order.observations.filter((o) => o.value.kind !== 'FT' && !o.unmapped);
    if (changeable.length === 0) return undefined;
    const previous = order.lastControlId;
    const critical = this.random.chance(this.mix.critical);
    const changes = Math.min(changeable.length, this.random.int(1, 2));
    const picked = new Set<ObservationState>();
    while (picked.size < changes) picked.add(this.random.pick(changeable));
    let first = true;
    for (const obs of picked) {
      const before = displayValue(obs.value);
      let next: ObservationState;
      let attempts = 0;
      do {
        next = this.drawObservation(obs.test, critical && first);
        attempts += 1;
      } while (displayValue(next.value) === before && attempts < 20);
      if (displayValue(next.value) === before) continue;
      obs.value = next.value;
      obs.flag = next.flag;
      obs.critical = next.critical;
      obs.status = 'C';
      obs.notes = [
        `Corrected result: previously reported as ${before}${obs.test.unit ? ` ${obs.test.unit}` : ''}.`,
        ...next.notes,
      ];
      first = false;
    }
    if (first) return undefined; // no value could change (a one-value coded test)
    order.status = 'C';
    const controlId = this.controlId();
    const message = this.message('correction', controlId, order);
    order.lastControlId = controlId;
    return { ...message, dependsOn: previous, corrects: previous };
  }

  private malformedMessage(): GeneratedMessage {
    const malformation = this.random.weighted<Malformation>([
      { item: 'bad-msh', weight: 2 },
      { item: 'truncated', weight: 2 },
      { item: 'garbage', weight: 1 },
    ]);
    const order = this.newOrder(false);
    const controlId = this.controlId();
    const hl7 = this.build(controlId, order, this.clock());
    const base = this.message('malformed', controlId, order, hl7);
    let bytes: Buffer;
    switch (malformation) {
      case 'bad-msh':
        // MSH-9 (message type) and MSH-12 (version) are required: hl7-core refuses the header
        hl7.set('MSH-9', '').set('MSH-12', '');
        bytes = Buffer.from(hl7.toBytes());
        break;
      case 'truncated': {
        // the connection dropped inside a segment ID: the last line is `OB`, not a segment
        const text = hl7.toString();
        const cut = text.lastIndexOf('\rOBX|');
        bytes = Buffer.from(hl7.charsetCodec.encode(text.slice(0, cut + 3)));
        break;
      }
      case 'garbage':
        bytes = this.garbage();
        break;
    }
    return {
      ...base,
      bytes,
      parseable: false,
      expectedAck: malformation !== 'garbage' && this.enhanced ? 'CR' : 'AR',
      reachesChart: false,
      malformation,
    };
  }

  // ------------------------------------------------------------------------------------------
  // content
  // ------------------------------------------------------------------------------------------

  private controlId(): string {
    // ≤ 16 characters: within MSH-10's 20 (ST) in every version
    return `${this.runId}${String(this.seq).padStart(8, '0')}`;
  }

  private newOrder(critical: boolean, request?: LabResultRequest): OrderState {
    this.orderSeq += 1;
    const orderable = request?.orderable ?? this.random.weighted(this.orderables);
    const numbers = String(this.orderSeq).padStart(7, '0');
    const observations: ObservationState[] = orderable.components.map((code) => {
      const test = this.tests.get(code);
      // validateLabCatalogue guarantees every component is a test of the catalogue
      if (!test) throw new Error(`orderable ${orderable.localCode}: no test ${code}`);
      return this.drawObservation(test, false);
    });
    if (critical) this.makeCritical(observations);
    const comment = this.catalogue.tests.find((t) => t.valueType === 'FT');
    if (comment && this.random.chance(0.03)) {
      observations.push({
        test: comment,
        value: { kind: 'FT', text: this.random.pick(COMMENT_TEXTS) },
        flag: '',
        status: 'F',
        critical: false,
        notes: [],
        unmapped: false,
      });
    }
    const stat = ['10839-9', '2524-7'].includes(orderable.loinc)
      ? this.random.chance(0.7)
      : this.random.chance(0.1);
    const now = this.peekTime();
    const collectedAt = new Date(now - this.random.int(30, 240) * MINUTE);
    const drawn: OrderState = {
      placer: `P${this.runId}${numbers}`,
      placerNamespace: 'EHR',
      filler: `F${this.runId}${numbers}`,
      orderable,
      patient: this.random.pick(this.patients),
      provider: this.random.pick(this.providers),
      priority: stat ? 'S' : 'R',
      collectedAt,
      receivedAt: new Date(collectedAt.getTime() + this.random.int(5, 25) * MINUTE),
      specimenId: `S${this.runId}${numbers}`,
      observations,
      notes: this.random.chance(0.08) ? [this.random.pick(ORDER_NOTES)] : [],
      status: 'F',
      lastControlId: '',
    };
    return request ? this.asRequested(drawn, request, now) : drawn;
  }

  /** A drawn order made into the one that was received: its patient, numbers, code, times. */
  private asRequested(drawn: OrderState, request: LabResultRequest, now: number): OrderState {
    const collectedAt = request.collectedAt ?? drawn.collectedAt;
    const receivedAt =
      request.specimenReceivedAt ??
      new Date(
        Math.min(
          collectedAt.getTime() + (drawn.receivedAt.getTime() - drawn.collectedAt.getTime()),
          now,
        ),
      );
    return {
      ...drawn,
      placer: request.placerOrderNumber,
      placerNamespace: request.placerNamespace ?? 'EHR',
      filler: request.fillerOrderNumber,
      patient: request.patient,
      provider: request.provider ?? drawn.provider,
      priority: request.priority ?? 'R',
      collectedAt,
      receivedAt,
      specimenId: `S${request.fillerOrderNumber}`,
      ...(request.orderCode ? { orderCode: request.orderCode } : {}),
      ...(request.timingPriority ? { timingPriority: request.timingPriority } : {}),
    };
  }

  /** The time the next message will carry, without moving the simulated clock. */
  private peekTime(): number {
    return this.options.clock ? this.options.clock().getTime() : this.simulatedTime;
  }

  /** A value for one test: mostly normal, some L/H; critical (LL/HH) only when asked. */
  private drawObservation(test: LabTestDefinition, critical: boolean): ObservationState {
    const state: ObservationState = {
      test,
      value: { kind: 'ST', text: '' },
      flag: '',
      status: 'F',
      critical: false,
      notes: [],
      unmapped: false,
    };
    switch (test.valueType) {
      case 'NM': {
        const target =
          critical && canBeCritical(test)
            ? this.criticalTarget(test)
            : this.random.weighted<'' | 'L' | 'H'>([
                { item: '', weight: 0.84 },
                // no "low" when the lowest reportable value is the low limit (bilirubin 0.1)
                {
                  item: 'L',
                  weight: (test.referenceLow ?? 0) > 2 * 10 ** -test.decimals ? 0.07 : 0,
                },
                { item: 'H', weight: test.referenceHigh === undefined ? 0 : 0.09 },
              ]);
        const drawn = drawNumeric(this.random, test, target);
        state.value = drawn.value;
        state.flag = drawn.flag;
        state.critical = drawn.flag === 'HH' || drawn.flag === 'LL';
        if (state.critical) {
          state.notes.push('Critical value phoned to the ordering clinician; read back verified.');
        } else if (this.random.chance(0.02)) {
          state.notes.push(this.random.pick(OBSERVATION_NOTES));
        }
        break;
      }
      case 'TITER': {
        // most sera are negative at the screening dilution; positives flagged abnormal
        const titer = this.random.weighted([
          { item: ['<', '40'] as const, weight: 0.6 },
          { item: ['', '40'] as const, weight: 0.1 },
          { item: ['', '80'] as const, weight: 0.12 },
          { item: ['', '160'] as const, weight: 0.1 },
          { item: ['', '320'] as const, weight: 0.05 },
          { item: ['', '640'] as const, weight: 0.03 },
        ]);
        state.value = { kind: 'TITER', comparator: titer[0], denominator: titer[1] };
        state.flag = titer[0] === '' && Number(titer[1]) >= 80 ? 'A' : '';
        break;
      }
      case 'CE': {
        const answer = this.random.weighted([
          { item: DIPSTICK.negative, weight: 0.85 },
          { item: DIPSTICK.trace, weight: 0.08 },
          { item: DIPSTICK.positive, weight: 0.07 },
        ]);
        state.value = { kind: 'CE', code: answer.code, text: answer.text, system: 'SCT' };
        state.flag = answer === DIPSTICK.positive ? 'A' : '';
        break;
      }
      case 'ST':
        state.value = { kind: 'ST', text: this.random.pick(URINE_COLOURS) };
        break;
      case 'FT':
        state.value = { kind: 'FT', text: this.random.pick(COMMENT_TEXTS) };
        break;
    }
    return state;
  }

  /**
   * LL only below a panic limit the table states: without one, "critically low" is a guess that
   * can land on impossible values (a specific gravity under 1), while "far above the reference
   * range" stays plausible for every analyte.
   */
  private criticalTarget(test: LabTestDefinition): 'LL' | 'HH' {
    if (test.criticalLow === undefined) return 'HH';
    if (test.criticalHigh === undefined) return 'LL';
    return this.random.chance(0.4) ? 'LL' : 'HH';
  }

  /** Turns one numeric observation critical, preferring tests with panic limits in the table. */
  private makeCritical(observations: ObservationState[]): void {
    const numeric = observations.filter((o) => o.test.valueType === 'NM' && canBeCritical(o.test));
    if (numeric.length === 0) return;
    const withLimits = numeric.filter(
      (o) => o.test.criticalLow !== undefined || o.test.criticalHigh !== undefined,
    );
    const target = this.random.pick(withLimits.length > 0 ? withLimits : numeric);
    const drawn = this.drawObservation(target.test, true);
    Object.assign(target, drawn);
  }

  private garbage(): Buffer {
    if (this.random.chance(0.5)) {
      // something that is not HL7 at all, as a misconfigured client sends it
      return Buffer.from(
        this.random.pick([
          'GET /status HTTP/1.1\r\nHost: lis-gateway\r\n\r\n',
          '{"resourceType":"Observation","status":"final"}',
          'PING\r',
          'PID|1||12345^^^NWH^MR||TEST^PATIENT\r',
        ]),
        'latin1',
      );
    }
    // line noise: any byte but the MLLP block characters (which the framer would act on)
    const length = this.random.int(16, 256);
    const bytes = Buffer.alloc(length);
    for (let i = 0; i < length; i++) {
      let b: number;
      do b = this.random.int(1, 255);
      while (b === 0x0b || b === 0x1c);
      bytes[i] = b;
    }
    // never accidentally an MSH segment
    if (bytes[0] === 0x4d) bytes[0] = 0x2a;
    return bytes;
  }

  // ------------------------------------------------------------------------------------------
  // HL7
  // ------------------------------------------------------------------------------------------

  private message(
    kind: GeneratedKind,
    controlId: string,
    order: OrderState,
    hl7: Hl7Message = this.build(controlId, order, this.clock()),
  ): GeneratedMessage {
    const observations = order.observations.map((o, i): GeneratedObservation => ({
      setId: i + 1,
      valueType: obxType(o.value, this.version),
      localCode: o.test.localCode,
      loinc: o.unmapped ? undefined : o.test.loinc,
      value: displayValue(o.value),
      unit: o.test.unit,
      referenceRange: referenceRange(o.test),
      flag: o.flag,
      status: o.status,
      critical: o.critical,
    }));
    return {
      seq: this.seq,
      kind,
      controlId,
      version: this.version,
      bytes: Buffer.from(hl7.toBytes()),
      parseable: true,
      expectedAck: this.enhanced ? 'CA' : 'AA',
      reachesChart: kind === 'result' || kind === 'correction',
      patient: order.patient,
      order: {
        placerOrderNumber: order.placer,
        fillerOrderNumber: order.filler,
        orderableCode: order.orderable.localCode,
        orderableLoinc: order.orderable.loinc,
        status: order.status,
        observations,
      },
      critical: observations.some((o) => o.critical),
    };
  }

  /** The ORU^R01 for one order, built with hl7-core so every value is escaped on the way in. */
  private build(controlId: string, order: OrderState, now: Date): Hl7Message {
    const v251 = this.version === '2.5.1';
    const { patient, provider, orderable } = order;
    const hl7 = Hl7Message.create({
      messageType: v251 ? 'ORU^R01^ORU_R01' : 'ORU^R01',
      version: this.version,
      controlId,
      sendingApplication: this.catalogue.sendingApplication,
      sendingFacility: this.catalogue.facility,
      receivingApplication: this.options.receivingApplication ?? 'ANCILLARY-HUB',
      receivingFacility: this.options.receivingFacility ?? 'NWH',
      charset: v251 ? 'UNICODE UTF-8' : '8859/1',
      now,
      ...(this.enhanced ? ({ acceptAckType: 'AL', applicationAckType: 'NE' } as const) : {}),
    });
    const providerXcn = [provider.id, provider.familyName, provider.givenName, '', '', 'Dr'];
    hl7.addSegment('PID', [
      '1',
      '',
      [patient.mrn, '', '', patient.assigningAuthority, 'MR'],
      '',
      [patient.familyName, patient.givenName, patient.middleName],
      '',
      patient.birthDate,
      patient.sex,
    ]);
    hl7.addSegment('PV1', [
      '1',
      patient.patientClass,
      [...patient.location, patient.assigningAuthority],
    ]);
    const placer = [order.placer, order.placerNamespace];
    const filler = [order.filler, this.catalogue.sendingApplication];
    hl7.addSegment('ORC', [
      'RE',
      placer,
      filler,
      '',
      'CM',
      '',
      '',
      '',
      hl7Time(now),
      '',
      '',
      providerXcn,
    ]);
    const obr: (string | readonly string[])[] = [
      '1',
      placer,
      filler,
      order.orderCode ?? [orderable.localCode, orderable.display, orderable.localSystem],
      '',
      '',
      hl7Time(order.collectedAt),
      '',
      '',
      '',
      '',
      '',
      '',
      hl7Time(order.receivedAt),
      '',
      providerXcn,
      '',
      '',
      '',
      '',
      '',
      hl7Time(now),
      '',
      sectionOf(orderable.specimenType),
      order.status,
      '',
      ['', '', '', '', '', order.priority],
    ];
    hl7.addSegment('OBR', obr);
    order.notes.forEach((note, i) => hl7.addSegment('NTE', [String(i + 1), 'L', note]));
    if (v251 && order.timingPriority) {
      // ORU_R01 TIMING_QTY group (v2.5+): TQ1-9 priority, as the order carried it
      hl7.addSegment('TQ1', ['1', '', '', '', '', '', '', '', [...order.timingPriority]]);
    }
    order.observations.forEach((obs, i) => {
      const type = obxType(obs.value, this.version);
      const segment = hl7.addSegment('OBX', [
        String(i + 1),
        type,
        [obs.test.localCode, obs.test.display, obs.test.localSystem],
        '',
        '',
        obs.test.unit,
        referenceRange(obs.test),
        obs.flag,
        '',
        '',
        obs.status,
        '',
        '',
        hl7Time(order.collectedAt),
      ]);
      switch (obs.value.kind) {
        case 'NM':
          segment.set(5, obs.value.number);
          break;
        case 'SN':
          segment.set(5, [obs.value.comparator, obs.value.number]);
          break;
        case 'TITER':
          segment.set(5, [obs.value.comparator, '1', ':', obs.value.denominator]);
          break;
        case 'CE':
          segment.set(5, [obs.value.code, obs.value.text, obs.value.system]);
          break;
        case 'ST':
          segment.set(5, obs.value.text);
          break;
        case 'FT':
          segment.setText(5, obs.value.text);
          break;
      }
      obs.notes.forEach((note, n) => hl7.addSegment('NTE', [String(n + 1), 'L', note]));
    });
    if (v251) {
      hl7.addSegment('SPM', [
        '1',
        order.specimenId,
        '',
        [orderable.specimenType, specimenText(orderable.specimenType), 'HL70487'],
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        hl7Time(order.collectedAt),
        hl7Time(order.receivedAt),
      ]);
    }
    return hl7;
  }
}

// ------------------------------------------------------------------------------------------
// values
// ------------------------------------------------------------------------------------------

/** Draws a value for `target` and rounds it; the flag always agrees with the rounded value. */
function drawNumeric(
  random: SeededRandom,
  test: LabTestDefinition,
  target: '' | 'L' | 'H' | 'LL' | 'HH',
): { value: ObxValue; flag: SimAbnormalFlag } {
  const { referenceLow: lo, referenceHigh: hi, criticalLow: cLo, criticalHigh: cHi } = test;
  const step = 10 ** -test.decimals;
  // one-sided ranges (cholesterol < 200, HDL > 40): draw from a plausible band
  const low = lo ?? (hi ?? 1) * 0.35;
  const high = hi ?? (lo ?? 1) * 2.2;
  const span = high - low;
  let x: number;
  switch (target) {
    case '':
      x = random.between(low, high);
      break;
    case 'L':
      x = random.between(Math.max(cLo ?? 0, low - span * 0.25, low * 0.5), low);
      break;
    case 'H':
      x = random.between(high, Math.min(cHi ?? Infinity, high + span * 0.6));
      break;
    case 'LL':
      // criticalTarget() asks for LL only when the table has a critical low
      x = random.between((cLo ?? low) * 0.55, cLo ?? low);
      break;
    case 'HH':
      x =
        cHi !== undefined
          ? random.between(cHi, cHi + Math.max(span, cHi * 0.35))
          : random.between(high + span * 1.5, high + span * 3);
      break;
  }
  // Work in whole reporting steps (0.1 for one decimal), so that "above 1.2" cannot be
  // 1.2000000000000002 printed as 1.2.
  const units = (v: number): number => Math.round(v / step);
  let k = units(x);
  if (target === '' && lo !== undefined && k < units(lo)) k = units(lo);
  if (target === '' && hi !== undefined && k > units(hi)) k = units(hi);
  if (target === 'L' && k >= units(low)) k = units(low) - 1;
  if (target === 'L' && cLo !== undefined && k <= units(cLo)) k = units(cLo) + 1;
  if (target === 'H' && k <= units(high)) k = units(high) + 1;
  if (target === 'H' && cHi !== undefined && k >= units(cHi)) k = units(cHi) - 1;
  if (target === 'LL' && cLo !== undefined && k >= units(cLo)) k = units(cLo) - 1;
  if (target === 'HH' && cHi !== undefined && k <= units(cHi)) k = units(cHi) + 1;
  k = Math.max(k, 1);
  const number = formatSteps(k, test.decimals);
  // instruments report beyond their measuring range as ">limit" / below detection as "<limit"
  if ((target === 'H' || target === 'HH') && random.chance(0.08)) {
    return { value: { kind: 'SN', comparator: '>', number }, flag: target };
  }
  // below the detection limit: analytes with only an upper limit, reported with decimals
  // (troponin `<0.01`, CRP `<0.5`), not cholesterol
  if (target === '' && lo === undefined && hi !== undefined && test.decimals > 0) {
    if (random.chance(0.1)) {
      const limit = formatSteps(Math.max(1, units(hi * 0.05)), test.decimals);
      return { value: { kind: 'SN', comparator: '<', number: limit }, flag: '' };
    }
  }
  return { value: { kind: 'NM', number }, flag: target };
}

/**
 * Whether a test can be critical: it has a panic limit in the table, or at least an upper
 * reference limit to be far above (HDL, with only a lower limit, cannot).
 */
function canBeCritical(test: LabTestDefinition): boolean {
  return (
    test.criticalLow !== undefined ||
    test.criticalHigh !== undefined ||
    test.referenceHigh !== undefined
  );
}

/** `k` steps of 10^-decimals as text: formatSteps(13, 1) is "1.3". */
function formatSteps(k: number, decimals: number): string {
  if (decimals === 0) return String(k);
  const digits = String(k).padStart(decimals + 1, '0');
  return `${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
}

function displayValue(value: ObxValue): string {
  switch (value.kind) {
    case 'NM':
      return value.number;
    case 'SN':
      return `${value.comparator}${value.number}`;
    case 'TITER':
      return `${value.comparator}1:${value.denominator}`;
    case 'CE':
      return value.text;
    case 'ST':
    case 'FT':
      return value.text;
  }
}

function obxType(value: ObxValue, version: SimHl7Version): string {
  switch (value.kind) {
    case 'CE':
      return version === '2.3' ? 'CE' : 'CWE';
    case 'TITER':
      return 'SN';
    case 'NM':
    case 'SN':
    case 'ST':
    case 'FT':
      return value.kind;
  }
}

function referenceRange(test: LabTestDefinition): string {
  const { referenceLow: lo, referenceHigh: hi } = test;
  if (test.valueType === 'TITER') return '<1:40';
  if (test.valueType !== 'NM') return '';
  if (lo !== undefined && hi !== undefined) return `${lo}-${hi}`;
  if (hi !== undefined) return `<${hi}`;
  if (lo !== undefined) return `>${lo}`;
  return '';
}

/** OBR-24 diagnostic service section (HL7 table 0074) from the specimen. */
function sectionOf(specimenType: string): string {
  switch (specimenType) {
    case 'BLD':
    case 'PPP':
      return 'HM';
    case 'UR':
      return 'UR';
    default:
      return 'CH';
  }
}

function specimenText(specimenType: string): string {
  const names: Record<string, string> = {
    SER: 'Serum',
    PLAS: 'Plasma',
    BLD: 'Whole blood',
    PPP: 'Platelet poor plasma',
    UR: 'Urine',
  };
  return names[specimenType] ?? specimenType;
}
