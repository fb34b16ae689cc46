/**
 * DFT^P03 (post detail financial transactions, HL7 v2.5 ch. 6.4.3) from charge events: MSH, EVN,
 * PID, PV1 and one FT1 per charge or credit line.
 *
 * | FT1 | from the ChargeEvent                                                                  |
 * | --- | ------------------------------------------------------------------------------------- |
 * | 1   | set id, 1..n in the message                                                           |
 * | 2   | transactionId (unique per line, deterministic: a resend carries the same)             |
 * | 3   | the ORIGINAL charge's transaction id on a reversal (see below)                        |
 * | 4   | dateOfService (DTM; the first component of v2.5's DR)                                 |
 * | 5   | posting date: when the message is built                                               |
 * | 6   | CG charge, CD credit (table 0017)                                                     |
 * | 7   | chargeCode ^ description ^ 99CDM (the hospital's charge master, a local system)       |
 * | 10  | quantity (negative for a negative-charge reversal)                                    |
 * | 11  | extended amount, `42.00&USD` (CP: MO quantity & denomination)                         |
 * | 12  | unit amount, same form                                                                |
 * | 13  | department                                                                            |
 * | 19  | diagnoses, repeating, `code^display^I10`                                              |
 * | 20  | performed by (XCN)      | 21 | ordered by (XCN)                                      |
 * | 23  | filler order number     | 25 | CPT (`C4`) or HCPCS (`HCPCS`) ^ description          |
 * | 26  | modifiers, repeating    | 29 | NDC (`ndc^^NDC`, v2.5+; earlier versions: FT1-25 when no CPT/HCPCS) |
 *
 * Reversals differ between billing engines, so the style is per receiver: `credit` sends a CD
 * line with positive quantity and amounts, and `negative-charge` a CG line with negative
 * quantity and extended amount. Either way FT1-3 names the original transaction id: v2.5 has no
 * field for "the transaction this one reverses" (FT1-31 Transaction Reference Key links FT1s of
 * one message by set id), and engines that match credits to charges read it from a batch/
 * reference field configured per interface; FT1-3 (Transaction Batch ID) is the common choice.
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
import { createHash } from 'node:crypto';

export const DFT_VERSIONS = ['2.3', '2.4', '2.5', '2.5.1'] as const;
export type DftVersion = (typeof DFT_VERSIONS)[number];

/** How a CREDIT line is expressed to a billing engine. */
export const REVERSAL_STYLES = ['credit', 'negative-charge'] as const;
export type ReversalStyle = (typeof REVERSAL_STYLES)[number];

export interface DftOptions {
  /** Default 2.5. */
  version?: DftVersion;
  reversalStyle: ReversalStyle;
  sendingApplication: string;
  sendingFacility: string;
  receivingApplication: string;
  receivingFacility: string;
  /** MSH-10; default {@link dftControlId} of the lines, so a resend repeats it. */
  controlId?: string;
  /** MSH-7, EVN-2 and FT1-5. */
  now: Date;
  /** MSH-11; default P. */
  processingId?: 'P' | 'T' | 'D';
  /** ISO 4217 currency of the amounts; default USD. */
  currency?: string;
}

/** The charges of one message must belong to one patient and one visit. */
export class DftBuildError extends Error {
  readonly retriable = false;
  constructor(message: string) {
    super(message);
    this.name = 'DftBuildError';
  }
}

/** MSH-10 for a set of lines: the same lines give the same id (≤ 20 characters, ST). */
export function dftControlId(charges: readonly Pick<ChargeEvent, 'transactionId'>[]): string {
  const digest = createHash('sha256');
  for (const c of charges) digest.update(c.transactionId).update('\0');
  return `D${digest.digest('hex').slice(0, 19).toUpperCase()}`;
}

/** Amount in cents as HL7 CP (price MO): `4200` → `42.00&USD` (the `&` is a subcomponent). */
function price(cents: number, currency: string): Hl7Component {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(Math.trunc(cents));
  return [`${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`, currency];
}

function xcn(provider: ChargeEvent['orderingProvider']): Hl7Repetition {
  if (!provider) return null;
  return [provider.id, provider.familyName, provider.givenName];
}

