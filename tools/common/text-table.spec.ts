import { renderTable } from './text-table';

describe('renderTable', () => {
  it('pads columns to the widest cell and right-aligns numbers', () => {
    expect(
      renderTable(
        ['class', 'count'],
        [
          ['in chart', 1200],
          ['MISSING', 3],
        ],
      ),
    ).toBe(['class     count', '--------  -----', 'in chart   1200', 'MISSING       3'].join('\n'));
  });

  it('keeps one row per line and cuts very long cells', () => {
    const table = renderTable(['reason'], [['line one\nline two'], ['x'.repeat(30)]], {
      maxCellWidth: 10,
    });
    expect(table.split('\n')).toEqual(['reason', '----------', 'line one …', 'xxxxxxxxx…']);
  });

  it('shows absent cells as empty', () => {
    expect(renderTable(['a', 'b'], [[undefined, null]])).toBe('a  b\n-  -\n');
  });
});
