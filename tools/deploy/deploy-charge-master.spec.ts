/**
 * Kustomize refuses files outside its directory, so deploy/k8s/charge-master holds a copy of the
 * charge master the billing-trigger ships with, mounted from the ConfigMap `charge-master`. A
 * deployment must not price with another table than the reviewed one in
 * libs/billing/charge-master/data: this keeps the copy in step, and the ConfigMap listing it whole.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const source = join(root, 'libs/billing/charge-master/data');
const copy = join(root, 'deploy/k8s/charge-master');

describe('deploy/k8s/charge-master', () => {
  it('is the same set of files, byte for byte, as libs/billing/charge-master/data', () => {
    const files = readdirSync(source).sort();
    expect(readdirSync(copy).sort()).toEqual(files);
    for (const file of files) {
      expect({ file, bytes: readFileSync(join(copy, file)).toString('utf8') }).toEqual({
        file,
        bytes: readFileSync(join(source, file)).toString('utf8'),
      });
    }
  });

  it('is generated whole into the ConfigMap charge-master that billing-trigger.yaml mounts', () => {
    const kustomization = readFileSync(join(root, 'deploy/k8s/kustomization.yaml'), 'utf8');
    expect(kustomization).toMatch(/^ {2}- billing-trigger\.yaml$/m);
    // The generator's block: from its name to its options.
    const block = /^ {2}- name: charge-master\n([\s\S]*?)^ {4}options:/m.exec(kustomization)?.[1];
    const listed = [...(block ?? '').matchAll(/^ {6}- (\S+)$/gm)].map((m) => m[1]).sort();
    expect(listed).toEqual(
      readdirSync(copy)
        .sort()
        .map((f) => `charge-master/${f}`),
    );
    const manifest = readFileSync(join(root, 'deploy/k8s/billing-trigger.yaml'), 'utf8');
    expect(manifest).toMatch(/- name: charge-master\n\s+configMap:\n\s+name: charge-master\n/);
    expect(manifest).toMatch(
      /name: CHARGE_MASTER_DIR\n\s+value: \/etc\/ancillary-hub\/charge-master\n/,
    );
    expect(manifest).toMatch(/mountPath: \/etc\/ancillary-hub\/charge-master\n/);
  });
});