function procedureCoding(code: string, description: string): Hl7Component[] {
  // CPT-4 codes are five digits (or four and F/T/U); HCPCS Level II starts with a letter.
  return [code, description, /^\d/.test(code) ? 'C4' : 'HCPCS'];
}

function samePatient(a: ChargeEvent, b: ChargeEvent): boolean {
  const id = (c: ChargeEvent) =>
    `${c.patient.identifiers[0]?.system ?? ''}|${c.patient.identifiers[0]?.value ?? ''}`;
  return id(a) === id(b) && a.accountNumber === b.accountNumber && a.visitNumber === b.visitNumber;
}

/**
 * One DFT^P03 for the lines of one patient and visit, in order (a quantity correction's credit
 * before its new charge, as engines post in message order). @throws DftBuildError
 */
export function buildDftP03(charges: readonly ChargeEvent[], options: DftOptions): Hl7Message {
  const [first] = charges;
  if (!first) throw new DftBuildError('a DFT^P03 needs at least one charge');
  const stray = charges.find((c) => !samePatient(first, c));
  if (stray) {
    throw new DftBuildError(
      `charge ${stray.transactionId} is for another patient, account or visit than ${first.transactionId}: one DFT^P03 carries one patient's visit`,
    );
  }
  const version = options.version ?? '2.5';
  const currency = options.currency ?? 'USD';
  const v25 = versionAtLeast(version, 2, 5);
  const message = Hl7Message.create({
    // MSH-9.3 (message structure) exists from v2.3.1; DFT_P03 from v2.4.
    messageType: versionAtLeast(version, 2, 4) ? 'DFT^P03^DFT_P03' : 'DFT^P03',
    version,
    controlId: options.controlId ?? dftControlId(charges),
    sendingApplication: options.sendingApplication,
    sendingFacility: options.sendingFacility,
    receivingApplication: options.receivingApplication,
    receivingFacility: options.receivingFacility,
    processingId: options.processingId ?? 'P',
    now: options.now,
  });
  const w = new SegmentWriter(message);
  const now = formatHl7DateTime(options.now);
  w.add('EVN', { 1: 'P03', 2: now });
  const p = first.patient;
  w.add('PID', {
    1: '1',
    3: {
      reps: p.identifiers.map((id): Hl7Repetition => [id.value, null, null, id.system, id.type]),
    },
    5: [p.familyName, p.givenNames[0] ?? null, p.givenNames.slice(1).join(' ') || null],
    7: hl7Date(p.birthDate),
    8: p.administrativeSex,
    18: first.accountNumber,
  });
  // PV1-2 is required; U (unknown) when the completed work did not say.
  w.add('PV1', { 1: '1', 2: first.patientClass ?? 'U', 19: first.visitNumber });

  charges.forEach((charge, i) => {
    const credit = charge.action === 'CREDIT';
    if (credit && !charge.reversesTransactionId) {
      throw new DftBuildError(
        `credit ${charge.transactionId} does not name the charge it reverses`,
      );
    }
    const negative = credit && options.reversalStyle === 'negative-charge';
    const sign = negative ? -1 : 1;
    const ndcInFt129 = v25 && charge.ndc !== null;
    const procedure =
      charge.cptHcpcs !== null
        ? procedureCoding(charge.cptHcpcs, charge.description)
        : !v25 && charge.ndc !== null
          ? [charge.ndc, charge.description, 'NDC'] // before v2.5 there is no FT1-29
          : null;
    w.add('FT1', {
      1: String(i + 1),
      2: charge.transactionId,
      3: credit ? charge.reversesTransactionId : null,
      4: formatHl7DateTime(new Date(charge.dateOfService)),
      5: now,
      6: credit && !negative ? 'CD' : 'CG',
      7: [charge.chargeCode, charge.description, '99CDM'],
      10: hl7Number(sign * charge.quantity),
      11: [price(sign * charge.extendedPriceCents, currency)],
      12: [price(charge.unitPriceCents, currency)],
      13: charge.department,
      19: { reps: charge.diagnoses.map((d): Hl7Repetition => [d.code, d.display, 'I10']) },
      20: xcn(charge.performingProvider),
      21: xcn(charge.orderingProvider),
      23: charge.fillerOrderNumber,
      25: procedure,
      26: { reps: charge.modifiers },
      29: ndcInFt129 ? [charge.ndc, null, 'NDC'] : null,
    });
  });
  return message;
}
