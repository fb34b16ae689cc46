/**
 * What could not be mapped: an OBX-3 lab code, an OBR-4 orderable (inbound, or a LOINC ordered
 * outbound), an OBX-6 unit, an OBX-8 flag, an order without a route, an imaging procedure (CPT
 * or local), a drug missing from a pharmacy's formulary, an order priority without a rule.
 */
export type UnmappedCodeKind =
  | 'lab-code'
  | 'orderable'
  | 'unit'
  | 'flag'
  | 'route'
  | 'imaging-procedure'
  | 'formulary'
  | 'order-rule';

/**
 * A code the terminology tables have no row for. Permanent (`retriable = false`): the message
 * goes to the dead-letter topic with this message as its reason, an analyst adds the row, the
 * tables are reloaded and the message is replayed (docs/terminology.md). It is never dropped
 * and never passed on unmapped.
 */
export class UnmappedCodeError extends Error {
  readonly retriable = false;
  readonly kind: UnmappedCodeKind;
  /**
   * MSH-4 sending facility (or the facility an order goes to); null for units, flags, routes
   * and order rules, which are shared by every facility.
   */
  readonly facility: string | null;
  readonly code: string;
  /** Coding system as sent (e.g. `L`, `99EAST`, `LN`); null when none was sent. */
  readonly system: string | null;
  /** Version of the terminology that was asked (manifest.json), for the dead-letter reason. */
  readonly terminologyVersion: string;

  constructor(
    details: {
      kind: UnmappedCodeKind;
      facility: string | null;
      code: string;
      system: string | null;
      terminologyVersion: string;
    },
    message: string,
  ) {
    super(message);
    this.name = 'UnmappedCodeError';
    this.kind = details.kind;
    this.facility = details.facility;
    this.code = details.code;
    this.system = details.system;
    this.terminologyVersion = details.terminologyVersion;
  }
}

/** One problem found in a terminology file; `line` and `column` are absent for whole-file problems. */
export interface TerminologyIssue {
  /** File name inside the terminology directory, e.g. `lab-codes.csv`. */
  readonly file: string;
  /** 1-based line of the row (the header is line 1). */
  readonly line?: number;
  /** Column name from the header (or `manifest.json` key). */
  readonly column?: string;
  readonly reason: string;
}

/** Renders an issue as `lab-codes.csv line 12, column loinc_code: …`. */
export function formatIssue(issue: TerminologyIssue): string {
  let where = issue.file;
  if (issue.line !== undefined) where += ` line ${issue.line}`;
  if (issue.column !== undefined) where += `, column ${issue.column}`;
  return `${where}: ${issue.reason}`;
}

/** How many issues the error message spells out; all of them stay in `issues`. */
const ISSUES_IN_MESSAGE = 20;

/**
 * The terminology files are invalid: every problem found is listed (not just the first), so
 * an analyst fixes a file in one pass. A store that is reloading keeps its previous tables.
 */
export class TerminologyLoadError extends Error {
  readonly retriable = false;
  readonly directory: string;
  readonly issues: readonly TerminologyIssue[];

  constructor(directory: string, issues: readonly TerminologyIssue[]) {
    const shown = issues.slice(0, ISSUES_IN_MESSAGE).map((i) => `  - ${formatIssue(i)}`);
    const more =
      issues.length > ISSUES_IN_MESSAGE
        ? [`  … and ${issues.length - ISSUES_IN_MESSAGE} more`]
        : [];
    super(
      `Invalid terminology in ${directory} (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${[...shown, ...more].join('\n')}`,
    );
    this.name = 'TerminologyLoadError';
    this.directory = directory;
    this.issues = issues;
  }
}
