// Two test projects: `unit` (pure logic in Node, fast) and `browser` (Node tests that build the
// real site once and drive Debian's Chromium; slow, so long timeouts and one file at a time).
import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

export default defineConfig({
  test: {
    // Tests resolve shared data as <repo>/../shared, from their own file paths; root stays the repo.
    root: import.meta.dirname,
    // In CI also write a JSON report; .ci/run turns it into one "N passed, N failed" line.
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: { json: 'test-results/vitest.json' },
    projects: [
      {
        // State classes (*.svelte.ts) compiled as the browser runs them: client runes (deep $state
        // proxies, lazy $derived), not the server output a Node environment would otherwise get.
        plugins: [svelte({ dynamicCompileOptions: () => ({ generate: 'client' }) })],
        test: {
          name: 'unit',
          include: ['tests/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'browser',
          include: ['tests/browser/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['tests/browser/global-setup.ts'],
          testTimeout: 600_000,
          hookTimeout: 600_000,
          fileParallelism: false,
          pool: 'forks',
          maxWorkers: 1,
        },
      },
    ],
  },
});
