// Lint rules for the whole tree, run by `npm run lint` (part of `npm test`). Formatting is Prettier's
// job (.prettierrc); this file only holds rules that find mistakes: the JS and TypeScript recommended
// sets, Svelte's, and import rules (no import cycles, one style for relative import paths).
import js from '@eslint/js';
import ts from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import globals from 'globals';
import { defineConfig } from 'eslint/config';
import svelteConfig from './svelte.config.js';

export default defineConfig(
  {
    ignores: ['dist/', 'public/models/', 'test-results/', 'bench-results/', '.cache/', 'scratch/'],
  },
  js.configs.recommended,
  ts.configs.recommended,
  svelte.configs.recommended,
  svelte.configs.prettier,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      // The tree runs in three places (page and workers, Node CLI and tests, the service worker);
      // TypeScript checks which globals each file may use, so ESLint allows all of them.
      globals: { ...globals.browser, ...globals.worker, ...globals.node },
      // import-x parses each imported file with the importing file's parser options: with these a
      // .ts file importing a component can follow it (the Svelte parser reads its <script lang="ts">).
      parserOptions: { parser: ts.parser, extraFileExtensions: ['.svelte'] },
    },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: {
      parserOptions: {
        parser: ts.parser,
        extraFileExtensions: ['.svelte'],
        svelteConfig,
      },
    },
  },
  {
    rules: {
      // Off: the state classes keep reactivity in `$state` fields that are replaced whole; their Maps,
      // Sets, Dates and URLs are local temporaries or private bookkeeping that must not be reactive,
      // which this rule cannot tell from state.
      'svelte/prefer-svelte-reactivity': 'off',
    },
  },
  {
    files: ['public/coi-serviceworker.js'],
    languageOptions: { sourceType: 'script', globals: { ...globals.browser, ...globals.serviceworker } },
  },
  {
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.js', '.mjs', '.svelte'],
      'import-x/parsers': {
        '@typescript-eslint/parser': ['.ts'],
        'svelte-eslint-parser': ['.svelte'],
      },
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      // A cycle makes module initialisation order matter and hides a layering mistake.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-self-import': 'error',
      'import-x/no-duplicates': 'error',
    },
  },
  {
    // Plain .js/.mjs files run in Node without a bundler, which needs the suffix; the rule is for the
    // TypeScript and Svelte sources only.
    files: ['**/*.ts', '**/*.svelte'],
    rules: {
      // One style for relative imports: no suffix on TypeScript and JavaScript modules, the suffix on
      // components. A `.svelte.ts` module keeps its full name (`./x.svelte` would read as a component).
      'import-x/extensions': [
        'error',
        'never',
        {
          pattern: { svelte: 'always', json: 'always' },
          checkTypeImports: true,
          pathGroupOverrides: [{ pattern: '*.svelte.ts', patternOptions: { matchBase: true }, action: 'ignore' }],
          fix: true,
        },
      ],
    },
  },
);
