import { loadTerminology } from '@ancillary/terminology';
import type { OrderOutcome, PlacedOrder } from './ehr-order.client';
import { planOrders, summarizeOrderLoop, type PlacedPlan } from './order-workload';

const terminology = loadTerminology();
const options = {
  seed: 42,
  lab: 6,
  imaging: 3,
  pharmacy: 3,
  statFraction: 0.25,
  cancellations: 2,
  patients: 4,
  assigningAuthority: 'NWH',
  placerPrefix: 'T-',
};

describe('planOrders', () => {
  it('draws the asked mix from the tables the ancillaries understand, the same for a seed', () => {
    const plan = planOrders(terminology, options);
    expect(plan).toEqual(planOrders(terminology, options));
    expect(plan.filter((o) => o.kind === 'lab')).toHaveLength(6);
    expect(plan.filter((o) => o.kind === 'imaging')).toHaveLength(3);
    expect(plan.filter((o) => o.kind === 'pharmacy')).toHaveLength(3);
    const loincs = new Set(terminology.orderables('NWH-LAB').map((o) => o.loincCode));
    const cpts = new Set(terminology.imagingProcedures('NWH-RAD').map((p) => p.cptCode));
    const rxnorms = new Set(terminology.formulary('NWH-RX').map((f) => f.rxnormCode));
    for (const order of plan) {
      const codes = { lab: loincs, imaging: cpts, pharmacy: rxnorms }[order.kind];
      expect(codes.has(order.code)).toBe(true);
    }
    expect(new Set(plan.map((o) => o.placerOrderNumber)).size).toBe(plan.length);
    expect(new Set(plan.map((o) => o.patient.mrn)).size).toBeLessThanOrEqual(4);
  });

  it('cancels only routine orders, as many as asked', () => {
    const plan = planOrders(terminology, options);
    const cancelled = plan.filter((o) => o.cancel);
    expect(cancelled).toHaveLength(2);
    expect(cancelled.every((o) => o.priority === 'routine')).toBe(true);
  });

  it('differs for another seed', () => {
    const a = planOrders(terminology, options).map((o) => `${o.kind}:${o.code}:${o.priority}`);
    const b = planOrders(terminology, { ...options, seed: 43 }).map(
      (o) => `${o.kind}:${o.code}:${o.priority}`,
    );
    expect(a).not.toEqual(b);
  });
});

describe('summarizeOrderLoop', () => {
  const placed = (kind: PlacedPlan['planned']['kind'], n: number, stat = false): PlacedPlan => {
    const [plannedTemplate] = planOrders(terminology, {
      ...options,
      lab: 1,
      imaging: 0,
      pharmacy: 0,
    });
    const placerOrderNumber = `${kind}-${n}`;
    const order: PlacedOrder = {
      kind,
      resourceType: kind === 'pharmacy' ? 'MedicationRequest' : 'ServiceRequest',
      id: placerOrderNumber,
      placerOrderNumber,
      priority: stat ? 'stat' : 'routine',
      authoredAt: 1_000_000,
      httpStatus: 201,
    };
    return {
      planned: { ...plannedTemplate!, kind, placerOrderNumber, priority: order.priority },
      placed: order,
    };
  };

  it('counts states and gives order-to-result percentiles per ancillary, STAT apart', () => {
    const orders = [
      placed('lab', 1),
      placed('lab', 2),
      placed('lab', 3, true),
      placed('lab', 4),
      placed('imaging', 1),
      placed('pharmacy', 1),
    ];
    const done = (seconds: number): OrderOutcome => ({
      state: 'completed',
      status: 'completed',
      resultAt: 1_000_000 + seconds * 1000,
    });
    const outcomes = new Map<string, OrderOutcome>([
      ['lab-1', done(4)],
      ['lab-2', done(2)],
      ['lab-3', done(1)],
      ['lab-4', { state: 'rejected', status: 'revoked', rejection: 'no' }],
      ['imaging-1', { state: 'accepted', status: 'active' }],
      ['pharmacy-1', { state: 'cancelled', status: 'cancelled' }],
    ]);
    const [lab, imaging, pharmacy] = summarizeOrderLoop(orders, outcomes);
    expect(lab).toMatchObject({
      kind: 'lab',
      placed: 4,
      completed: 3,
      rejected: 1,
      cancelled: 0,
      unsettled: 0,
      maxSeconds: 4,
      statP50Seconds: 1,
    });
    expect(lab!.p50Seconds).toBe(2);
    expect(imaging).toMatchObject({ placed: 1, completed: 0, unsettled: 1, p50Seconds: undefined });
    expect(pharmacy).toMatchObject({ placed: 1, cancelled: 1, unsettled: 0 });
  });
});
