import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Hl7ParseError } from './hl7.errors';
import { Hl7Message } from './hl7-message';
import { oruObservations, readOruR01 } from './oru-r01.groups';

const parse = (name: string): Hl7Message =>
  Hl7Message.parse(readFileSync(join(__dirname, '..', 'fixtures', name)));

describe('readOruR01', () => {
  it('groups a v2.5.1 CBC: patient, order, timing, observations with notes, specimen, Z-segment', () => {
    const oru = readOruR01(parse('oru-r01-v251-cbc.hl7'));
    expect(oru.software.map((s) => s.get(3))).toEqual(['LabWare Results']);
    expect(oru.patientResults).toHaveLength(1);
    const result = oru.patientResults[0]!;
    expect(result.patient?.pid.get(3)).toBe('E1234567');
    expect(result.patient?.pd1?.get(3)).toBe('GENHOSP CLINIC');
    expect(result.patient?.pv1?.get(2)).toBe('E');
    expect(result.patient?.notes.map((n) => n.get(3))).toEqual(['Patient fasting since midnight.']);
    expect(result.orders).toHaveLength(1);
    const order = result.orders[0]!;
    expect(order.orc?.get(1)).toBe('RE');
    expect(order.obr.get(4)).toBe('58410-2');
    expect(order.timing.map((t) => t.get(9, 1, 2))).toEqual(['Stat']);
    expect(order.observations).toHaveLength(12);
    expect(order.observations.map((o) => o.obx.get(8))).toEqual([
      'HH',
      'L',
      'LL',
      'LL',
      'N',
      'H',
      'H',
      '',
      '',
      '',
      '',
      '',
    ]);
    expect(order.observations[2]?.notes.map((n) => n.get(3))).toEqual([
      'Critical value called to and read back by R. NURSE RN at 10:12 on 03/16/2024.',
    ]);
    expect(order.specimens.map((s) => s.spm.get(4, 1, 2))).toEqual(['Blood specimen']);
    expect(order.specimens[0]?.other.map((s) => s.name)).toEqual(['ZLR']);
    expect(order.specimens[0]?.other[0]?.get(3)).toBe('Q\rA');
  });

  it('groups a v2.3 chemistry panel with order notes after the last OBX', () => {
    const oru = readOruR01(parse('oru-r01-v23-chemistry.hl7'));
    const order = oru.patientResults[0]!.orders[0]!;
    expect(order.observations.map((o) => o.obx.get(3))).toEqual([
      'GLU',
      'BUN',
      'CREAT',
      'NA',
      'K',
      'CL',
      'CO2',
      'CA',
      'TP',
      'ALB',
      'TBIL',
      'ALP',
      'AST',
      'ALT',
      'TRIG',
    ]);
    expect(order.observations[14]?.notes).toHaveLength(2);
    expect([...oruObservations(oru)].map((x) => x.observation.obx.get(5))).toContain('>400');
    expect([...oruObservations(oru)][0]?.patient?.pid.get(5)).toBe('DOE');
  });

  it('starts new patient results and orders; OBR without ORC is an order', () => {
    const text = [
      'MSH|^~\\&|A|B|C|D|1||ORU^R01|1|P|2.5.1',
      'PID|1||P1',
      'OBR|1|||A',
      'OBX|1|NM|X||1',
      'OBR|2|||B',
      'OBX|1|NM|Y||2',
      'NTE|1||note on Y',
      'PID|2||P2',
      'ORC|RE',
      'OBR|1|||C',
      'DSC|cont',
    ].join('\r');
    const oru = readOruR01(Hl7Message.parse(text));
    expect(oru.patientResults.map((r) => r.patient?.pid.get(3))).toEqual(['P1', 'P2']);
    expect(oru.patientResults[0]?.orders.map((o) => o.obr.get(4))).toEqual(['A', 'B']);
    expect(oru.patientResults[0]?.orders[1]?.observations[0]?.notes).toHaveLength(1);
    expect(oru.patientResults[1]?.orders[0]?.orc?.get(1)).toBe('RE');
    expect(oru.patientResults[1]?.orders[0]?.other.map((s) => s.name)).toEqual(['DSC']);
  });

  it('refuses out-of-sequence segments instead of returning a partial result', () => {
    const error = (text: string): Hl7ParseError => {
      try {
        readOruR01(Hl7Message.parse(text));
      } catch (e) {
        expect(e).toBeInstanceOf(Hl7ParseError);
        return e as Hl7ParseError;
      }
      throw new Error('expected an error');
    };
    const obxFirst = error(parse('broken/oru-obx-before-obr.hl7').toString());
    expect(obxFirst).toMatchObject({
      code: 'SEGMENT_SEQUENCE',
      hl7ErrorCode: '100',
      segment: 'OBX',
      segmentIndex: 1,
      position: 3,
    });
    const msh = 'MSH|^~\\&|A|B|C|D|1||ORU^R01|1|P|2.5.1\r';
    expect(error(`${msh}PID|1\rORC|RE\rPID|2\rOBR|1\r`).message).toBe(
      'ORC at segment 3: ORC without OBR',
    );
    expect(error(`${msh}PID|1\rOBR|1\rPV1|1\r`).segment).toBe('PV1');
    expect(error(`${msh}PID|1\r`).message).toBe('ORU patient group without any OBR');
    expect(error('MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5.1\r')).toMatchObject({
      code: 'MESSAGE_TYPE',
      hl7ErrorCode: '200',
    });
  });
});
