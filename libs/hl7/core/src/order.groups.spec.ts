import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Hl7ParseError } from './hl7.errors';
import { Hl7Message } from './hl7-message';
import { readOrders } from './order.groups';

const parse = (name: string): Hl7Message =>
  Hl7Message.parse(readFileSync(join(__dirname, '..', 'fixtures', name)));

describe('readOrders', () => {
  it('ORM^O01 (v2.3, LF): two radiology orders with notes, diagnosis and an observation', () => {
    const orm = readOrders(parse('orm-o01-v23-radiology-lf.hl7'));
    expect(orm.patient?.pid.get(5)).toBe('POE');
    expect(orm.patient?.pv1?.get(3)).toBe('RAD');
    expect(orm.orders.map((o) => o.orc?.get(2))).toEqual(['RADORD1', 'RADORD2']);
    expect(orm.orders.map((o) => o.obr?.get(4, 1, 2))).toEqual([
      'XR CHEST 2 VIEWS',
      'CT ABD & PELVIS W CONTRAST',
    ]);
    expect(orm.orders[0]?.notes.map((n) => n.get(3))).toEqual(['Patient uses wheelchair.']);
    expect(orm.orders[0]?.other.map((s) => s.name)).toEqual(['DG1']);
    expect(orm.orders[1]?.observations.map((o) => o.obx.get(5))).toEqual(['82']);
  });

  it('OML^O21 (v2.5.1, CRLF): insurance with the patient, timing, observation, specimen', () => {
    const oml = readOrders(parse('oml-o21-v251-crlf.hl7'));
    expect(oml.patient?.other.map((s) => s.name)).toEqual(['IN1']);
    const [first, second] = oml.orders;
    expect(first?.timing.map((t) => t.get(9, 1, 1))).toEqual(['R']);
    expect(first?.obr?.get(4)).toBe('2345-7');
    expect(first?.notes.map((n) => n.get(3))).toEqual(['Fasting specimen.']);
    expect(first?.observations.map((o) => o.obx.get(3))).toEqual(['49541-6']);
    expect(first?.specimens.map((s) => s.spm.get(4))).toEqual(['119364003']);
    expect(second?.obr?.get(4, 1, 2)).toBe('Hemoglobin A1c/Hemoglobin.total in Blood');
  });

  it('RDE^O11: pharmacy orders with RXO, RXE, TQ1, routes, components and notes', () => {
    const rde = readOrders(parse('rde-o11-v25-pharmacy.hl7'));
    expect(rde.patient?.other.map((s) => s.name)).toEqual(['AL1']);
    expect(rde.orders).toHaveLength(2);
    const [vanco, apap] = rde.orders;
    expect(vanco?.rxo?.get(1, 1, 2)).toBe('Vancomycin');
    expect(vanco?.rxe?.get(2, 1, 2)).toBe('Vancomycin 1 g in NS 200 mL IV');
    expect(vanco?.timing.map((t) => t.get(3))).toEqual(['Q8H']);
    expect(vanco?.routes.map((r) => r.get(1))).toEqual(['IV', 'IV']);
    expect(vanco?.routes[1]?.get(2, 1, 2)).toBe('Left arm');
    expect(vanco?.components.map((c) => c.get(3))).toEqual(['200']);
    expect(vanco?.notes.map((n) => n.get(3))).toEqual(['Infuse over 90 minutes.']);
    expect(apap?.rxe?.get(3)).toBe('500');
    expect(apap?.timing[0]?.get(3, 1, 2)).toBe('Every 6 hours as needed');
  });

  it('RDS^O13: dispense with RXE, RXD, route, note and charge', () => {
    const rds = readOrders(parse('rds-o13-v251-dispense.hl7'));
    expect(rds.orders).toHaveLength(1);
    const order = rds.orders[0]!;
    expect(order.orc?.get(3)).toBe('DSP555');
    expect(order.rxd?.get(2, 1, 1)).toBe('00338-0049-04');
    expect(order.rxd?.get(3)).toBe('20240317160000');
    expect(order.routes).toHaveLength(1);
    expect(order.notes.map((n) => n.get(3))).toEqual(['Dispensed from 4W cabinet.']);
    expect(order.other.map((s) => s.name)).toEqual(['FT1']);
  });

  it('refuses segments that belong to no order', () => {
    const msh = 'MSH|^~\\&|A|B|C|D|1||OML^O21|1|P|2.5.1\r';
    for (const [body, segment] of [
      ['PID|1\rOBX|1\r', 'OBX'],
      ['RXR|IV\r', 'RXR'],
      ['PID|1\rORC|NW\rPID|2\r', 'PID'],
      ['ORC|NW\rSFT|x\r', 'SFT'],
    ] as const) {
      try {
        readOrders(Hl7Message.parse(msh + body));
        throw new Error('expected an error');
      } catch (e) {
        expect(e).toBeInstanceOf(Hl7ParseError);
        expect(e).toMatchObject({ code: 'SEGMENT_SEQUENCE', segment });
      }
    }
  });

  it('keeps message-level notes and DFT charges', () => {
    const dft = readOrders(parse('dft-p03-v25-charges.hl7'));
    expect(dft.orders).toHaveLength(0);
    expect(dft.patient?.other.map((s) => s.name)).toEqual(['FT1', 'FT1']);
    expect(dft.other.map((s) => s.name)).toEqual(['EVN']);
    const notes = readOrders(
      Hl7Message.parse('MSH|^~\\&|A|B|C|D|1||ORM^O01|1|P|2.3\rNTE|1||hello\r'),
    );
    expect(notes.notes.map((n) => n.get(3))).toEqual(['hello']);
  });
});
