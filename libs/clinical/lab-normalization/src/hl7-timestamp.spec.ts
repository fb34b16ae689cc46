import {
  Hl7TimestampError,
  assertTimeZone,
  parseHl7Date,
  parseHl7Timestamp,
} from './hl7-timestamp';

const iso = (ms: number): string => new Date(ms).toISOString();

describe('parseHl7Timestamp', () => {
  it('honours an explicit offset whatever the default zone', () => {
    expect(iso(parseHl7Timestamp('20261115083000-0500', 'Asia/Tokyo'))).toBe(
      '2026-11-15T13:30:00.000Z',
    );
    expect(iso(parseHl7Timestamp('20261115083000+0100', 'UTC'))).toBe('2026-11-15T07:30:00.000Z');
    expect(iso(parseHl7Timestamp('202611150830+0530', 'UTC'))).toBe('2026-11-15T03:00:00.000Z');
    expect(iso(parseHl7Timestamp('20261115083000+0000', 'America/New_York'))).toBe(
      '2026-11-15T08:30:00.000Z',
    );
  });

  it('reads partial precision as the start of the period', () => {
    expect(iso(parseHl7Timestamp('2026', 'UTC'))).toBe('2026-01-01T00:00:00.000Z');
    expect(iso(parseHl7Timestamp('202611', 'UTC'))).toBe('2026-11-01T00:00:00.000Z');
    expect(iso(parseHl7Timestamp('20261115', 'UTC'))).toBe('2026-11-15T00:00:00.000Z');
    expect(iso(parseHl7Timestamp('2026111508', 'UTC'))).toBe('2026-11-15T08:00:00.000Z');
    expect(iso(parseHl7Timestamp('202611150830', 'UTC'))).toBe('2026-11-15T08:30:00.000Z');
  });

  it('keeps fractions of a second to the millisecond', () => {
    expect(iso(parseHl7Timestamp('20261115083000.1234', 'UTC'))).toBe('2026-11-15T08:30:00.123Z');
    expect(iso(parseHl7Timestamp('20261115083000.5', 'UTC'))).toBe('2026-11-15T08:30:00.500Z');
  });

  it('applies the default zone, winter and summer offsets alike', () => {
    expect(iso(parseHl7Timestamp('20260115083000', 'America/New_York'))).toBe(
      '2026-01-15T13:30:00.000Z',
    );
    expect(iso(parseHl7Timestamp('20260715083000', 'America/New_York'))).toBe(
      '2026-07-15T12:30:00.000Z',
    );
    expect(iso(parseHl7Timestamp('20260715083000', 'Europe/London'))).toBe(
      '2026-07-15T07:30:00.000Z',
    );
    expect(iso(parseHl7Timestamp('20260715083000', 'Asia/Kolkata'))).toBe(
      '2026-07-15T03:00:00.000Z',
    );
  });

  it('moves a time in the spring-forward gap forward by the gap', () => {
    // New York skips 02:00–03:00 on 8 March 2026: 02:30 does not exist and reads as 03:30 EDT.
    expect(iso(parseHl7Timestamp('20260308023000', 'America/New_York'))).toBe(
      '2026-03-08T07:30:00.000Z',
    );
    expect(iso(parseHl7Timestamp('20260308013000', 'America/New_York'))).toBe(
      '2026-03-08T06:30:00.000Z',
    );
    expect(iso(parseHl7Timestamp('20260308030000', 'America/New_York'))).toBe(
      '2026-03-08T07:00:00.000Z',
    );
    // London skips 01:00–02:00 on 29 March 2026.
    expect(iso(parseHl7Timestamp('20260329013000', 'Europe/London'))).toBe(
      '2026-03-29T01:30:00.000Z',
    );
  });

  it('reads a time in the repeated autumn hour as the first of the two', () => {
    // New York repeats 01:00–02:00 on 1 November 2026: 01:30 EDT comes first.
    expect(iso(parseHl7Timestamp('20261101013000', 'America/New_York'))).toBe(
      '2026-11-01T05:30:00.000Z',
    );
    expect(iso(parseHl7Timestamp('20261101023000', 'America/New_York'))).toBe(
      '2026-11-01T07:30:00.000Z',
    );
    // With the offset sent, the second 01:30 is unambiguous.
    expect(iso(parseHl7Timestamp('20261101013000-0500', 'America/New_York'))).toBe(
      '2026-11-01T06:30:00.000Z',
    );
    // London repeats 01:00–02:00 on 25 October 2026.
    expect(iso(parseHl7Timestamp('20261025013000', 'Europe/London'))).toBe(
      '2026-10-25T00:30:00.000Z',
    );
  });

  it('handles the southern hemisphere, where summer time spans the new year', () => {
    expect(iso(parseHl7Timestamp('20260115120000', 'Australia/Sydney'))).toBe(
      '2026-01-15T01:00:00.000Z',
    );
    expect(iso(parseHl7Timestamp('20260715120000', 'Australia/Sydney'))).toBe(
      '2026-07-15T02:00:00.000Z',
    );
  });

  it('checks leap years', () => {
    expect(iso(parseHl7Timestamp('20240229', 'UTC'))).toBe('2024-02-29T00:00:00.000Z');
    expect(() => parseHl7Timestamp('20260229', 'UTC')).toThrow(
      '"20260229" has day 29, month 2 has 28',
    );
    expect(iso(parseHl7Timestamp('20000229', 'UTC'))).toBe('2000-02-29T00:00:00.000Z');
    expect(() => parseHl7Timestamp('21000229', 'UTC')).toThrow(Hl7TimestampError);
  });

  it.each([
    ['2026111', 'is not an HL7 date/time'],
    ['20261115 0830', 'is not an HL7 date/time'],
    ['2026-11-15T08:30:00Z', 'is not an HL7 date/time'],
    ['20261115083000Z', 'is not an HL7 date/time'],
    ['20261315', 'has month 13'],
    ['20261100', 'has day 0'],
    ['20261115250000', 'has hour 25'],
    ['20261115086000', 'has minute 60'],
    ['20261115083060', 'has second 60'],
    ['20261115083000+1500', 'has offset +1500, outside -1400..+1400'],
    ['20261115083000+0160', 'has offset +0160'],
    ['', 'is not an HL7 date/time'],
  ])('refuses %j (%s)', (value, reason) => {
    expect(() => parseHl7Timestamp(value, 'UTC')).toThrow(Hl7TimestampError);
    expect(() => parseHl7Timestamp(value, 'UTC')).toThrow(reason);
  });
});

describe('parseHl7Date', () => {
  it.each([
    ['1970', '1970'],
    ['197004', '1970-04'],
    ['19700415', '1970-04-15'],
    ['197004150830', '1970-04-15'],
    ['19700415083000-0500', '1970-04-15'],
  ])('%s → %s', (value, date) => {
    expect(parseHl7Date(value)).toBe(date);
  });

  it('refuses an impossible date', () => {
    expect(() => parseHl7Date('19700231')).toThrow('"19700231" has day 31, month 2 has 28');
  });
});

describe('assertTimeZone', () => {
  it('accepts IANA zones and refuses unknown ones with the name', () => {
    expect(() => {
      assertTimeZone('Europe/Paris');
    }).not.toThrow();
    expect(() => {
      assertTimeZone('Mars/Olympus_Mons');
    }).toThrow('unknown IANA time zone "Mars/Olympus_Mons"');
  });
});
