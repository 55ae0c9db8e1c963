// Vitest globalSetup of the `browser` project: builds the site once per test run, into a folder of
// its own (two runs at once must not rebuild each other's site mid-test), hands the folder to the
// test files (inject('siteDir')) and removes it afterwards.
import { rmSync } from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { buildSite, DEFAULT_SITE_DIR } from './harness';

export default function setup(project: TestProject): () => void {
  const dir = path.join(path.dirname(DEFAULT_SITE_DIR), `browser-site-${process.pid}`);
  const ms = buildSite(dir);
  console.log(`[browser tests] vite build: ${(ms / 1000).toFixed(1)} s -> ${dir}`);
  project.provide('siteDir', dir);
  return () => rmSync(dir, { recursive: true, force: true });
}

declare module 'vitest' {
  export interface ProvidedContext {
    siteDir: string;
  }
}
