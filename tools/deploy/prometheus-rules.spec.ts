/**
 * The alert rules in deploy/prometheus must name metrics the services really expose: a renamed
 * metric would silently turn an alert into one that never fires.
 */
import { globSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

describe('deploy/prometheus/alerts.yaml', () => {
  it('only uses metric names that a library registers', () => {
    const rules = readFileSync(join(root, 'deploy/prometheus/alerts.yaml'), 'utf8');
    const used = new Set(
      [...rules.matchAll(/\b([a-z][a-z0-9_]*_(?:total|seconds|lag))(?:_bucket)?\b/g)].map(
        (m) => m[1]!,
      ),
    );
    expect(used.size).toBeGreaterThan(5);
    const sources = globSync('libs/**/src/**/*.ts', { cwd: root })
      .filter((f) => !f.includes('.spec.'))
      .map((f) => readFileSync(join(root, f), 'utf8'))
      .join('\n');
    const missing = [...used].filter((name) => !sources.includes(`'${name}'`));
    expect(missing).toEqual([]);
  });
});
