/**
 * The workspace's module-boundary rules must bite. This builds a small throwaway Nx workspace
 * that uses the real eslint.config.mjs, with projects tagged like ours, and lints imports that
 * the architecture forbids (an app importing an app, a pure lib importing kafkajs, a leaf lib
 * importing a domain lib) next to ones it allows. The allowed ones passing shows the rule
 * actually ran: without a project graph @nx/enforce-module-boundaries silently skips.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const root = resolve(__dirname, '../..');
let ws: string;

interface LintMessage {
  ruleId: string | null;
  message: string;
}

function write(path: string, content: string): void {
  mkdirSync(dirname(join(ws, path)), { recursive: true });
  writeFileSync(join(ws, path), content);
}

function project(
  dir: string,
  name: string,
  tags: string[],
  projectType: 'application' | 'library',
): void {
  write(
    `${dir}/project.json`,
    JSON.stringify({ name, sourceRoot: `${dir}/src`, projectType, tags }),
  );
}

/** Lints one file of the throwaway workspace and returns the boundary-rule messages. */
function lint(file: string): LintMessage[] {
  let output: string;
  try {
    output = execFileSync(join(root, 'node_modules/.bin/eslint'), ['--format', 'json', file], {
      cwd: ws,
      encoding: 'utf8',
      env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
    });
  } catch (error) {
    output = (error as { stdout: string }).stdout;
  }
  const [result] = JSON.parse(output) as { messages: LintMessage[] }[];
  return result!.messages.filter((m) => m.ruleId === '@nx/enforce-module-boundaries');
}

beforeAll(() => {
  ws = mkdtempSync(join(tmpdir(), 'boundaries-'));
  symlinkSync(join(root, 'node_modules'), join(ws, 'node_modules'));
  cpSync(join(root, 'eslint.config.mjs'), join(ws, 'eslint.config.mjs'));
  // The real manifest and lockfile, so that npm packages are known to the project graph.
  cpSync(join(root, 'package.json'), join(ws, 'package.json'));
  cpSync(join(root, 'package-lock.json'), join(ws, 'package-lock.json'));
  write('nx.json', JSON.stringify({ useDaemonProcess: false }));
  write(
    'tsconfig.base.json',
    JSON.stringify({
      compilerOptions: {
        baseUrl: '.',
        strict: true,
        module: 'commonjs',
        target: 'ES2023',
        types: [],
        paths: {
          '@probe/gateway-b': ['apps/gateway-b/src/index.ts'],
          '@probe/hl7-core': ['libs/hl7-core/src/index.ts'],
          '@probe/messaging': ['libs/messaging/src/index.ts'],
        },
      },
    }),
  );
  write(
    'tsconfig.json',
    JSON.stringify({ extends: './tsconfig.base.json', include: ['apps/**/*.ts', 'libs/**/*.ts'] }),
  );
  project('apps/gateway-a', 'gateway-a', ['type:app', 'scope:lab'], 'application');
  project('apps/gateway-b', 'gateway-b', ['type:app', 'scope:lab'], 'application');
  project('libs/hl7-core', 'hl7-core', ['type:leaf', 'scope:shared', 'runtime:pure'], 'library');
  project('libs/messaging', 'messaging', ['type:domain', 'scope:shared'], 'library');
  write('apps/gateway-b/src/index.ts', 'export const b = 1;\n');
  write('libs/messaging/src/index.ts', 'export const m = 1;\n');
  write('libs/hl7-core/src/index.ts', 'export const h = 1;\n');
  write(
    'apps/gateway-a/src/imports-app.ts',
    "import { b } from '@probe/gateway-b';\n\nexport const x = b;\n",
  );
  write(
    'apps/gateway-a/src/imports-libs.ts',
    "import { h } from '@probe/hl7-core';\nimport { m } from '@probe/messaging';\n\nexport const x = h + m;\n",
  );
  write(
    'libs/hl7-core/src/imports-kafka.ts',
    "import { Kafka } from 'kafkajs';\n\nexport const k = Kafka;\n",
  );
  write(
    'libs/hl7-core/src/imports-domain.ts',
    "import { m } from '@probe/messaging';\n\nexport const y = m;\n",
  );
  // The rule reads the cached project graph; computing it is what `npm run lint` does first.
  execFileSync(join(root, 'node_modules/.bin/nx'), ['show', 'projects'], {
    cwd: ws,
    env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
    stdio: 'ignore',
  });
});

afterAll(() => {
  rmSync(ws, { recursive: true, force: true });
});

it('lets an app import leaf and domain libraries', () => {
  expect(lint('apps/gateway-a/src/imports-libs.ts')).toEqual([]);
});

it('refuses an app importing another app', () => {
  const messages = lint('apps/gateway-a/src/imports-app.ts');
  expect(messages.map((m) => m.message).join('\n')).toMatch(/Imports of apps are forbidden/);
});

it('refuses Kafka in a pure library', () => {
  const messages = lint('libs/hl7-core/src/imports-kafka.ts');
  expect(messages.map((m) => m.message).join('\n')).toMatch(
    /tagged with "runtime:pure" is not allowed to import "kafkajs"/,
  );
});

it('refuses a leaf library depending on a domain library (dependencies point down)', () => {
  const messages = lint('libs/hl7-core/src/imports-domain.ts');
  expect(messages.map((m) => m.message).join('\n')).toMatch(
    /can only depend on libs tagged with "type:leaf"/,
  );
});
