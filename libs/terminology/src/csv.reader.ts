import type { TerminologyIssue } from './terminology.errors';

/** One data row: its 1-based line and its cells by column name (trimmed). */
export interface CsvRow {
  readonly line: number;
  readonly values: ReadonlyMap<string, string>;
}

/**
 * Reads an RFC 4180 CSV file with a header row into rows keyed by column name, reporting every
 * problem as an issue with its line and column instead of stopping at the first one.
 *
 * What an analyst's spreadsheet produces is accepted: a UTF-8 byte order mark, CRLF or LF line
 * ends, quoted cells with commas, `""` and line breaks, blank lines, spaces around cells
 * (trimmed: a code never starts or ends with a space). The header must hold exactly the
 * expected columns, in any order; a row must have as many cells as the header.
 * Undefined when the file has no usable header (rows cannot be read at all).
 */
export function readCsv(
  file: string,
  text: string,
  columns: readonly string[],
  issues: TerminologyIssue[],
): CsvRow[] | undefined {
  const records = splitRecords(file, text.startsWith('\uFEFF') ? text.slice(1) : text, issues);
  const header = records.shift();
  if (!header) {
    issues.push({ file, reason: `the file is empty; expected a header: ${columns.join(',')}` });
    return undefined;
  }
  const names = header.cells.map((c) => c.trim());
  let headerOk = true;
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) {
      issues.push({
        file,
        line: header.line,
        column: name,
        reason: 'column appears twice in the header',
      });
      headerOk = false;
    }
    seen.add(name);
    if (!columns.includes(name)) {
      issues.push({
        file,
        line: header.line,
        column: name,
        reason: `unknown column (expected ${columns.join(',')})`,
      });
      headerOk = false;
    }
  }
  for (const name of columns) {
    if (!seen.has(name)) {
      issues.push({
        file,
        line: header.line,
        column: name,
        reason: 'required column is missing from the header',
      });
      headerOk = false;
    }
  }
  if (!headerOk) return undefined;

  const rows: CsvRow[] = [];
  for (const record of records) {
    if (record.cells.length === 1 && record.cells[0]?.trim() === '') continue; // blank line
    if (record.cells.length !== names.length) {
      issues.push({
        file,
        line: record.line,
        reason: `has ${record.cells.length} cells but the header has ${names.length} columns`,
      });
      continue;
    }
    const values = new Map<string, string>();
    names.forEach((name, i) => values.set(name, (record.cells[i] ?? '').trim()));
    rows.push({ line: record.line, values });
  }
  return rows;
}

/** Splits CSV text into records of raw cells, each with the line it starts on. */
function splitRecords(
  file: string,
  text: string,
  issues: TerminologyIssue[],
): { line: number; cells: string[] }[] {
  const records: { line: number; cells: string[] }[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const start = line;
    const cells: string[] = [];
    let cell = '';
    let quoted = false;
    let atCellStart = true;
    let ended = false;
    while (i < n && !ended) {
      const ch = text[i] ?? '';
      if (quoted) {
        if (ch === '"') {
          if (text[i + 1] === '"') {
            cell += '"';
            i += 2;
            continue;
          }
          quoted = false;
          i++;
          // After a closing quote only spaces, a comma or the end of the line may follow.
          while (text[i] === ' ' || text[i] === '\t') i++;
          const next = text[i];
          if (next !== undefined && next !== ',' && next !== '\r' && next !== '\n') {
            issues.push({
              file,
              line,
              reason: `unexpected ${JSON.stringify(next)} after a closing quote (cell ${cells.length + 1})`,
            });
            while (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') i++;
          }
          continue;
        }
        if (ch === '\n') line++;
        cell += ch;
        i++;
        continue;
      }
      switch (ch) {
        case ',':
          cells.push(cell);
          cell = '';
          atCellStart = true;
          i++;
          continue;
        case '\r':
        case '\n':
          i += ch === '\r' && text[i + 1] === '\n' ? 2 : 1;
          line++;
          ended = true;
          continue;
        case '"':
          if (atCellStart && cell.trim() === '') {
            quoted = true;
            cell = '';
            atCellStart = false;
            i++;
            continue;
          }
          issues.push({
            file,
            line,
            reason: `a quote inside an unquoted cell (cell ${cells.length + 1}); quote the whole cell and double the inner quote`,
          });
          cell += ch;
          i++;
          continue;
        default:
          if (ch !== ' ' && ch !== '\t') atCellStart = false;
          cell += ch;
          i++;
      }
    }
    if (quoted) {
      issues.push({ file, line: start, reason: 'a quoted cell is never closed (missing ")' });
    }
    cells.push(cell);
    records.push({ line: start, cells });
  }
  return records;
}
