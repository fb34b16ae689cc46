import { readCsv, type CsvRow } from './csv.reader';
import type { TerminologyIssue } from './terminology.errors';

const COLUMNS = ['code', 'display', 'note'];

function read(text: string): { rows: CsvRow[]; readable: boolean; issues: TerminologyIssue[] } {
  const issues: TerminologyIssue[] = [];
  const rows = readCsv('t.csv', text, COLUMNS, issues);
  return { rows: rows ?? [], readable: rows !== undefined, issues };
}

describe('readCsv', () => {
  it('reads rows by column name, trimmed, with their line numbers', () => {
    const { rows, issues } = read('code,display,note\nGLU , Glucose ,x\nK,Potassium,\n');
    expect(issues).toEqual([]);
    expect(rows.map((r) => [r.line, Object.fromEntries(r.values)])).toEqual([
      [2, { code: 'GLU', display: 'Glucose', note: 'x' }],
      [3, { code: 'K', display: 'Potassium', note: '' }],
    ]);
  });

  it('accepts what a spreadsheet writes: BOM, CRLF, columns in another order, blank lines', () => {
    const { rows, issues } = read('\uFEFFnote,code,display\r\n\r\nn1,NA,Sodium\r\n\r\n');
    expect(issues).toEqual([]);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.line).toBe(3);
    expect(rows[0]?.values.get('code')).toBe('NA');
  });

  it('reads quoted cells with commas, doubled quotes and line breaks, and counts lines right', () => {
    const text =
      'code,display,note\n' +
      'CO2,"Carbon dioxide, total","say ""CO2"""\n' +
      'X,"two\nlines",n\n' +
      'Y,after,n\n';
    const { rows, issues } = read(text);
    expect(issues).toEqual([]);
    expect(rows.map((r) => r.values.get('display'))).toEqual([
      'Carbon dioxide, total',
      'two\nlines',
      'after',
    ]);
    expect(rows[0]?.values.get('note')).toBe('say "CO2"');
    expect(rows.map((r) => r.line)).toEqual([2, 3, 5]);
  });

  it('reads the last row without a final newline', () => {
    expect(read('code,display,note\nA,B,C').rows).toHaveLength(1);
  });

  it('reports a row with the wrong number of cells by line', () => {
    const { rows, issues } = read('code,display,note\nA,B\nC,D,E,F\nG,H,I\n');
    expect(rows).toHaveLength(1);
    expect(issues).toEqual([
      { file: 't.csv', line: 2, reason: 'has 2 cells but the header has 3 columns' },
      { file: 't.csv', line: 3, reason: 'has 4 cells but the header has 3 columns' },
    ]);
  });

  it('reports missing, unknown and repeated header columns by name', () => {
    const { readable, issues } = read('code,display,colour,code\nA,B,C,D\n');
    expect(readable).toBe(false);
    expect(issues).toEqual([
      {
        file: 't.csv',
        line: 1,
        column: 'colour',
        reason: 'unknown column (expected code,display,note)',
      },
      { file: 't.csv', line: 1, column: 'code', reason: 'column appears twice in the header' },
      {
        file: 't.csv',
        line: 1,
        column: 'note',
        reason: 'required column is missing from the header',
      },
    ]);
  });

  it('reports an empty file', () => {
    expect(read('').readable).toBe(false);
    expect(read('').issues).toEqual([
      { file: 't.csv', reason: 'the file is empty; expected a header: code,display,note' },
    ]);
  });

  it('reports an unclosed quote at the line where the cell starts', () => {
    const { issues } = read('code,display,note\nA,"open,x\nB,C,D\n');
    expect(issues).toContainEqual({
      file: 't.csv',
      line: 2,
      reason: 'a quoted cell is never closed (missing ")',
    });
  });

  it('reports a stray quote inside an unquoted cell and text after a closing quote', () => {
    const { issues } = read('code,display,note\nA,5" tube,x\nB,"ok"junk,y\n');
    expect(issues).toEqual([
      {
        file: 't.csv',
        line: 2,
        reason:
          'a quote inside an unquoted cell (cell 2); quote the whole cell and double the inner quote',
      },
      { file: 't.csv', line: 3, reason: 'unexpected "j" after a closing quote (cell 2)' },
    ]);
  });
});
