/**
 * Ack scripts: how a simulated ancillary answers the orders it receives, so that a test or a
 * demo can make it misbehave the way real LIS, RIS and pharmacy systems do — refuse an order,
 * fail for a while, answer late, hang up, never answer.
 *
 * A script is a comma-separated list of rules, tried in order; the first rule that matches an
 * order message decides its answer, and a message no rule matches is accepted.
 *
 * ```
 * script   := rule { "," rule }
 * rule     := [ times "*" ] action [ "@" when ]
 * action   := "accept"                      AA (HTTP 201/200): the order is taken
 *           | "reject" [ ":" text ]          AR + ERR text (HTTP 422 OperationOutcome): never as it is
 *           | "error" [ ":" text ]           AE (HTTP 503): not taken, resend later
 *           | "commit-error" [ ":" text ]    CE (HTTP 500): not taken, resend later
 *           | "delay" ":" ms [ ":" action ]  answer `action` (default accept) after ms milliseconds
 *           | "drop"                         hang up without answering; the order is not taken
 *           | "lose-ack"                     take the order, then hang up before the answer
 *           | "silent"                       never answer (the connection stays open)
 * when     := n | n "-" m | n "+"            by arrival number (1-based, see below)
 *           | "placer=" glob                 by placer order number (ORC-2.1 / identifier)
 *           | "code=" glob                   by ordered code (OBR-4.1, RXO-1.1, RXE-2.1, any coding)
 *           | "new" | "cancel"               by order control (ORC-1 NW / CA; PUT cancel)
 *           | "stat"                         by priority S (stat)
 * glob     := text where "*" is any run of characters and "?" one character
 * times    := the rule applies at most this many times, then it is passed over
 * ```
 *
 * Examples: `reject:Unknown test@code=ZZ*` · `2*error@placer=PLC-9*` (fail twice, then the
 * default) · `drop@3, delay:2000@5, accept` · `delay:15000:reject:too late@stat`.
 * A `\` takes the next character literally (`reject:no\, never`).
 *
 * The arrival number counts the order messages that reach the script: a resend of a message
 * already answered AA/AR (same MSH-10, or for FHIR the same placer with If-None-Exist) is
 * answered from the simulator's de-duplication cache and does not count, while a resend after
 * AE/CE, a drop or silence is a new arrival. So `error@1` fails the first attempt and accepts
 * the resend, as an ancillary recovering from a hiccup does.
 */

export type AckAction =
  | { readonly kind: 'accept' }
  | { readonly kind: 'reject'; readonly text?: string }
  | { readonly kind: 'error'; readonly text?: string }
  | { readonly kind: 'commit-error'; readonly text?: string }
  | { readonly kind: 'delay'; readonly ms: number; readonly then: AckAction }
  | { readonly kind: 'drop' }
  | { readonly kind: 'lose-ack' }
  | { readonly kind: 'silent' };

export type AckSelector =
  | { readonly kind: 'any' }
  /** Arrival numbers `from`…`to`, inclusive; `to` may be Infinity. */
  | { readonly kind: 'index'; readonly from: number; readonly to: number }
  | { readonly kind: 'placer'; readonly pattern: string }
  | { readonly kind: 'code'; readonly pattern: string }
  | { readonly kind: 'new' }
  | { readonly kind: 'cancel' }
  | { readonly kind: 'stat' };

export interface AckRule {
  readonly action: AckAction;
  readonly when: AckSelector;
  /** At most this many uses; undefined: no limit. */
  readonly times?: number;
  /** The rule as written, for logs. */
  readonly source: string;
}

/** What a rule can look at in one order message. */
export interface AckSubject {
  /** Arrival number, 1-based (see the module comment). */
  readonly index: number;
  /** Placer order numbers of the message's orders. */
  readonly placers: readonly string[];
  /** Every code the message orders with (local and standard). */
  readonly codes: readonly string[];
  /** Order controls of the message's orders (ORC-1: NW, CA, …). */
  readonly orderControls: readonly string[];
  /** Priority codes of the message's orders (HL7 table 0027: S, A, R). */
  readonly priorities: readonly string[];
}

export interface AckDecision {
  readonly action: AckAction;
  /** The rule that decided; undefined when none matched (accepted by default). */
  readonly rule?: AckRule;
}

/** A script that cannot be read; the message names the rule and what is wrong with it. */
export class AckScriptError extends Error {
  override readonly name = 'AckScriptError';
}

const ACCEPT: AckAction = Object.freeze({ kind: 'accept' });

/**
 * A parsed ack script. `decide()` is stateful (a rule with `times` is used up), so give each
 * simulator its own instance.
 */
export class AckScript {
  private readonly uses: number[];

  constructor(readonly rules: readonly AckRule[] = []) {
    this.uses = rules.map(() => 0);
  }

  /** Parses the syntax of the module comment; an empty text accepts everything. */
  static parse(text: string): AckScript {
    return new AckScript(
      splitUnescaped(text, ',')
        .map((r) => r.trim())
        .filter(Boolean)
        .map(parseRule),
    );
  }

  /** The answer for one order message; uses up one use of the rule that matched. */
  decide(subject: AckSubject): AckDecision {
    for (const [i, rule] of this.rules.entries()) {
      if (rule.times !== undefined && (this.uses[i] ?? 0) >= rule.times) continue;
      if (!matches(rule.when, subject)) continue;
      this.uses[i] = (this.uses[i] ?? 0) + 1;
      return { action: rule.action, rule };
    }
    return { action: ACCEPT };
  }

