import {
  buildRejectForUnparseable,
  Hl7Message,
  Hl7ParseError,
  readOruR01,
  type OrderObservation,
} from '@ancillary/hl7-core';
import { loadTerminology, UnmappedCodeError } from '@ancillary/terminology';
import {
  labCatalogueFromTerminology,
  LabCatalogueError,
  validateLabCatalogue,
  type LabCatalogue,
} from './lab-catalogue';
import {
  DEFAULT_TRAFFIC_MIX,
  LisTrafficGenerator,
  type GeneratedMessage,
  type LisTrafficOptions,
} from './oru-r01.generator';

const terminology = loadTerminology();
const catalogue = labCatalogueFromTerminology(terminology, 'NWH-LAB');
const FACILITY = 'NWH-LAB';

/** Every kind often enough to be seen in a few hundred messages. */
const BUSY_MIX = {
  corrections: 0.1,
  duplicates: 0.08,
  malformed: 0.08,
  unmapped: 0.05,
  critical: 0.15,
};

function generate(count: number, options: Partial<LisTrafficOptions> = {}): GeneratedMessage[] {
  return new LisTrafficGenerator({ catalogue, seed: 42, mix: BUSY_MIX, ...options }).take(count);
}

function onlyOrder(message: Hl7Message): OrderObservation {
  const results = readOruR01(message).patientResults;
  expect(results).toHaveLength(1);
  const orders = results[0]!.orders;
  expect(orders).toHaveLength(1);
  return orders[0]!;
}

