/**
 * `npm run contracts:generate` writes libs/contracts/src/generated from schemas/;
 * `npm run contracts:generate -- --check` fails when the committed files are stale.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { generateContracts } from './avro-codegen';

const root = resolve(__dirname, '../..');
const check = process.argv.includes('--check');
const files = generateContracts(root);
const outDir = join(root, 'libs/contracts/src/generated');

const stale = files.filter((f) => {
  const path = join(root, f.path);
  return !existsSync(path) || readFileSync(path, 'utf8') !== f.content;
});
const expected = new Set(files.map((f) => join(root, f.path)));
const orphans = existsSync(outDir)
  ? readdirSync(outDir)
      .map((name) => join(outDir, name))
      .filter((path) => !expected.has(path))
  : [];

if (check) {
  if (stale.length > 0 || orphans.length > 0) {
    console.error(
      'Generated contracts are out of date; run `npm run contracts:generate`:\n' +
        [...stale.map((f) => `  changed: ${f.path}`), ...orphans.map((p) => `  orphan: ${p}`)].join(
          '\n',
        ),
    );
    process.exit(1);
  }
  console.log(`contracts: ${files.length} generated files are up to date`);
} else {
  for (const f of stale) {
    const path = join(root, f.path);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, f.content);
    console.log(`wrote ${f.path}`);
  }
  for (const path of orphans) {
    rmSync(path);
    console.log(`removed ${path}`);
  }
  console.log(`contracts: ${files.length} files, ${stale.length} changed`);
}
