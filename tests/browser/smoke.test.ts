// Smoke test of the built site in real Chromium: page, isolation, WebGPU adapter, a real column
// worker running the built-in model with ORT's wasm served by the app and 2 threads, a worker's
// typed error reaching the page, no request leaving this machine, and the service-worker shim
// isolating a host that sends no headers, and the site working from a sub-path.
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TINY_MODEL_ID } from '../../src/lib/catalog';
import { noAutorun } from './columns';
import { launchChromium, REPO_ROOT, serveStatic, type BrowserSession, type StaticServer } from './harness';

const ORT_DIST = path.join(REPO_ROOT, 'node_modules/onnxruntime-web/dist');
/** ONNX Runtime's full build (WebGPU and WASM), then its WASM-only build, which WASM columns start. */
const ORT_FILES = [
  'ort-wasm-simd-threaded.asyncify.mjs',
  'ort-wasm-simd-threaded.asyncify.wasm',
  'ort-wasm-simd-threaded.mjs',
  'ort-wasm-simd-threaded.wasm',
];
const NEW_TOKENS = 4;

/**
 * Through the page's own factory: a column worker loads the built-in model's fp32 variant on WASM
 * asking for 2 threads (ONNX Runtime falls back to 1 where SharedArrayBuffer is missing, so 2
 * means the worker is isolated) and generates greedily; then a call with bad parameters, whose
 * error must reach the page as a QuantlabError with its code.
 */
async function runColumnWorker(page: Page) {
  return page.evaluate(
    async ({ id, newTokens }) => {
      const col = window.quantlab!.startColumnWorker();
      try {
        const load = await col.api.load({ kind: 'served', id }, 'model', 'wasm', undefined, 2);
        const params = {
          prompt: 'Once upon a time',
          maxNewTokens: newTokens,
          temperature: 0,
          topK: 0,
          topP: 1,
          repetitionPenalty: 1,
          seed: 0,
        };
        const g = await col.api.generate(params);
        const error = await col.api.generate({ ...params, maxNewTokens: 0 }).then(
          () => null,
          (e: Error & { code?: string }) => ({ name: e.name, code: e.code, message: e.message }),
        );
        return { threads: load.threads, promptIds: g.promptIds, ids: g.ids, error };
      } finally {
        col.terminate();
      }
    },
    { id: TINY_MODEL_ID, newTokens: NEW_TOKENS },
  );
}

/** What a column worker run must show wherever the site is served. */
function expectColumnWorker(run: Awaited<ReturnType<typeof runColumnWorker>>): void {
  expect(run.threads).toBe(2);
  expect(run.promptIds.length).toBeGreaterThan(0);
  expect(run.ids.length).toBeGreaterThan(0);
  expect(run.ids.length).toBeLessThanOrEqual(NEW_TOKENS);
  expect(run.error).toEqual({
    name: 'QuantlabError',
    code: 'bad-argument',
    message: expect.stringMatching(/max new tokens/),
  });
}

