// `quantlab bench --first-token`: opens the built site in headless Chromium with the model folder
// served as the built-in model, and times navigation to the first token written in the first
// column (the page's own stage marks, src/lib/page/first-token.ts) and in each other column, on a
// fresh profile (empty cache and storage; the browser left idle first, SETTLE_MS) and on a second
// visit; then the same for the floor page (bench.html with ?floor-first-token: one ONNX Runtime
// session on the same .onnx, one step).
// Rounds alternate page and floor so both feel the same machine load.

import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { AutoTokenizer } from '@huggingface/transformers';
import { BUILTIN_MODEL, BUILTIN_MODEL_ID } from '../lib/catalog';
import { QuantlabError } from '../lib/errors';
import { firstTokenResult, type FirstTokenResult, type FirstTokenRound } from '../lib/bench/first-token';
import type { FirstTokenTimeline } from '../lib/page/first-token';
import { DEFAULT_PROMPT } from '../lib/page/settings';
import { launchChromium, serveStatic } from './browser';
import { listFolder } from './files';
import { configureNodeTransformers } from './transformers-env';

export interface FirstTokenOptions {
  siteDir: string;
  /** The model folder, served as the built-in model (models/<BUILTIN_MODEL_ID>/). */
  modelDir: string;
  runs: number;
  log?: (line: string) => void;
  /** How long one visit may take before the run fails (default 120 s). */
  timeoutMs?: number;
  /** How long each new browser idles on about:blank before its first visit (default SETTLE_MS). */
  settleMs?: number;
}

/**
 * A user opens the page in a browser that is already running; a browser just launched is still
 * starting its own processes (GPU process included: the page's WebGPU adapter request waits for it).
 * Visits right after launch took 0.4-0.5 s longer here (README, "First token from navigation").
 */
export const SETTLE_MS = 2000;

/** Lets a browser just launched finish starting before it is measured. */
async function settle(page: Page, ms: number): Promise<void> {
  if (ms <= 0) return;
  await page.goto('about:blank');
  await new Promise((r) => setTimeout(r, ms));
}

/** A models/ folder for the server: the built-in model's id pointing at `modelDir`, and its index. */
function modelsMount(modelDir: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'quantlab-first-token-'));
  const files = listFolder(modelDir);
  symlinkSync(path.resolve(modelDir), path.join(dir, BUILTIN_MODEL_ID), 'dir');
  writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ models: [{ id: BUILTIN_MODEL_ID, files }] }));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Presses Generate from inside the page as soon as it is enabled (a Playwright click waits for
 * its own checks, seconds on a loaded machine), unless the page has started generating by itself.
 * Installed before the page's scripts on every navigation. A string, not a function: tsx's
 * transform would wrap a function's inner names in helpers the page does not have.
 */
const PRESS_GENERATE_WHEN_READY = `(() => {
  if (!location.pathname.endsWith('index.html')) return;
  const tick = () => {
    const b = document.querySelector('#generate');
    if (!b || b.disabled) return void setTimeout(tick, 5);
    const columns = [...document.querySelectorAll('article.column')];
    if (columns.every((e) => Number(e.getAttribute('data-generation')) === 0)) b.click();
  };
  tick();
})();`;

/**
 * One visit of the playground (Generate pressed by pressGenerateWhenReady): waits until every
 * column has written a token and the page has ended its start-up work; the first column's stages,
 * and each column's first token.
 */