describe('LisTrafficGenerator', () => {
  const stream = generate(1500);
  const parseable = stream.filter((m) => m.parseable);

  it('gives the same bytes for the same seed and run id, and other bytes for another seed', () => {
    const again = generate(1500);
    expect(again.map((m) => m.bytes.toString('base64'))).toEqual(
      stream.map((m) => m.bytes.toString('base64')),
    );
    expect(again.map((m) => [m.kind, m.controlId, m.expectedAck])).toEqual(
      stream.map((m) => [m.kind, m.controlId, m.expectedAck]),
    );
    const other = generate(50, { seed: 43 });
    expect(other.map((m) => m.bytes.toString('base64'))).not.toEqual(
      stream.slice(0, 50).map((m) => m.bytes.toString('base64')),
    );
  });

  it('produces every kind, in roughly the shares asked for', () => {
    const counts = { result: 0, correction: 0, duplicate: 0, malformed: 0, unmapped: 0 };
    for (const m of stream) counts[m.kind] += 1;
    expect(counts.malformed / stream.length).toBeCloseTo(BUSY_MIX.malformed, 1);
    expect(counts.duplicate / stream.length).toBeCloseTo(BUSY_MIX.duplicates, 1);
    expect(counts.correction / stream.length).toBeCloseTo(BUSY_MIX.corrections, 1);
    expect(counts.unmapped / stream.length).toBeCloseTo(BUSY_MIX.unmapped, 1);
    expect(counts.result).toBeGreaterThan(stream.length * 0.6);
  });

  it('writes parseable ORU^R01 for everything but the malformed messages', () => {
    for (const m of stream) {
      if (m.kind === 'malformed') {
        expect(m.parseable).toBe(false);
        continue;
      }
      expect(m.parseable).toBe(true);
      const hl7 = Hl7Message.parse(m.bytes);
      expect(hl7.controlId).toBe(m.controlId);
      expect(hl7.get('MSH-9')).toBe('ORU');
      expect(hl7.get('MSH-9.2')).toBe('R01');
      expect(hl7.get('MSH-9.3')).toBe('ORU_R01');
      expect(hl7.version).toBe('2.5.1');
      expect(hl7.get('MSH-3')).toBe('SIMLIS');
      expect(hl7.get('MSH-4')).toBe(FACILITY);
      expect(hl7.get('PID-3')).toBe(m.patient.mrn);
      expect(hl7.get('PID-3.4')).toBe('NWH');
      expect(hl7.get('PID-5.1')).toBe(m.patient.familyName);
      const order = onlyOrder(hl7);
      expect(order.obr.get(3)).toBe(m.order.fillerOrderNumber);
      expect(order.orc?.get(2)).toBe(m.order.placerOrderNumber);
      expect(order.obr.get(25)).toBe(m.order.status);
      expect(order.observations).toHaveLength(m.order.observations.length);
      order.observations.forEach(({ obx }, i) => {
        const expected = m.order.observations[i]!;
        expect(obx.get(1)).toBe(String(expected.setId));
        expect(obx.get(3)).toBe(expected.localCode);
        expect(obx.get(8) ?? '').toBe(expected.flag);
        expect(obx.get(11)).toBe(expected.status);
        const value =
          obx.get(2) === 'SN'
            ? [1, 2, 3, 4].map((c) => obx.get(5, 1, c) ?? '').join('')
            : obx.get(2) === 'CWE'
              ? obx.get(5, 1, 2)
              : obx.get(2) === 'FT'
                ? obx.getText(5)
                : obx.get(5);
        expect(value).toBe(expected.value);
      });
    }
    expect(parseable.length).toBeGreaterThan(1000);
  });

  it('uses only codes, orderables, units and flags of the terminology table, except the injected unmapped code', () => {
    for (const m of parseable) {
      const order = onlyOrder(Hl7Message.parse(m.bytes));
      const orderable = terminology.mapOrderable(
        FACILITY,
        order.obr.get(4) ?? '',
        order.obr.get(4, 1, 3),
      );
      expect(orderable.loincCode).toBe(m.order.orderableLoinc);
      for (const { obx } of order.observations) {
        const code = obx.get(3) ?? '';
        if (m.kind === 'unmapped' && code === m.unmappedCode) {
          expect(() => terminology.mapLabCode(FACILITY, code, obx.get(3, 1, 3))).toThrow(
            UnmappedCodeError,
          );
          continue;
        }
        const mapped = terminology.mapLabCode(FACILITY, code, obx.get(3, 1, 3));
        expect(orderable.components.includes(code) || mapped.valueType === 'FT').toBe(true);
        const unit = obx.get(6) ?? '';
        if (unit !== '') expect(terminology.mapUnit(unit).ucumUnit).toBe(mapped.ucumUnit);
        const flag = obx.get(8) ?? '';
        if (flag !== '') expect(terminology.mapFlag(flag).flag).toBe(flag);
      }
    }
    const unmapped = stream.filter((m) => m.kind === 'unmapped');
    expect(unmapped.length).toBeGreaterThan(0);
    for (const m of unmapped) {
      expect(m.unmappedCode).toMatch(/^ZZ\d{3}$/);
      expect(m.expectedAck).toBe('AA');
      expect(m.reachesChart).toBe(false);
      expect(m.order.observations.some((o) => o.loinc === undefined)).toBe(true);
    }
  });

  it('flags numeric values consistently with the reference and critical ranges', () => {
    let critical = 0;
    let abnormal = 0;
    for (const m of parseable) {
      for (const obs of m.order.observations) {
        const test = catalogue.tests.find((t) => t.localCode === obs.localCode);
        if (!test || test.valueType !== 'NM') continue;
        const value = Number(obs.value.replace(/^[<>]/, ''));
        expect(Number.isFinite(value)).toBe(true);
        expect(value).toBeGreaterThan(0);
        const { referenceLow: lo, referenceHigh: hi, criticalLow: cLo, criticalHigh: cHi } = test;
        switch (obs.flag) {
          case '':
            if (lo !== undefined) expect(value).toBeGreaterThanOrEqual(lo);
            if (hi !== undefined) expect(value).toBeLessThanOrEqual(hi);
            break;
          case 'L':
            expect(value).toBeLessThan(lo!);
            if (cLo !== undefined) expect(value).toBeGreaterThan(cLo);
            abnormal += 1;
            break;
          case 'H':
            expect(value).toBeGreaterThan(hi!);
            if (cHi !== undefined) expect(value).toBeLessThan(cHi);
            abnormal += 1;
            break;
          case 'LL':
            expect(value).toBeLessThan(cLo!);
            critical += 1;
            break;
          case 'HH':
            expect(value).toBeGreaterThan(cHi ?? hi!);
            critical += 1;
            break;
          case 'A':
            throw new Error(`numeric ${obs.localCode} flagged A`);
        }
        expect(obs.critical).toBe(obs.flag === 'LL' || obs.flag === 'HH');
      }
      expect(m.critical).toBe(m.order.observations.some((o) => o.critical));
    }
    expect(critical).toBeGreaterThan(50);
    expect(abnormal).toBeGreaterThan(200);
  });

  it('puts a critical value in every result when asked to, with panic limits from the table', () => {
    const all = generate(200, { mix: { ...BUSY_MIX, critical: 1 } }).filter(
      (m) => m.kind === 'result',
    );
    for (const m of all) {
      // a numeric test with a panic limit or an upper reference limit can be made critical
      const canBeCritical = m.order.observations.some((o) =>
        catalogue.tests.some(
          (t) =>
            t.localCode === o.localCode &&
            t.valueType === 'NM' &&
            (t.criticalLow !== undefined ||
              t.criticalHigh !== undefined ||
              t.referenceHigh !== undefined),
        ),
      );
      expect(m.critical).toBe(canBeCritical);
    }
    const withLimits = all.flatMap((m) =>
      m.order.observations.filter((o) => {
        const range = o.loinc ? terminology.criticalRangesFor(o.loinc) : [];
        return o.critical && range.length > 0;
      }),
    );
    expect(withLimits.length).toBeGreaterThan(all.length / 2);
  });

  it('writes comparators, comments and escaped delimiters that read back as written', () => {
    const values = parseable.flatMap((m) => m.order.observations.map((o) => o.value));
    expect(values.some((v) => v.startsWith('>'))).toBe(true);
    expect(values.some((v) => /^<\d/.test(v))).toBe(true);
    expect(values.some((v) => /^1:\d+$/.test(v))).toBe(true); // titers (SN ratio)
    expect(values.some((v) => /^<1:\d+$/.test(v))).toBe(true);
    const notes = parseable.flatMap((m) =>
      Hl7Message.parse(m.bytes)
        .segments('NTE')
        .map((s) => s.get(3) ?? ''),
    );
    expect(notes).toContain('Hemolysis index 2+ | potassium may be falsely elevated.');
    expect(notes).toContain('Non-fasting sample & lipemic: interpret with caution.');
    expect(notes).toContain('Delta check failed ^ reviewed by technologist.');
    expect(notes.some((n) => n.startsWith('Critical value phoned'))).toBe(true);
  });

  it('reuses a pool of patients and gives every order its own placer and filler number', () => {
    const results = stream.filter((m) => m.kind === 'result' || m.kind === 'unmapped');
    const mrns = new Set(results.map((m) => m.patient.mrn));
    expect(mrns.size).toBeLessThan(results.length / 2);
    const fillers = results.map((m) => m.order.fillerOrderNumber);
    expect(new Set(fillers).size).toBe(fillers.length);
    const placers = results.map((m) => m.order.placerOrderNumber);
    expect(new Set(placers).size).toBe(placers.length);
    const ids = stream.filter((m) => m.kind !== 'duplicate').map((m) => m.controlId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('corrects an order sent earlier: same order numbers, a new MSH-10, OBR-25 and OBX-11 C, a changed value', () => {
    const corrections = stream.filter((m) => m.kind === 'correction');
    expect(corrections.length).toBeGreaterThan(50);
    for (const correction of corrections) {
      const earlier = stream.find((m) => m.controlId === correction.corrects);
      expect(earlier).toBeDefined();
      expect(earlier!.seq).toBeLessThan(correction.seq);
      expect(['result', 'correction']).toContain(earlier!.kind);
      expect(correction.dependsOn).toBe(earlier!.controlId);
      expect(correction.controlId).not.toBe(earlier!.controlId);
      expect(correction.order.fillerOrderNumber).toBe(earlier!.order.fillerOrderNumber);
      expect(correction.order.placerOrderNumber).toBe(earlier!.order.placerOrderNumber);
      expect(correction.patient).toBe(earlier!.patient);
      expect(correction.order.status).toBe('C');
      expect(correction.reachesChart).toBe(true);
      const changed = correction.order.observations.filter(
        (o, i) => o.value !== earlier!.order.observations[i]!.value,
      );
      expect(changed.length).toBeGreaterThan(0);
      for (const o of changed) expect(o.status).toBe('C');
      const order = onlyOrder(Hl7Message.parse(correction.bytes));
      expect(order.obr.get(25)).toBe('C');
      const noted = order.observations.filter(({ notes }) =>
        notes.some((n) => (n.get(3) ?? '').startsWith('Corrected result: previously reported as')),
      );
      expect(noted.length).toBeGreaterThanOrEqual(changed.length);
    }
  });

  it('repeats earlier messages byte for byte as duplicates', () => {
    const duplicates = stream.filter((m) => m.kind === 'duplicate');
    expect(duplicates.length).toBeGreaterThan(50);
    for (const duplicate of duplicates) {
      const original = stream.find(
        (m) => m.controlId === duplicate.controlId && m.kind !== 'duplicate',
      );
      expect(original).toBeDefined();
      expect(original!.seq).toBeLessThan(duplicate.seq);
      expect(duplicate.bytes.equals(original!.bytes)).toBe(true);
      expect(duplicate.dependsOn).toBe(original!.controlId);
      expect(duplicate.expectedAck).toBe('AA');
      expect(duplicate.reachesChart).toBe(false);
    }
  });

  it('makes malformed messages that hl7-core refuses and that the gateway answers AR', () => {
    const malformed = stream.filter((m) => m.kind === 'malformed');
    const kinds = new Set(malformed.map((m) => m.malformation));
    expect([...kinds].sort()).toEqual(['bad-msh', 'garbage', 'truncated']);
    for (const m of malformed) {
      expect(m.bytes.includes(0x0b)).toBe(false);
      expect(m.bytes.includes(0x1c)).toBe(false);
      let error: unknown;
      try {
        Hl7Message.parse(m.bytes);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(Hl7ParseError);
      const ack = buildRejectForUnparseable(m.bytes, error as Hl7ParseError);
      expect(ack.get('MSA-1')).toBe(m.expectedAck);
      expect(m.expectedAck).toBe('AR');
      // the gateway can name the message it refuses, unless there is no MSH at all
      expect(ack.get('MSA-2') ?? '').toBe(m.malformation === 'garbage' ? '' : m.controlId);
      expect(m.reachesChart).toBe(false);
    }
  });

  it('writes v2.3 as Latin-1 with MSH-18 8859/1 when asked', () => {
    const v23 = generate(300, { version: '2.3', mix: DEFAULT_TRAFFIC_MIX });
    let nonAscii = 0;
    for (const m of v23.filter((x) => x.parseable)) {
      const hl7 = Hl7Message.parse(m.bytes);
      expect(hl7.version).toBe('2.3');
      expect(hl7.messageType).toBe('ORU^R01');
      expect(hl7.get('MSH-9.3')).toBeUndefined();
      expect(hl7.get('MSH-18')).toBe('8859/1');
      expect(hl7.get('PID-5.1')).toBe(m.patient.familyName);
      expect(hl7.get('PID-5.2')).toBe(m.patient.givenName);
      expect(hl7.segments('SPM')).toHaveLength(0);
      for (const { obx } of onlyOrder(hl7).observations) expect(obx.get(2)).not.toBe('CWE');
      if (/[^\x20-\x7e]/.test(m.patient.familyName + m.patient.givenName)) {
        nonAscii += 1;
        // Latin-1 bytes: not valid UTF-8 for these names
        expect(m.bytes.toString('latin1')).toContain(m.patient.familyName);
      }
    }
    expect(nonAscii).toBeGreaterThan(0);
  });

  it('asks for enhanced-mode acknowledgement when told to, and expects CA/CR', () => {
    for (const m of generate(300, { ackMode: 'enhanced' })) {
      if (m.kind === 'malformed') {
        expect(m.expectedAck).toBe(m.malformation === 'garbage' ? 'AR' : 'CR');
        let error: unknown;
        try {
          Hl7Message.parse(m.bytes);
        } catch (e) {
          error = e;
        }
        expect(buildRejectForUnparseable(m.bytes, error as Error).get('MSA-1')).toBe(m.expectedAck);
      } else {
        expect(m.expectedAck).toBe('CA');
        expect(Hl7Message.parse(m.bytes).get('MSH-15')).toBe('AL');
      }
    }
  });

  it('keeps the run id in every MSH-10 and order number, and refuses a bad one', () => {
    const [first] = generate(1, { runId: 'RUN7' });
    expect(first!.controlId).toBe('RUN700000001');
    expect(first!.order.fillerOrderNumber.startsWith('FRUN7')).toBe(true);
    expect(first!.controlId.length).toBeLessThanOrEqual(20);
    expect(() => generate(1, { runId: 'run-7' })).toThrow(RangeError);
    expect(() => generate(1, { mix: { malformed: 1.5 } })).toThrow(RangeError);
  });

  it('follows the clock it is given', () => {
    const at = new Date('2026-03-01T12:34:56Z');
    const [message] = generate(1, { clock: () => at });
    expect(Hl7Message.parse(message!.bytes).get('MSH-7')).toBe('20260301123456+0000');
  });
});

describe('lab catalogue', () => {
  it('comes from the terminology table with critical ranges in the test unit', () => {
    const potassium = catalogue.tests.find((t) => t.loinc === '2823-3');
    expect(potassium).toMatchObject({
      localCode: 'K',
      unit: 'mmol/L',
      referenceLow: 3.5,
      referenceHigh: 5.1,
      criticalLow: 2.8,
      criticalHigh: 6.2,
    });
    expect(catalogue.sendingApplication).toBe('SIMLIS');
    expect(catalogue.orderables.map((o) => o.localCode)).toContain('BMP');
  });

  it('refuses a catalogue that names tests it does not have', () => {
    const broken: LabCatalogue = {
      ...catalogue,
      orderables: [{ ...catalogue.orderables[0]!, components: ['NOPE'] }],
    };
    expect(() => validateLabCatalogue(broken)).toThrow(LabCatalogueError);
    expect(() => validateLabCatalogue(broken)).toThrow(/component NOPE/);
    expect(() => labCatalogueFromTerminology(terminology, 'NO-SUCH-LAB')).toThrow(
      /NO-SUCH-LAB is not in the terminology table/,
    );
  });
});