  /** The script as written (normalised), `accept` when empty. */
  toString(): string {
    return this.rules.length === 0 ? 'accept' : this.rules.map((r) => r.source).join(', ');
  }
}

/** {@link AckScript.parse}. */
export function parseAckScript(text: string): AckScript {
  return AckScript.parse(text);
}

/** A script as given (text is parsed); nothing means accept everything. */
export function toAckScript(script: AckScript | string | undefined): AckScript {
  if (script === undefined) return new AckScript();
  return typeof script === 'string' ? AckScript.parse(script) : script;
}

/** An action as the script syntax writes it, for logs and tables: `reject:Unknown test`. */
export function describeAckAction(action: AckAction): string {
  switch (action.kind) {
    case 'accept':
    case 'drop':
    case 'lose-ack':
    case 'silent':
      return action.kind;
    case 'reject':
    case 'error':
    case 'commit-error':
      return action.text === undefined ? action.kind : `${action.kind}:${action.text}`;
    case 'delay':
      return action.then.kind === 'accept'
        ? `delay:${action.ms}`
        : `delay:${action.ms}:${describeAckAction(action.then)}`;
  }
}

/** Whether a `*`/`?` glob matches the whole of `value` (case-sensitive). */
export function globMatches(pattern: string, value: string): boolean {
  const source = pattern
    .split('')
    .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, 's').test(value);
}

function matches(when: AckSelector, subject: AckSubject): boolean {
  switch (when.kind) {
    case 'any':
      return true;
    case 'index':
      return subject.index >= when.from && subject.index <= when.to;
    case 'placer':
      return subject.placers.some((p) => globMatches(when.pattern, p));
    case 'code':
      return subject.codes.some((c) => globMatches(when.pattern, c));
    case 'new':
      return subject.orderControls.some((c) => c !== 'CA');
    case 'cancel':
      return subject.orderControls.includes('CA');
    case 'stat':
      return subject.priorities.includes('S');
  }
}

function parseRule(written: string): AckRule {
  const fail = (why: string): never => {
    throw new AckScriptError(`ack script rule "${written}": ${why}`);
  };
  let text = written;
  let times: number | undefined;
  const counted = /^(\d+)\s*\*/.exec(text);
  if (counted) {
    times = Number(counted[1]);
    if (!Number.isSafeInteger(times) || times < 1) fail('the count before * must be ≥ 1');
    text = text.slice(counted[0].length);
  }
  const [actionText, whenText, extra] = splitUnescaped(text, '@');
  if (extra !== undefined) fail('one @ per rule');
  const action = parseAction(unescape(actionText ?? '').trim(), fail);
  const when =
    whenText === undefined ? ({ kind: 'any' } as const) : parseWhen(whenText.trim(), fail);
  return { action, when, ...(times === undefined ? {} : { times }), source: written };
}

function parseAction(text: string, fail: (why: string) => never): AckAction {
  const colon = text.indexOf(':');
  const name = (colon === -1 ? text : text.slice(0, colon)).trim().toLowerCase();
  const argument = colon === -1 ? undefined : text.slice(colon + 1);
  switch (name) {
    case 'accept':
    case 'drop':
    case 'lose-ack':
    case 'silent':
      if (argument !== undefined) fail(`${name} takes no argument`);
      return { kind: name };
    case 'reject':
    case 'error':
    case 'commit-error': {
      const message = argument?.trim();
      return message ? { kind: name, text: message } : { kind: name };
    }
    case 'delay': {
      const match = /^\s*(\d+)\s*(?::(.*))?$/s.exec(argument ?? '');
      if (!match) return fail('delay needs milliseconds: delay:<ms>[:<action>]');
      const ms = Number(match[1]);
      const then = match[2] === undefined ? ACCEPT : parseAction(match[2].trim(), fail);
      if (then.kind === 'delay') fail('a delay cannot delay another delay');
      return { kind: 'delay', ms, then };
    }
    case '':
      return fail('no action');
    default:
      return fail(
        `unknown action "${name}" (accept, reject, error, commit-error, delay, drop, lose-ack, silent)`,
      );
  }
}

function parseWhen(text: string, fail: (why: string) => never): AckSelector {
  const range = /^(\d+)\s*(?:-\s*(\d+)|(\+))?$/.exec(text);
  if (range) {
    const from = Number(range[1]);
    const to = range[3] ? Infinity : range[2] !== undefined ? Number(range[2]) : from;
    if (from < 1 || to < from) fail(`arrival numbers start at 1 and a range must not be empty`);
    return { kind: 'index', from, to };
  }
  const eq = text.indexOf('=');
  if (eq !== -1) {
    const key = text.slice(0, eq).trim().toLowerCase();
    const pattern = unescape(text.slice(eq + 1)).trim();
    if (!pattern) fail(`${key}= needs a pattern`);
    if (key === 'placer' || key === 'code') return { kind: key, pattern };
    return fail(`unknown selector "${key}=" (placer=, code=)`);
  }
  switch (text.toLowerCase()) {
    case 'new':
    case 'cancel':
    case 'stat':
      return { kind: text.toLowerCase() as 'new' | 'cancel' | 'stat' };
    default:
      return fail(`unknown selector "${text}" (n, n-m, n+, placer=, code=, new, cancel, stat)`);
  }
}

/** Splits on `separator` where it is not preceded by a backslash (escapes are kept). */
function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text.charAt(i);
    if (ch === '\\' && i + 1 < text.length) {
      current += ch + text.charAt(i + 1);
      i++;
    } else if (ch === separator) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts;
}

function unescape(text: string): string {
  return text.replace(/\\(.)/gs, '$1');
}
