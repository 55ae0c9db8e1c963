// Hooks the browser tests set on the built page through `window.quantlabTest` (page.evaluate), to
// reach states a healthy machine never shows: a column worker whose load or generation never
// answers, and watchdog and Stop timeouts short enough for a test. Nothing in the app sets them;
// only script running in the page can, and such script can do anything to the page already. A
// hang is ended by the watchdog (src/state/column.svelte.ts) like a real one.
import type { ColumnHang } from '../../workers/protocol';
import type { CatalogModel } from '../lib/catalog';
import { refKey, type ModelRef } from '../lib/model/ref';
import { variantFromStem } from '../lib/variants/table';

/** A Hub repository on a host of its own (the tests' Hub mirror), offered like a catalog model. */
export interface TestHubModel {
  /** owner/name */
  id: string;
  /** The host its files are fetched from, e.g. http://127.0.0.1:4000. */
  host: string;
  /** onnx/ stem -> bytes, as in the catalog. */
  files: Record<string, number>;
}

export interface TestHooks {
  /** Column workers never answer this call from the next call the page makes on (ColumnApi.hang). */
  hang?: ColumnHang;
  /** Replaces both watchdog times (no load progress, no new token), in ms. */
  watchdogMs?: number;
  /** Replaces how long Stop waits for a worker before terminating it, in ms. */
  stopMs?: number;
  /**
   * Hub models offered after the page's own, each loaded from its `host` (the tests' Hub mirror).
   * Read from the page's start on: set it with an init script, before the page's code runs.
   */
  hubModels?: TestHubModel[];
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

let testModels: { from: TestHubModel[]; entries: CatalogModel[] } | undefined;

/** The hooks' Hub models as catalog entries (the same objects while the hook is unchanged). */
export function testHubModels(): CatalogModel[] {
  const from = testHooks().hubModels;
  if (!Array.isArray(from)) return [];
  if (testModels?.from !== from) {
    const entries = from.map((m) => {
      const ref: ModelRef = { kind: 'hub', id: m.id, host: m.host };
      const variants = Object.entries(m.files)
        .map(([stem, bytes]) => variantFromStem(stem, bytes))
        .sort((a, b) => a.rank - b.rank);
      return {
        key: refKey(ref),
        ref,
        name: `${m.id} (test host)`,
        description: `Test model served by ${m.host}.`,
        instruct: false,
        variants,
        defaultVariants: variants.length ? [variants[0].stem] : [],
      };
    });
    testModels = { from, entries };
  }
  return testModels.entries;
}
