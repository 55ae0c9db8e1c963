// Hooks the browser tests set on the built page through `window.quantlabTest` (page.evaluate), to
// reach states a healthy machine never shows: a column worker whose load or generation never
// answers, one that writes slowly, and watchdog and Stop timeouts short enough for a test. Nothing in the app sets them;
// only script running in the page can, and such script can do anything to the page already. A
// hang is ended by the watchdog (src/state/column.svelte.ts) like a real one.
import type { ColumnHang } from '../../workers/protocol';

export interface TestHooks {
  /** Column workers never answer this call from the next call the page makes on (ColumnApi.hang). */
  hang?: ColumnHang;
  /** Replaces both watchdog times (no load progress, no new token), in ms. */
  watchdogMs?: number;
  /** Replaces how long Stop waits for a worker before terminating it, in ms. */
  stopMs?: number;
  /**
   * Column workers wait this long after each token (ColumnApi.pace), in ms: a model slow enough
   * that a test can act while a run streams (here the built-in model writes 64 tokens in ~25 ms).
   */
  tokenMs?: number;
}

declare global {
  interface Window {
    /** Test hooks; see src/browser/test-hooks.ts. */
    quantlabTest?: TestHooks;
  }
}

/** The hooks set now (none outside tests). */
export function testHooks(): TestHooks {
  const h = (globalThis as { quantlabTest?: unknown }).quantlabTest;
  return typeof h === 'object' && h !== null ? (h as TestHooks) : {};
}

/** A positive number of ms from a hook, else `fallback`. */
export function hookMs(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}
