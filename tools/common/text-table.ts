/**
 * Plain-text tables for terminals and log files: columns padded to their widest cell, numbers
 * right-aligned, no colours or box characters (they survive copy-paste into a ticket).
 */
export type Cell = string | number | undefined | null;

export interface TableOptions {
  /** Indices of columns to right-align (numbers are right-aligned anyway). */
  alignRight?: readonly number[];
  /** Longest cell text before it is cut with "…" (default 120). */
  maxCellWidth?: number;
}

export function renderTable(
  headers: readonly string[],
  rows: readonly (readonly Cell[])[],
  options: TableOptions = {},
): string {
  const maxWidth = options.maxCellWidth ?? 120;
  const text = (cell: Cell): string => {
    const value = cell === undefined || cell === null ? '' : String(cell);
    const oneLine = value.replace(/[\r\n]+/g, ' ');
    return oneLine.length > maxWidth ? `${oneLine.slice(0, maxWidth - 1)}…` : oneLine;
  };
  const cells = rows.map((row) => headers.map((_h, i) => text(row[i])));
  const right = new Set(options.alignRight ?? []);
  headers.forEach((_h, i) => {
    if (rows.length > 0 && rows.every((row) => typeof row[i] === 'number')) right.add(i);
  });
  const widths = headers.map((h, i) =>
    Math.max(h.length, ...cells.map((row) => (row[i] ?? '').length)),
  );
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => (right.has(i) ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}
