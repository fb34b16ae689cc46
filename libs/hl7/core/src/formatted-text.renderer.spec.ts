import { Hl7Charset } from './charset.decoder';
import { renderFormattedText } from './formatted-text.renderer';
import { DEFAULT_DELIMITERS } from './hl7-delimiters';

describe('renderFormattedText', () => {
  it('turns \\.br\\ into line breaks and decodes delimiters', () => {
    expect(renderFormattedText('Line 1\\.br\\Line \\T\\ 2\\.br\\A\\F\\B')).toBe(
      'Line 1\nLine & 2\nA|B',
    );
  });

  it('applies .sp, .in, .ti, .sk and .ce', () => {
    expect(renderFormattedText('A\\.sp\\B')).toBe('A\n\nB');
    expect(renderFormattedText('A\\.sp2\\B')).toBe('A\n\n\nB');
    expect(renderFormattedText('\\.in4\\A\\.br\\B\\.br\\\\.in-2\\C')).toBe('    A\n    B\n  C');
    expect(renderFormattedText('\\.in2\\\\.ti+2\\A\\.br\\B')).toBe('    A\n  B');
    expect(renderFormattedText('A\\.sk3\\B')).toBe('A   B');
    expect(renderFormattedText('A\\.ce\\TITLE\\.br\\B')).toBe('A\nTITLE\nB');
  });

  it('drops fill mode and highlighting, keeps unknown and local sequences', () => {
    expect(renderFormattedText('\\.nf\\\\H\\Bold\\N\\ text\\.fi\\')).toBe('Bold text');
    expect(renderFormattedText('\\.zz\\ \\Zlocal\\ \\Q\\')).toBe('\\.zz\\ \\Zlocal\\ \\Q\\');
    expect(renderFormattedText('C:\\temp')).toBe('C:\\temp');
  });

  it('decodes hex data in the charset', () => {
    expect(renderFormattedText('caf\\XE9\\', DEFAULT_DELIMITERS, Hl7Charset.LATIN1)).toBe('café');
    expect(renderFormattedText('\\XZZ\\')).toBe('\\XZZ\\');
  });
});
