import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readBatch, splitBatch } from './batch.reader';
import { Hl7ParseError } from './hl7.errors';
import { expectParseError } from '../test/expect-parse-error';

const fixture = (name: string): Buffer => readFileSync(join(__dirname, '..', 'fixtures', name));

describe('readBatch', () => {
  it('splits an FHS/BHS/…/BTS/FTS file into its messages and checks the counts', () => {
    const batch = readBatch(fixture('batch-fhs-bhs.hl7'));
    expect(batch.fileHeader?.get(9)).toBe('LAB20240321.hl7');
    expect(batch.fileHeader?.get(11)).toBe('FILE0001');
    expect(batch.fileTrailer?.get(1)).toBe('1');
    expect(batch.batches).toHaveLength(1);
    expect(batch.batches[0]?.header?.get(11)).toBe('BATCH0001');
    expect(batch.batches[0]?.trailer?.get(2)).toBe('End of batch');
    expect(batch.messages.map((m) => m.controlId)).toEqual(['B1M1', 'B1M2', 'B1M3']);
    expect(batch.messages.map((m) => m.get('OBX-5'))).toEqual(['90', '101', '77']);
    expect(batch.batches[0]?.messages).toEqual(batch.messages);
  });

  it('keeps each message byte-exact (same terminators, no batch segments)', () => {
    const bytes = fixture('batch-fhs-bhs.hl7');
    const { messages } = readBatch(bytes);
    const joined = Buffer.concat(messages.map((m) => m.toBytes()));
    const text = bytes.toString('latin1');
    expect(joined.toString('latin1')).toBe(text.slice(text.indexOf('MSH'), text.indexOf('BTS')));
  });

  it('reads a bare BHS batch, and plain consecutive messages', () => {
    const bare = readBatch(fixture('batch-bhs-only.hl7'));
    expect(bare.fileHeader).toBeUndefined();
    expect(bare.batches[0]?.header?.get(11)).toBe('BATCH0002');
    expect(bare.messages.map((m) => m.controlId)).toEqual(['B2M1', 'B2M2']);
    const text = fixture('batch-bhs-only.hl7').toString('latin1');
    const plain = text.slice(text.indexOf('MSH'), text.indexOf('BTS'));
    expect(readBatch(plain).messages).toHaveLength(2);
  });

  it('parses each message in its own charset', () => {
    const latin1 = fixture('oru-r01-v25-latin1.hl7');
    const utf8 = fixture('oru-r01-v251-utf8.hl7');
    const file = Buffer.concat([
      Buffer.from('BHS|^~\\&|X\r'),
      latin1,
      utf8,
      Buffer.from('BTS|2\r'),
    ]);
    const { messages } = readBatch(file);
    expect(messages.map((m) => m.charset)).toEqual(['ISO-8859-1', 'UTF-8']);
    expect(messages[0]?.get('PID-5.2')).toBe('RENÉE');
    expect(messages[1]?.get('PID-5.3')).toBe('ŁUCJA');
  });

  it('lists count mismatches', () => {
    const error = expectParseError(() => readBatch(fixture('broken/batch-count-mismatch.hl7')));
    expect(error.code).toBe('BATCH_COUNT');
    expect(error.message).toBe(
      'Batch does not add up: BTS-1 of batch 1 says 5 messages, the batch holds 2',
    );
    const fts = 'FHS|^~\\&\rBHS|^~\\&\rMSH|^~\\&|||||1||ADT^A01|1|P|2.5\rBTS|1\rFTS|3\r';
    expect(expectParseError(() => readBatch(fts)).message).toContain(
      'FTS-1 says 3 batches, the file holds 1',
    );
  });

  it('refuses a truncated batch, stray segments and bad messages, naming where', () => {
    const text = fixture('batch-fhs-bhs.hl7').toString('latin1');
    const truncated = text.slice(0, text.indexOf('BTS'));
    expect(expectParseError(() => readBatch(truncated)).message).toMatch(
      /BHS but no BTS.*FHS but no FTS/,
    );
    expect(expectParseError(() => readBatch('BHS|^~\\&\rPID|1\rBTS|0\r')).message).toBe(
      'Line 2: PID outside any message',
    );
    expect(expectParseError(() => readBatch('BTS|0\r')).code).toBe('BATCH');
    expect(expectParseError(() => readBatch('FTS|0\rMSH|^~\\&\r')).message).toContain(
      'MSH after FTS',
    );
    const bad = 'BHS|^~\\&\rMSH|^~\\&|||||1||ADT^A01|1|P|2.5\rMSH|^~\\&|x\rBTS|2\r';
    const error = expectParseError(() => readBatch(bad));
    expect(error.code).toBe('REQUIRED_FIELD');
    expect(error.message).toMatch(/^Message 2 of the batch \(line 3\): MSH has 3 fields/);
    expect(error.cause).toBeInstanceOf(Hl7ParseError);
  });

  it('splitBatch hands out raw chunks to parse and acknowledge one by one', () => {
    const split = splitBatch(fixture('batch-fhs-bhs.hl7'));
    expect(split.messages.map((c) => c.line)).toEqual([3, 7, 11]);
    expect(split.batches[0]?.messageCount).toBe(3);
    expect(Buffer.from(split.messages[1]!.input).toString('latin1').startsWith('MSH')).toBe(true);
  });

  it('handles \\r\\n terminated files', () => {
    const text = fixture('batch-fhs-bhs.hl7').toString('latin1').replace(/\r/g, '\r\n');
    const batch = readBatch(text);
    expect(batch.messages).toHaveLength(3);
    expect(batch.messages[2]?.lineEnding).toBe('\r\n');
  });
});
