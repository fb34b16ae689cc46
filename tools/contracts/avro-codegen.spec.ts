import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generateContracts } from './avro-codegen';

const root = resolve(__dirname, '../..');

describe('generated contract types', () => {
  const files = generateContracts(root);

  it('are what the .avsc files generate today (run `npm run contracts:generate` after a schema change)', () => {
    for (const file of files) {
      expect({ path: file.path, content: readFileSync(join(root, file.path), 'utf8') }).toEqual({
        path: file.path,
        content: file.content,
      });
    }
  });

  it('carry the schema text, so producers register exactly what they encode with', () => {
    const envelope = files.find((f) => f.path.endsWith('raw-hl7-envelope.ts'))!;
    const schema = JSON.parse(
      readFileSync(join(root, 'schemas/hl7/raw-hl7-envelope.avsc'), 'utf8'),
    ) as object;
    expect(envelope.content).toContain(`schema: ${JSON.stringify(JSON.stringify(schema))}`);
    expect(envelope.content).toContain('export interface RawHl7Envelope {');
    expect(envelope.content).toMatch(/payload: Buffer;/);
  });
});
