// One strict preset for the whole workspace. Module boundaries are enforced here
// from the Nx tags in each project.json: see docs/adr/0002-workspace-and-boundaries.md.
import js from '@eslint/js';
import nx from '@nx/eslint-plugin';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/** Packages that tie code to a transport or framework; pure libraries must not import them. */
const FRAMEWORK_AND_TRANSPORT = [
  'kafkajs',
  '@kafkajs/*',
  '@nestjs/*',
  'pg',
  'express',
  'avsc',
  '@opentelemetry/sdk-*',
];

/**
 * Three floors: apps -> domain libs -> leaf libs; nothing points up, apps never import apps
 * (Nx refuses that on its own as well). Test files may additionally use the testing lib.
 */
function depConstraints(inTests) {
  const testing = inTests ? ['type:testing'] : [];
  return [
    { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:domain', 'type:leaf', ...testing] },
    {
      sourceTag: 'type:tool',
      onlyDependOnLibsWithTags: ['type:domain', 'type:leaf', 'type:testing'],
    },
    {
      sourceTag: 'type:domain',
      onlyDependOnLibsWithTags: ['type:domain', 'type:leaf', ...testing],
    },
    { sourceTag: 'type:leaf', onlyDependOnLibsWithTags: ['type:leaf', ...testing] },
    // End-to-end suites start the services from their libs (never from apps) with the test kit.
    {
      sourceTag: 'type:e2e',
      onlyDependOnLibsWithTags: ['type:domain', 'type:leaf', 'type:testing'],
    },
    {
      sourceTag: 'type:testing',
      onlyDependOnLibsWithTags: ['type:domain', 'type:leaf', ...testing],
    },
    // Pure libraries (HL7 core, contracts, terminology, config) know nothing of Kafka, Nest or SQL.
    { sourceTag: 'runtime:pure', bannedExternalImports: FRAMEWORK_AND_TRANSPORT },
    // An ancillary's code never reaches into another ancillary's.
    ...['lab', 'radiology', 'pharmacy', 'billing', 'clinical'].map((scope) => ({
      sourceTag: `scope:${scope}`,
      onlyDependOnLibsWithTags: [`scope:${scope}`, 'scope:shared'],
    })),
    { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
  ];
}

function boundaries(inTests) {
  return [
    'error',
    {
      enforceBuildableLibDependency: false,
      allow: [],
      banTransitiveDependencies: true,
      depConstraints: depConstraints(inTests),
    },
  ];
}

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '**/coverage/**',
      '.stack/**',
      '.nx/**',
      'reports/**',
      'tmp/**',
      '**/*.js',
      '**/*.cjs',
      '**/*.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    plugins: { '@nx': nx },
    languageOptions: {
      parserOptions: {
        // One type-checked program for the whole workspace (the root tsconfig includes every
        // project): the per-project programs of `projectService` each re-load the libraries they
        // import, and with 30 projects that outgrew Node's default heap.
        project: './tsconfig.json',
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@nx/enforce-module-boundaries': boundaries(false),
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': [
        'error',
        // Nest resolves constructor parameters from emitted metadata; a type-only
        // import would erase the class reference, so decorated classes keep value imports.
        {
          prefer: 'type-imports',
          fixStyle: 'separate-type-imports',
          disallowTypeAnnotations: false,
        },
      ],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-extraneous-class': ['error', { allowWithDecorator: true }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // Nest declares its option bags as classes and is used with object literals throughout.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
      'no-console': 'error',
      eqeqeq: ['error', 'always'],
    },
  },
  {
    files: ['**/*.spec.ts', '**/*.int-spec.ts', '**/test/**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': boundaries(true),
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
      // no focused or skipped tests: a skipped test is not a passing one
      'no-restricted-properties': [
        'error',
        { object: 'describe', property: 'only', message: 'No focused tests.' },
        { object: 'it', property: 'only', message: 'No focused tests.' },
        { object: 'test', property: 'only', message: 'No focused tests.' },
        { object: 'describe', property: 'skip', message: 'No skipped tests.' },
        { object: 'it', property: 'skip', message: 'No skipped tests.' },
        { object: 'test', property: 'skip', message: 'No skipped tests.' },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'fdescribe', message: 'No focused tests.' },
        { name: 'fit', message: 'No focused tests.' },
        { name: 'xdescribe', message: 'No skipped tests.' },
        { name: 'xit', message: 'No skipped tests.' },
      ],
    },
  },
  {
    // Command-line tools talk to a person on the terminal.
    files: ['tools/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  prettier,
);
