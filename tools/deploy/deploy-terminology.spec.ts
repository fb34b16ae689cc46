/**
 * Kustomize refuses files outside its directory, so deploy/k8s/terminology holds a copy of the
 * code-set tables the normalizer ships with. A deployment must not run other tables than the
 * reviewed ones in libs/terminology/data: this keeps the copy in step.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const source = join(root, 'libs/terminology/data');
const copy = join(root, 'deploy/k8s/terminology');

describe('deploy/k8s/terminology', () => {
  it('is the same set of files, byte for byte, as libs/terminology/data', () => {
    const files = readdirSync(source).sort();
    expect(readdirSync(copy).sort()).toEqual(files);
    for (const file of files) {
      expect({ file, bytes: readFileSync(join(copy, file)).toString('utf8') }).toEqual({
        file,
        bytes: readFileSync(join(source, file)).toString('utf8'),
      });
    }
  });
});
