import { parseCommandLine, parseInstant, parsePositiveInt } from './cli-args';
import { UsageError } from './tool-bootstrap';

describe('parseCommandLine', () => {
  const options = { since: { type: 'string' }, id: { type: 'string', multiple: true } } as const;

  it('reads repeatable options', () => {
    expect(parseCommandLine(['--since', 'x', '--id', 'a', '--id', 'b'], options, 'usage')).toEqual({
      since: 'x',
      id: ['a', 'b'],
    });
  });

  it('refuses unknown options and stray arguments with the usage text', () => {
    expect(() => parseCommandLine(['--sinse', 'x'], options, 'USAGE TEXT')).toThrow(UsageError);
    expect(() => parseCommandLine(['extra'], options, 'USAGE TEXT')).toThrow(/USAGE TEXT/);
  });
});

describe('parseInstant', () => {
  it('accepts ISO 8601 times with a zone, and bare dates as UTC midnight', () => {
    expect(parseInstant('since', '2026-11-26T08:00:00Z').toISOString()).toBe(
      '2026-11-26T08:00:00.000Z',
    );
    expect(parseInstant('since', '2026-11-26T09:30+01:00').toISOString()).toBe(
      '2026-11-26T08:30:00.000Z',
    );
    expect(parseInstant('since', '2026-11-26').toISOString()).toBe('2026-11-26T00:00:00.000Z');
  });

  it('refuses local times, which would shift across a DST change', () => {
    expect(() => parseInstant('since', '2026-11-26T08:00:00')).toThrow(/with a zone/);
    expect(() => parseInstant('until', 'yesterday')).toThrow(/--until "yesterday"/);
    expect(() => parseInstant('until', '2026-13-40T00:00:00Z')).toThrow(/not a valid time/);
  });
});

describe('parsePositiveInt', () => {
  it('accepts positive integers only', () => {
    expect(parsePositiveInt('limit', '25')).toBe(25);
    for (const bad of ['0', '-1', '1.5', 'ten', '']) {
      expect(() => parsePositiveInt('limit', bad)).toThrow(UsageError);
    }
  });
});
