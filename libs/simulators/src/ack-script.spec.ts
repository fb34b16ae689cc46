import {
  AckScript,
  AckScriptError,
  describeAckAction,
  globMatches,
  parseAckScript,
  type AckSubject,
} from './ack-script';

function subject(overrides: Partial<AckSubject> = {}): AckSubject {
  return {
    index: 1,
    placers: ['PLC-1'],
    codes: ['BMP', '51990-0'],
    orderControls: ['NW'],
    priorities: ['R'],
    ...overrides,
  };
}

describe('ack script syntax', () => {
  it('reads every action and selector', () => {
    const script = parseAckScript(
      'reject:Unknown test@code=ZZ*, 2*error@placer=PLC-9*, drop@3, delay:2000@5, delay:1500:commit-error:busy@6-8, lose-ack@9+, silent@cancel, reject@stat, accept@new, accept',
    );
    expect(script.rules.map((r) => [r.action, r.when, r.times])).toEqual([
      [{ kind: 'reject', text: 'Unknown test' }, { kind: 'code', pattern: 'ZZ*' }, undefined],
      [{ kind: 'error' }, { kind: 'placer', pattern: 'PLC-9*' }, 2],
      [{ kind: 'drop' }, { kind: 'index', from: 3, to: 3 }, undefined],
      [
        { kind: 'delay', ms: 2000, then: { kind: 'accept' } },
        { kind: 'index', from: 5, to: 5 },
        undefined,
      ],
      [
        { kind: 'delay', ms: 1500, then: { kind: 'commit-error', text: 'busy' } },
        { kind: 'index', from: 6, to: 8 },
        undefined,
      ],
      [{ kind: 'lose-ack' }, { kind: 'index', from: 9, to: Infinity }, undefined],
      [{ kind: 'silent' }, { kind: 'cancel' }, undefined],
      [{ kind: 'reject' }, { kind: 'stat' }, undefined],
      [{ kind: 'accept' }, { kind: 'new' }, undefined],
      [{ kind: 'accept' }, { kind: 'any' }, undefined],
    ]);
  });

  it('keeps text after the first colon, and takes \\, and \\@ literally', () => {
    const script = parseAckScript('reject:Code 103: value not found\\, see table\\@lab@placer=X*');
    expect(script.rules[0]?.action).toEqual({
      kind: 'reject',
      text: 'Code 103: value not found, see table@lab',
    });
    expect(script.rules[0]?.when).toEqual({ kind: 'placer', pattern: 'X*' });
  });

  it('an empty script, or blanks between commas, accept everything', () => {
    expect(parseAckScript('').rules).toEqual([]);
    expect(parseAckScript(' , ,').toString()).toBe('accept');
    expect(parseAckScript('').decide(subject()).action).toEqual({ kind: 'accept' });
  });

  it.each([
    ['explode', /unknown action "explode"/],
    ['accept:now', /accept takes no argument/],
    ['delay', /delay needs milliseconds/],
    ['delay:soon', /delay needs milliseconds/],
    ['delay:10:delay:20', /cannot delay another delay/],
    ['drop@0', /arrival numbers start at 1/],
    ['drop@5-3', /range must not be empty/],
    ['drop@mrn=1', /unknown selector "mrn="/],
    ['drop@placer=', /placer= needs a pattern/],
    ['drop@tuesday', /unknown selector "tuesday"/],
    ['0*drop', /count before \* must be ≥ 1/],
    ['drop@1@2', /one @ per rule/],
    ['@3', /no action/],
  ])('refuses %j', (text, message) => {
    expect(() => parseAckScript(text)).toThrow(AckScriptError);
    expect(() => parseAckScript(text)).toThrow(message);
    expect(() => parseAckScript(text)).toThrow(`"${text}"`);
  });
});

describe('ack script decisions', () => {
  it('the first matching rule decides; nothing matching is accepted', () => {
    const script = parseAckScript('reject:no@placer=PLC-9*, drop@2, accept@cancel');
    expect(script.decide(subject({ placers: ['PLC-901'] })).action).toEqual({
      kind: 'reject',
      text: 'no',
    });
    expect(script.decide(subject({ index: 2 })).action).toEqual({ kind: 'drop' });
    expect(script.decide(subject({ index: 2, placers: ['PLC-9'] })).rule?.source).toBe(
      'reject:no@placer=PLC-9*',
    );
    const none = script.decide(subject({ index: 3 }));
    expect(none.action).toEqual({ kind: 'accept' });
    expect(none.rule).toBeUndefined();
  });

  it('matches codes (any coding), order controls and priority', () => {
    const script = parseAckScript('error@code=5199?-0, reject@cancel, delay:10@stat');
    expect(script.decide(subject()).action.kind).toBe('error');
    expect(script.decide(subject({ codes: ['K'], orderControls: ['CA'] })).action.kind).toBe(
      'reject',
    );
    expect(script.decide(subject({ codes: ['K'], priorities: ['S'] })).action.kind).toBe('delay');
    expect(script.decide(subject({ codes: ['K'] })).action.kind).toBe('accept');
  });

  it('a counted rule is used up, then passed over', () => {
    const script = parseAckScript('2*error@placer=PLC-1, reject');
    const outcomes = [1, 2, 3, 4].map((index) => script.decide(subject({ index })).action.kind);
    expect(outcomes).toEqual(['error', 'error', 'reject', 'reject']);
  });

  it('ranges and open ranges by arrival number', () => {
    const script = parseAckScript('drop@2-3, silent@5+');
    expect(
      [1, 2, 3, 4, 5, 9].map((index) => script.decide(subject({ index })).action.kind),
    ).toEqual(['accept', 'drop', 'drop', 'accept', 'silent', 'silent']);
  });

  it('each instance counts its own uses', () => {
    const rules = parseAckScript('1*drop').rules;
    const a = new AckScript(rules);
    const b = new AckScript(rules);
    expect(a.decide(subject()).action.kind).toBe('drop');
    expect(a.decide(subject()).action.kind).toBe('accept');
    expect(b.decide(subject()).action.kind).toBe('drop');
  });

  it('describes actions in the script syntax', () => {
    expect(
      parseAckScript(
        'accept, reject, reject:why, error:busy, commit-error, delay:5, delay:5:drop, lose-ack, silent',
      ).rules.map((r) => describeAckAction(r.action)),
    ).toEqual([
      'accept',
      'reject',
      'reject:why',
      'error:busy',
      'commit-error',
      'delay:5',
      'delay:5:drop',
      'lose-ack',
      'silent',
    ]);
  });

  it('globs match whole values, * any run, ? one character, regex characters literally', () => {
    expect(globMatches('PLC-9*', 'PLC-9')).toBe(true);
    expect(globMatches('PLC-9*', 'XPLC-9')).toBe(false);
    expect(globMatches('A?C', 'ABC')).toBe(true);
    expect(globMatches('A?C', 'AC')).toBe(false);
    expect(globMatches('1.2+(3)', '1.2+(3)')).toBe(true);
    expect(globMatches('1.2', '1x2')).toBe(false);
  });
});
