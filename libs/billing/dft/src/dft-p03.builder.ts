/**
 * DFT^P03 (post detail financial transactions, HL7 v2.5 ch. 6.4.3) from charge events: MSH, EVN,
 * PID, PV1 and one FT1 per charge or credit line. The field table (FT1 field ← ChargeEvent) and
 * the reversal styles are in this library's README.
 *
 * @see https://www.hl7.eu/HL7v2x/v25/std25/ch06.html HL7 v2.5 ch. 6 (DFT^P03 6.4.3, FT1 6.5.1)
 */
import type { ChargeEvent } from '@ancillary/contracts';
import {
  formatHl7DateTime,
  hl7Date,
  hl7Number,
  Hl7Message,
  SegmentWriter,
  versionAtLeast,
  type Hl7Component,
  type Hl7Repetition,
} from '@ancillary/hl7-core';
import { dftControlId, transactionIdFor } from './dft-ids';

export const DFT_VERSIONS = ['2.3', '2.4', '2.5', '2.5.1'] as const;
export type DftVersion = (typeof DFT_VERSIONS)[number];

/**
 * How a CREDIT line is expressed to a billing engine (receiver configuration):
 * - `credit`: FT1-6 `CD`, quantity and amounts positive, the original named in FT1-3;
 * - `negative-charge`: FT1-6 `CG`, FT1-10 and FT1-11 negative, the original named in FT1-3.
 */
export const REVERSAL_STYLES = ['credit', 'negative-charge'] as const;
export type ReversalStyle = (typeof REVERSAL_STYLES)[number];

/** HL7 table 0017 transaction types this platform sends. */
export const FT1_CHARGE = 'CG';
export const FT1_CREDIT = 'CD';

/**
 * FT1-7.3 default: the charge code is the hospital's own charge master (CDM) number, a local
 * coding system, which HL7 table 0396 spells `99zzz`.
 */
export const DEFAULT_CHARGE_CODE_SYSTEM = '99CDM';

export interface DftOptions {
  /** MSH-12, per receiver; default 2.5. */
  version?: DftVersion;
  reversalStyle: ReversalStyle;
  sendingApplication: string;
  sendingFacility: string;
  receivingApplication: string;
  receivingFacility: string;
  /** MSH-10; default {@link dftControlId} of the lines, so a resend repeats it. */
  controlId?: string;
  /** MSH-7, EVN-2 and FT1-5 (posting date). */
  now: Date;
  /** MSH-11; default P. */
  processingId?: 'P' | 'T' | 'D';
  /** ISO 4217 currency of the amounts (CP MO.2); default USD. */
  currency?: string;
  /** FT1-7.3, the coding system of the charge code; default {@link DEFAULT_CHARGE_CODE_SYSTEM}. */
  chargeCodeSystem?: string;
}

/** The lines cannot make one DFT^P03 (never retried: the same lines fail the same way). */
export class DftBuildError extends Error {
  readonly retriable = false;
  constructor(message: string) {
    super(message);
    this.name = 'DftBuildError';
  }
}

/** Amount in cents as HL7 CP (MO quantity & denomination): `4200` → `42.00&USD`. */
function price(cents: number, currency: string): Hl7Component {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  return [`${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`, currency];
}

/** XCN: id ^ family name ^ given name (v2.5 ch. 2A.89). */
function xcn(provider: ChargeEvent['orderingProvider']): Hl7Repetition {
  if (!provider) return null;
  return [provider.id, provider.familyName, provider.givenName];
}

/**
 * CX-4 (HD) of an identifier system: an OID as `&oid&ISO`, another URI as `&uri&URI`
 * (table 0301), anything else as the namespace id (`NWH`).
 */
export function assigningAuthority(system: string | null): Hl7Component {
  if (!system) return null;
  const oid = /^urn:oid:([0-2](?:\.\d+)+)$/i.exec(system);
  if (oid) return [null, oid[1] ?? '', 'ISO'];
  if (/^[a-z][a-z0-9+.-]*:/i.test(system)) return [null, system, 'URI'];
  return system;
}

/** FT1-25 coding system: CPT-4 codes start with a digit (`80048`, `0001F`), HCPCS II with a letter. */
export function procedureCodingSystem(code: string): 'C4' | 'HCPCS' {
  return /^\d/.test(code) ? 'C4' : 'HCPCS';
}

function patientKey(c: ChargeEvent): string {
  const id = c.patient.identifiers[0];
  return `${id?.system ?? ''}|${id?.value ?? ''}|${c.accountNumber ?? ''}|${c.visitNumber ?? ''}`;
}

/** FT1-3 of a credit: the reversed charge's FT1-2, given or derived from its event id. */
function reversedTransactionId(charge: ChargeEvent): string | null {
  if (charge.reversesTransactionId) return charge.reversesTransactionId;
  return charge.reversesEventId ? transactionIdFor(charge.reversesEventId) : null;
}

function check(charge: ChargeEvent): void {
  const fail = (why: string): never => {
    throw new DftBuildError(`charge ${charge.transactionId} (${charge.chargeKey}): ${why}`);
  };
  if (!charge.transactionId) fail('has no transaction id (FT1-2)');
  if (!(charge.quantity > 0) || !Number.isFinite(charge.quantity)) {
    fail(`quantity ${charge.quantity} is not positive: events are never negative, the style signs`);
  }
  for (const [name, cents] of [
    ['unitPriceCents', charge.unitPriceCents],
    ['extendedPriceCents', charge.extendedPriceCents],
  ] as const) {
    if (!Number.isSafeInteger(cents) || cents < 0) fail(`${name} ${cents} is not whole cents ≥ 0`);
  }
  if (charge.action === 'CREDIT' && reversedTransactionId(charge) === null) {
    fail('is a credit that does not name the charge it reverses');
  }
}

