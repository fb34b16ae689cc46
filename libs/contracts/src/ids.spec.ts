import { criticalAlertId, labResultEventId } from './ids';

describe('deterministic event ids', () => {
  it('gives the same RFC 9562 v5-shaped UUID for the same message and order group', () => {
    const id = labResultEventId('lis-main', 'MSG00001', 0, 'd1');
    expect(id).toBe(labResultEventId('lis-main', 'MSG00001', 0, 'd1'));
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('tells apart connections, control ids, message bytes and order groups, without ambiguous joins', () => {
    const ids = new Set([
      labResultEventId('lis-main', 'MSG00001', 0, 'd1'),
      labResultEventId('lis-main', 'MSG00001', 1, 'd1'),
      labResultEventId('lis-main', 'MSG00002', 0, 'd1'),
      labResultEventId('lis-east', 'MSG00001', 0, 'd1'),
      labResultEventId('lis-mainM', 'SG00001', 0, 'd1'),
      labResultEventId('lis-main', 'MSG00001', 0, 'd2'),
    ]);
    expect(ids.size).toBe(6); // a reused MSH-10 with other bytes is another event
    expect(criticalAlertId('e', 1)).not.toBe(criticalAlertId('e', 2));
  });
});
