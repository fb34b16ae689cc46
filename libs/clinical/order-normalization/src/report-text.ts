/**
 * A radiology report's text assembled from its OBX lines, and its findings and impression.
 * Radiologists' reports are text written for people: lines, blank lines between paragraphs
 * and indentation are part of what they wrote and are kept.
 */

/** The parts of a report the ImagingReport carries on their own. */
export type ReportSection = 'findings' | 'impression';

/** One OBX of report text (possibly several lines) and the section its OBX-3 names, if any. */
export interface ReportLine {
  readonly text: string;
  readonly section: ReportSection | null;
}

export interface AssembledReport {
  /** Every line, in order; blank lines at the start and end dropped, trailing spaces trimmed. */
  readonly text: string;
  readonly findings: string | null;
  readonly impression: string | null;
}

/**
 * A heading that opens a section of free text: `IMPRESSION:`, `Findings:` (a word or two in
 * capitals or title case, then a colon), with text on the same line or below.
 */
const HEADING = /^\s*([A-Za-z][A-Za-z /&-]{1,40}?)\s*:\s*(.*)$/;
const HEADING_SECTIONS: Readonly<Record<string, ReportSection>> = {
  FINDINGS: 'findings',
  FINDING: 'findings',
  IMPRESSION: 'impression',
  IMPRESSIONS: 'impression',
  CONCLUSION: 'impression',
  CONCLUSIONS: 'impression',
};
/** Headings that end a section without being one we carry (COMPARISON:, TECHNIQUE:…). */
const OTHER_HEADINGS = new Set([
  'CLINICAL HISTORY',
  'HISTORY',
  'INDICATION',
  'INDICATIONS',
  'COMPARISON',
  'TECHNIQUE',
  'PROCEDURE',
  'EXAM',
  'EXAMINATION',
  'RECOMMENDATION',
  'RECOMMENDATIONS',
  'ADDENDUM',
  'ELECTRONICALLY SIGNED BY',
  'SIGNED BY',
]);

/**
 * Joins the lines into the report text. Sections come from the OBX-3 codes when the RIS names
 * them; when it names none (one FT or TX block with headings), from the `FINDINGS:` /
 * `IMPRESSION:` headings of the text. A section that is named but empty is null.
 */
export function assembleReport(lines: readonly ReportLine[]): AssembledReport {
  const all = lines.flatMap((line) => line.text.split(/\r\n|\r|\n/)).map((l) => l.trimEnd());
  const text = trimBlankLines(all).join('\n');
  const coded = lines.some((line) => line.section !== null);
  if (coded) {
    return {
      text,
      findings: sectionText(lines, 'findings'),
      impression: sectionText(lines, 'impression'),
    };
  }
  const headed = sectionsByHeading(all);
  return { text, findings: headed.findings, impression: headed.impression };
}

function sectionText(lines: readonly ReportLine[], section: ReportSection): string | null {
  const text = trimBlankLines(
    lines
      .filter((line) => line.section === section)
      .flatMap((line) => line.text.split(/\r\n|\r|\n/))
      .map((l) => l.trimEnd()),
  ).join('\n');
  return text === '' ? null : text;
}

/** The text under each carried heading, up to the next heading of any kind. */
function sectionsByHeading(lines: readonly string[]): Record<ReportSection, string | null> {
  const collected: Record<ReportSection, string[] | null> = { findings: null, impression: null };
  let current: string[] | null = null;
  for (const line of lines) {
    const match = HEADING.exec(line);
    const name = match?.[1]?.toUpperCase();
    const section = name === undefined ? undefined : HEADING_SECTIONS[name];
    if (section) {
      current = collected[section] ?? [];
      collected[section] = current;
      if (match?.[2]) current.push(match[2]);
      continue;
    }
    if (name !== undefined && OTHER_HEADINGS.has(name)) {
      current = null;
      continue;
    }
    current?.push(line);
  }
  const join = (part: string[] | null): string | null => {
    const text = part ? trimBlankLines(part).join('\n') : '';
    return text === '' ? null : text;
  };
  return { findings: join(collected.findings), impression: join(collected.impression) };
}

function trimBlankLines(lines: readonly string[]): string[] {
  let start = 0;
  let end = lines.length;
  while (start < end && (lines[start] ?? '').trim() === '') start++;
  while (end > start && (lines[end - 1] ?? '').trim() === '') end--;
  return lines.slice(start, end);
}
