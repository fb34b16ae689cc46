/**
 * The simulated laboratory information system receiving orders: takes ORM^O01 / OML^O21 for
 * the tests of its catalogue (orderables.csv panels, or single tests of lab-codes.csv, for its
 * facility, NWH-LAB by default), answers ORR^O02 / ORL^O22, and reports each order with an
 * ORU^R01 (v2.5.1 by default) built by the traffic generator — the same values, flags,
 * critical values and notes as generated traffic — for exactly the order received: its patient
 * (PID echoed), placer number (ORC-2 / OBR-2), the filler number it assigned (ORC-3 / OBR-3),
 * OBR-4 as received, the priority as received (TQ1-9, OBR-27.6), OBR-25 F.
 * A code outside its catalogue is refused (AR, ORC-1 UA), as a laboratory refuses a test it
 * does not run.
 */
import { Hl7Message, type Hl7Segment } from '@ancillary/hl7-core';
import { UnmappedCodeError, type Terminology } from '@ancillary/terminology';
import {
  labCatalogueFromTerminology,
  type LabCatalogue,
  type OrderableDefinition,
} from './lab-catalogue';
import {
  OrderReceivingAncillary,
  type MllpOrderSource,
  type OrderCheck,
  type OrderReceivingAncillaryOptions,
} from './order-receiving.ancillary';
import {
  LisTrafficGenerator,
  RESULTS_ONLY_MIX,
  type LabResultRequest,
  type SimHl7Version,
} from './oru-r01.generator';
import type { SimOrderRecord } from './ancillary-orders';
import { copySegment, type ReceivedOrderMessage } from './received-order.reader';
import type { OrderingProvider, SyntheticPatient } from './synthetic-patients';

export interface LisAncillaryOptions extends OrderReceivingAncillaryOptions {
  /** HL7 version of the results; default 2.5.1. */
  resultVersion?: SimHl7Version;
  /** Share of results with a critical value (0–1); default 0.05. */
  criticalShare?: number;
}

export class LisAncillary extends OrderReceivingAncillary<OrderableDefinition> {
  readonly catalogue: LabCatalogue;
  private readonly generator: LisTrafficGenerator;

  constructor(options: LisAncillaryOptions) {
    super(options, {
      kind: 'lis',
      defaultFacility: 'NWH-LAB',
      fillerPrefix: 'F',
      acceptedTypes: ['ORM^O01', 'OML^O21'],
      version: options.resultVersion ?? '2.5.1',
    });
    this.catalogue = labCatalogueFromTerminology(this.terminology, this.facility);
    this.generator = new LisTrafficGenerator({
      catalogue: { ...this.catalogue, sendingApplication: this.sendingApplication },
      seed: options.seed ?? 1,
      runId: this.runId,
      version: options.resultVersion ?? '2.5.1',
      mix: { ...RESULTS_ONLY_MIX, critical: options.criticalShare ?? RESULTS_ONLY_MIX.critical },
      receivingApplication: this.receivingApplication,
      receivingFacility: this.receivingFacility,
      clock: () => new Date(),
    });
  }

  protected checkOrder(
    received: ReceivedOrderMessage,
    line: number,
  ): OrderCheck<OrderableDefinition> {
    const ordered = received.content.lines[line];
    const codings = ordered?.codings ?? [];
    for (const coding of codings) {
      const orderable = resolveLabOrderable(
        this.terminology,
        this.catalogue,
        coding.code,
        coding.system,
      );
      if (orderable) return { ok: true, detail: orderable };
    }
    const code = codings[0]?.code ?? '';
    return {
      ok: false,
      reason: code
        ? `Unknown test code ${code}: not in the ${this.facility} test catalogue`
        : 'The order has no test code (OBR-4)',
      error: { hl7ErrorCode: code ? '103' : '101', segment: 'OBR', field: 4 },
    };
  }