describe('built site', () => {
  let server: StaticServer;
  let headerless: StaticServer;
  let parent: StaticServer;
  let browser: BrowserSession;

  beforeAll(async () => {
    server = await serveStatic(inject('siteDir'));
    headerless = await serveStatic(inject('siteDir'), { isolationHeaders: false });
    parent = await serveStatic(path.dirname(inject('siteDir')));
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await headerless?.close();
    await parent?.close();
  });

  it('loads isolated, finds WebGPU, runs a column worker and ORT wasm from its own server', async () => {
    const start = performance.now();
    const page = browser.page;
    await page.goto(noAutorun(server.url));
    expect(await page.title()).toBe('QuantLab');
    expect(await page.locator('h1').textContent()).toBe('QuantLab');
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    // The page is isolated by the server's headers, so the shim must not register itself.
    expect(await page.evaluate(async () => (await navigator.serviceWorker.getRegistrations()).length)).toBe(0);

    const adapter = await page.evaluate(async () => {
      const a = await navigator.gpu?.requestAdapter();
      return (
        a && {
          vendor: a.info.vendor,
          architecture: a.info.architecture,
          isFallback: a.info.isFallbackAdapter,
          f16: a.features.has('shader-f16'),
        }
      );
    });
    console.log('[smoke] WebGPU adapter:', JSON.stringify(adapter));
    expect(adapter).not.toBeNull();

    // The placeholder page reports the same facts through src/lib/page/platform.ts.
    const env = page.locator('#env[data-ready="true"]');
    await env.waitFor();
    const envText = (await env.textContent()) ?? '';
    console.log('[smoke] #env:', envText);
    expect(envText).toContain('crossOriginIsolated true');
    expect(envText).toContain(`WebGPU ${adapter!.vendor || '?'}/${adapter!.architecture || '?'}`);
    expect(envText).toContain(`shader-f16 ${adapter!.f16 ? 'yes' : 'no'}`);

    // The wasm files are served by the site, whole, with the right MIME types.
    for (const file of ORT_FILES) {
      const res = await page.evaluate(async (url) => {
        const r = await fetch(url);
        return { status: r.status, type: r.headers.get('content-type'), size: (await r.arrayBuffer()).byteLength };
      }, `${server.url}ort/${file}`);
      expect(res.status).toBe(200);
      expect(res.type).toBe(file.endsWith('.mjs') ? 'application/javascript' : 'application/wasm');
      expect(res.size).toBe(statSync(path.join(ORT_DIST, file)).size);
    }

    // One copy of each runtime in the build, under ort/ (Vite must not emit ORT's default one too).
    const wasmFiles = readdirSync(inject('siteDir'), { recursive: true, encoding: 'utf8' }).filter((f) =>
      f.endsWith('.wasm'),
    );
    expect(wasmFiles.sort()).toEqual([path.join('ort', ORT_FILES[1]), path.join('ort', ORT_FILES[3])]);

    // A column worker runs the built-in model with ORT (through transformers.js, as the playground
    // does) on 2 threads, fetching ORT's wasm and the model from this server.
    const before = browser.requests.length;
    const run = await runColumnWorker(page);
    const requests = browser.requests.slice(before);
    console.log(
      `[smoke] column worker: ${run.threads} threads, ids ${run.ids.join(' ')}; ort requests:`,
      requests.filter((u) => u.includes('/ort/')),
    );
    expectColumnWorker(run);
    // A WASM column starts the WASM-only build, not the full one.
    expect(requests).toContain(`${server.url}ort/${ORT_FILES[3]}`);
    expect(requests).not.toContain(`${server.url}ort/${ORT_FILES[1]}`);
    expect(requests).toContain(`${server.url}models/${TINY_MODEL_ID}/onnx/model.onnx`);

    mkdirSync(path.join(REPO_ROOT, 'test-results'), { recursive: true });
    await page.screenshot({ path: path.join(REPO_ROOT, 'test-results/smoke.png') });
    console.log(`[smoke] page checks took ${((performance.now() - start) / 1000).toFixed(1)} s`);

    expect(browser.externalRequests).toEqual([]);
    expect(browser.failedRequests).toEqual([]);
    expect(browser.errors).toEqual([]);
  });

  it('isolates itself through the service-worker shim on a host that sends no headers', async () => {
    const page = await browser.context.newPage();
    await page.goto(noAutorun(headerless.url));
    // First load: not isolated; the shim registers its service worker and reloads once.
    let isolated = false;
    for (let i = 0; i < 100 && !isolated; i++) {
      isolated = await page.evaluate(() => crossOriginIsolated).catch(() => false);
      if (!isolated) await page.waitForTimeout(200);
    }
    expect(isolated).toBe(true);
    await page.waitForLoadState('load');
    expect(await page.evaluate(() => navigator.serviceWorker.controller?.scriptURL)).toBe(
      `${headerless.url}coi-serviceworker.js`,
    );
    // The column worker is isolated too: ONNX Runtime keeps its 2 threads.
    expectColumnWorker(await runColumnWorker(page));
    await page.close();

    expect(browser.externalRequests).toEqual([]);
    expect(browser.errors).toEqual([]);
  });

  it('works from a sub-path: the worker finds ORT under <sub-path>/ort/', async () => {
    const page = await browser.context.newPage();
    const siteUrl = `${parent.url}${path.basename(inject('siteDir'))}/`;
    await page.goto(noAutorun(siteUrl));
    expect(await page.title()).toBe('QuantLab');
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    const before = browser.requests.length;
    expectColumnWorker(await runColumnWorker(page));
    const requests = browser.requests.slice(before);
    // The WASM-only build, as a WASM column starts it.
    expect(requests).toContain(`${siteUrl}ort/${ORT_FILES[2]}`);
    expect(requests).toContain(`${siteUrl}ort/${ORT_FILES[3]}`);
    await page.close();

    expect(browser.externalRequests).toEqual([]);
    expect(browser.failedRequests).toEqual([]);
    expect(browser.errors).toEqual([]);
  });
});
