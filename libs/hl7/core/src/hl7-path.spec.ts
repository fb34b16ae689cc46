import { parsePath } from './hl7-path';

describe('parsePath', () => {
  it.each([
    ['PID-3', { segment: 'PID', field: 3 }],
    ['PID-3[2].1', { segment: 'PID', field: 3, repetition: 2, component: 1 }],
    ['OBX[4]-5.1.2', { segment: 'OBX', occurrence: 4, field: 5, component: 1, subcomponent: 2 }],
    ['ZP1-12', { segment: 'ZP1', field: 12 }],
    ['MSH-9-1', { segment: 'MSH', field: 9, component: 1 }],
    ['3[2].1', { field: 3, repetition: 2, component: 1 }],
  ])('%s', (path, expected) => {
    expect(parsePath(path)).toEqual(expected);
  });

  it.each(['', 'PID', 'pid-3', 'PID-0', 'PID-3[0]', 'PID-3.1.2.3', 'PID-x'])(
    'refuses %j',
    (path) => {
      expect(() => parsePath(path)).toThrow(TypeError);
    },
  );
});