async function visitPage(
  page: Page,
  url: string,
  timeout: number,
): Promise<{ timeline: FirstTokenTimeline; columnsMs: number[] }> {
  await page.goto(url);
  const handle = await page.waitForFunction(
    () => {
      const columns = window.quantlab?.playground.columns ?? [];
      const failed = columns.find((c) => c.status === 'error');
      if (failed) return { error: `${failed.variant.label}: ${failed.error?.message ?? 'error'}` };
      if (columns.length === 0 || columns.some((c) => !c.firstToken)) return false;
      // The next visit starts after the page's own start-up work (the WASM code cache, main.ts).
      // (Builds before it have no wasmCache.)
      const cache = (window.quantlab as { wasmCache?: { state: string } } | undefined)?.wasmCache?.state;
      if (cache === 'pending' || cache === 'priming') return false;
      return {
        timeline: JSON.parse(JSON.stringify(columns[0].firstToken)) as FirstTokenTimeline,
        columnsMs: columns.map((c) => c.firstToken!.totalMs),
      };
    },
    undefined,
    { timeout, polling: 50 },
  );
  const r = (await handle.jsonValue()) as { error?: string; timeline: FirstTokenTimeline; columnsMs: number[] };
  if (r.error) throw new QuantlabError('generate-failed', `A column failed: ${r.error}`);
  return r;
}

/** One visit of the floor page; ms from navigation to its first token. */
async function visitFloor(page: Page, url: string, timeout: number): Promise<number> {
  await page.goto(url);
  const handle = await page.waitForFunction(
    () => document.body.dataset.firstTokenMs ?? (document.body.dataset.firstTokenError ? 'error' : false),
    undefined,
    { timeout, polling: 20 },
  );
  const v = (await handle.jsonValue()) as string;
  if (v === 'error')
    throw new QuantlabError(
      'load-failed',
      `The floor page failed: ${await page.evaluate(() => document.body.dataset.firstTokenError)}`,
    );
  return Number(v);
}

/** Rounds of (page first visit, page second visit, floor first visit, floor second visit). */
export async function browserFirstToken(o: FirstTokenOptions): Promise<FirstTokenResult> {
  const timeout = o.timeoutMs ?? 120_000;
  const variant = BUILTIN_MODEL.defaultVariants[0];
  configureNodeTransformers({ allowRemote: false });
  const tokenizer = await AutoTokenizer.from_pretrained(path.resolve(o.modelDir));
  const ids = Array.from(tokenizer.encode(DEFAULT_PROMPT));
  const mount = modelsMount(o.modelDir);
  const server = await serveStatic(o.siteDir, { mounts: { '/models/': mount.dir } });
  const pageUrl = `${server.url}index.html`;
  const floorUrl = `${server.url}bench.html?floor-first-token=${encodeURIComponent(
    `${server.url}models/${BUILTIN_MODEL_ID}/onnx/${variant}.onnx`,
  )}&ids=${ids.join(',')}`;
  const rounds: FirstTokenRound[] = [];
  try {
    for (let i = 0; i < o.runs; i++) {
      const ps = await launchChromium();
      await ps.page.addInitScript(PRESS_GENERATE_WHEN_READY);
      let cold: Awaited<ReturnType<typeof visitPage>>, warm: Awaited<ReturnType<typeof visitPage>>;
      try {
        await settle(ps.page, o.settleMs ?? SETTLE_MS);
        cold = await visitPage(ps.page, pageUrl, timeout);
        warm = await visitPage(ps.page, pageUrl, timeout);
      } finally {
        await ps.close();
      }
      const fs = await launchChromium();
      let floorColdMs: number, floorWarmMs: number;
      try {
        await settle(fs.page, o.settleMs ?? SETTLE_MS);
        floorColdMs = await visitFloor(fs.page, floorUrl, timeout);
        floorWarmMs = await visitFloor(fs.page, floorUrl, timeout);
      } finally {
        await fs.close();
      }
      rounds.push({
        cold: cold.timeline,
        warm: warm.timeline,
        floorColdMs,
        floorWarmMs,
        coldColumnsMs: cold.columnsMs,
        warmColumnsMs: warm.columnsMs,
      });
      const each = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' / ');
      o.log?.(
        `first token ${i + 1}/${o.runs}: page ${cold.timeline.totalMs.toFixed(0)} ms first visit, ${warm.timeline.totalMs.toFixed(0)} ms second ` +
          `(every column ${each(cold.columnsMs)}; ${each(warm.columnsMs)}); floor ${floorColdMs.toFixed(0)} / ${floorWarmMs.toFixed(0)} ms`,
      );
    }
  } finally {
    await server.close();
    mount.cleanup();
  }
  return firstTokenResult(variant, rounds);
}