/**
 * One DFT^P03 for the lines of one patient and visit, in the order given (a quantity
 * correction's credit before its new charge: engines post in message order).
 *
 * Before v2.5 there is no FT1-29: a drug without CPT/HCPCS then carries its NDC in FT1-25 with
 * coding system `NDC` (table 0396), where engines of that era expect a drug's code; a drug with
 * a HCPCS code keeps the HCPCS code in FT1-25 and its NDC is not sent (its charge code still
 * identifies it).
 * @throws DftBuildError for no lines, lines of several patients or visits, or an invalid line
 */
export function buildDftP03(charges: readonly ChargeEvent[], options: DftOptions): Hl7Message {
  const [first] = charges;
  if (!first) throw new DftBuildError('a DFT^P03 needs at least one charge');
  const stray = charges.find((c) => patientKey(c) !== patientKey(first));
  if (stray) {
    throw new DftBuildError(
      `charge ${stray.transactionId} is for another patient, account or visit than ${first.transactionId}: one DFT^P03 carries one patient's visit`,
    );
  }
  charges.forEach(check);
  const ascii = compose(charges, options, '');
  // MSH-18 is `UNICODE UTF-8` only when some text (a patient's or provider's name, a
  // description) is not ASCII: most engines expect nothing there, and none can read UTF-8
  // bytes under the ASCII default.
  // eslint-disable-next-line no-control-regex -- the ASCII range is the point
  return /^[\x00-\x7f]*$/.test(ascii.toString())
    ? ascii
    : compose(charges, options, 'UNICODE UTF-8');
}

function compose(
  charges: readonly ChargeEvent[],
  options: DftOptions,
  charset: string,
): Hl7Message {
  const first = charges[0] as ChargeEvent;
  const version = options.version ?? '2.5';
  const currency = options.currency ?? 'USD';
  const chargeCodeSystem = options.chargeCodeSystem ?? DEFAULT_CHARGE_CODE_SYSTEM;
  const hasFt129 = versionAtLeast(version, 2, 5);
  const message = Hl7Message.create({
    // MSH-9.3 (message structure) exists from v2.3.1; DFT_P03 is in table 0354 from v2.4.
    messageType: versionAtLeast(version, 2, 4) ? 'DFT^P03^DFT_P03' : 'DFT^P03',
    version,
    controlId: options.controlId ?? dftControlId(charges),
    sendingApplication: options.sendingApplication,
    sendingFacility: options.sendingFacility,
    receivingApplication: options.receivingApplication,
    receivingFacility: options.receivingFacility,
    processingId: options.processingId ?? 'P',
    charset,
    now: options.now,
  });
  const w = new SegmentWriter(message);
  const now = formatHl7DateTime(options.now);
  // EVN-1 exists in every version built here (it repeats MSH-9.2, which later versions prefer);
  // EVN-2 Recorded Date/Time is required.
  w.add('EVN', { 1: 'P03', 2: now });
  const p = first.patient;
  w.add('PID', {
    1: '1',
    3: {
      reps: p.identifiers.map((id): Hl7Repetition => [
        id.value,
        null,
        null,
        assigningAuthority(id.system),
        id.type,
      ]),
    },
    5: [p.familyName, p.givenNames[0] ?? null, p.givenNames.slice(1).join(' ') || null],
    7: hl7Date(p.birthDate),
    8: p.administrativeSex,
    18: first.accountNumber,
  });
  // PV1-2 is required; U (unknown, table 0004) when the completed work did not say.
  w.add('PV1', { 1: '1', 2: first.patientClass ?? 'U', 19: first.visitNumber });

  charges.forEach((charge, i) => {
    const credit = charge.action === 'CREDIT';
    const negative = credit && options.reversalStyle === 'negative-charge';
    const sign = negative ? -1 : 1;
    const procedure: Hl7Repetition =
      charge.cptHcpcs !== null
        ? [charge.cptHcpcs, charge.description, procedureCodingSystem(charge.cptHcpcs)]
        : !hasFt129 && charge.ndc !== null
          ? [charge.ndc, charge.description, 'NDC']
          : null;
    w.add('FT1', {
      1: String(i + 1),
      2: charge.transactionId,
      3: credit ? reversedTransactionId(charge) : null,
      4: formatHl7DateTime(new Date(charge.dateOfService)),
      5: now,
      6: credit && !negative ? FT1_CREDIT : FT1_CHARGE,
      7: [charge.chargeCode, charge.description, chargeCodeSystem],
      10: hl7Number(sign * charge.quantity),
      // The unit amount stays positive in both styles: quantity × unit = extended.
      11: [price(sign * charge.extendedPriceCents, currency)],
      12: [price(charge.unitPriceCents, currency)],
      13: charge.department,
      19: { reps: charge.diagnoses.map((d): Hl7Repetition => [d.code, d.display, 'I10']) },
      20: xcn(charge.performingProvider),
      21: xcn(charge.orderingProvider),
      23: charge.fillerOrderNumber,
      25: procedure,
      26: { reps: charge.modifiers },
      29: hasFt129 && charge.ndc !== null ? [charge.ndc, charge.description, 'NDC'] : null,
    });
  });
  return message;
}