  protected buildResult(
    source: MllpOrderSource<OrderableDefinition> & { readonly detail: OrderableDefinition },
    order: SimOrderRecord,
    controlId: string,
  ): Hl7Message {
    const { received, line, detail } = source;
    const ordered = received.content.lines[line];
    const group = received.groups[line];
    if (!ordered || !order.fillerOrderNumber) throw new Error('order without its filler number');
    const provider = providerOf(group?.orc, 12) ?? providerOf(group?.obr, 16);
    const request: LabResultRequest = {
      orderable: detail,
      patient: syntheticPatientFrom(received),
      placerOrderNumber: ordered.placerOrderNumber,
      placerNamespace: ordered.placerNamespace || 'EHR',
      fillerOrderNumber: order.fillerOrderNumber,
      orderCode: ordered.orderCode,
      priority: ordered.priority,
      ...(ordered.timingPriority ? { timingPriority: ordered.timingPriority } : {}),
      controlId,
      // collected when the order reached the laboratory
      collectedAt: order.receivedAt,
      ...(provider ? { provider } : {}),
    };
    const result = Hl7Message.parse(this.generator.resultFor(request).bytes);
    // the laboratory reports on the patient and visit as ordered: PID and PV1 exactly as they
    // came (PID-18 account and PV1-19 visit number are what billing posts the charge to)
    for (const [name, segment] of [
      ['PID', received.pid],
      ['PV1', received.pv1],
    ] as const) {
      if (!segment) continue;
      const generated = result.segment(name);
      const at = generated ? result.indexOf(generated) : -1;
      if (at > 0) {
        result.removeSegment(at);
        copySegment(result, segment, { index: at });
      }
    }
    return result;
  }
}

/**
 * The orderable of the catalogue an ordered code stands for: a panel of orderables.csv, else a
 * single test of lab-codes.csv (as a one-component orderable), looked up through the
 * terminology (a LOINC sent as `LN` is accepted when the facility maps some code to it).
 * Undefined when the laboratory does not run it.
 */
export function resolveLabOrderable(
  terminology: Terminology,
  catalogue: LabCatalogue,
  code: string,
  system: string | null,
): OrderableDefinition | undefined {
  try {
    const entry = terminology.mapOrderable(catalogue.facility, code, system);
    const orderable = catalogue.orderables.find((o) => o.localCode === entry.localCode);
    if (orderable) return orderable;
  } catch (error) {
    if (!(error instanceof UnmappedCodeError)) throw error;
  }
  try {
    const entry = terminology.mapLabCode(catalogue.facility, code, system);
    const test = catalogue.tests.find((t) => t.localCode === entry.localCode);
    if (!test) return undefined;
    return {
      localCode: test.localCode,
      localSystem: test.localSystem,
      display: test.display,
      loinc: test.loinc,
      // the specimen of a panel that reports the test (urine tests: UR)
      specimenType:
        catalogue.orderables.find((o) => o.components.includes(test.localCode))?.specimenType ??
        'SER',
      components: [test.localCode],
    };
  } catch (error) {
    if (!(error instanceof UnmappedCodeError)) throw error;
    return undefined;
  }
}

/** The patient of a received order as the generator needs it (PID-3, -5, -7, -8; PV1-2, -3). */
export function syntheticPatientFrom(received: ReceivedOrderMessage): SyntheticPatient {
  const pid = received.pid;
  const pv1 = received.pv1;
  const mrn = received.content.patientMrn ?? '';
  let authority = '';
  if (pid) {
    const count = Math.max(1, pid.repetitionCount(3));
    for (let r = 1; r <= count; r++) {
      if (pid.get(3, r, 1) === mrn) {
        authority = pid.get(3, r, 4) || pid.get(3, r, 4, 2) || '';
        break;
      }
    }
  }
  const sex = (pid?.get(8) ?? '').toUpperCase();
  const patientClass = (pv1?.get(2) ?? '').toUpperCase();
  return {
    mrn,
    assigningAuthority: authority,
    familyName: pid?.get(5) ?? '',
    givenName: pid?.get(5, 1, 2) ?? '',
    middleName: pid?.get(5, 1, 3) ?? '',
    birthDate: (pid?.get(7) ?? '').slice(0, 8),
    sex: sex === 'F' || sex === 'M' ? sex : 'U',
    patientClass: patientClass === 'I' || patientClass === 'E' ? patientClass : 'O',
    location: [pv1?.get(3) ?? '', pv1?.get(3, 1, 2) ?? '', pv1?.get(3, 1, 3) ?? ''],
  };
}

/** An XCN field (ORC-12, OBR-16) as the generator's provider; undefined when empty. */
function providerOf(segment: Hl7Segment | undefined, field: number): OrderingProvider | undefined {
  const id = segment?.get(field);
  if (!segment || !id) return undefined;
  return {
    id,
    familyName: segment.get(field, 1, 2) ?? '',
    givenName: segment.get(field, 1, 3) ?? '',
  };
}
