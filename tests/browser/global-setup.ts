// Vitest globalSetup of the `browser` project: builds the site once per test run and hands its
// folder to the test files (inject('siteDir')).
import type { TestProject } from 'vitest/node';
import { buildSite, DEFAULT_SITE_DIR } from './harness.ts';

export default function setup(project: TestProject): void {
  const ms = buildSite(DEFAULT_SITE_DIR);
  console.log(`[browser tests] vite build: ${(ms / 1000).toFixed(1)} s -> ${DEFAULT_SITE_DIR}`);
  project.provide('siteDir', DEFAULT_SITE_DIR);
}

declare module 'vitest' {
  export interface ProvidedContext {
    siteDir: string;
  }
}
