// Smoke test of the built site in real Chromium: page, isolation, WebGPU adapter, comlink worker,
// ORT wasm served by the app and run with 2 threads, no request leaving this machine, and the
// service-worker shim isolating a host that sends no headers, and the site working from a sub-path.
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchChromium, REPO_ROOT, serveStatic, type BrowserSession, type StaticServer } from './harness.ts';

const ORT_DIST = path.join(REPO_ROOT, 'node_modules/onnxruntime-web/dist');
const ORT_FILES = ['ort-wasm-simd-threaded.asyncify.mjs', 'ort-wasm-simd-threaded.asyncify.wasm'];

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

  it('loads isolated, finds WebGPU, runs the comlink worker and ORT wasm from its own server', async () => {
    const start = performance.now();
    const page = browser.page;
    await page.goto(server.url);
    expect(await page.title()).toBe('QuantLab');
    expect(await page.locator('h1').textContent()).toBe('QuantLab');
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    // The page is isolated by the server's headers, so the shim must not register itself.
    expect(await page.evaluate(async () => (await navigator.serviceWorker.getRegistrations()).length)).toBe(0);

    const adapter = await page.evaluate(async () => {
      const a = await navigator.gpu?.requestAdapter();
      return a && { vendor: a.info.vendor, architecture: a.info.architecture, isFallback: a.info.isFallbackAdapter, f16: a.features.has('shader-f16') };
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

    // The worker answered the page itself, and answers a call made through the page's handle.
    await page.locator('#worker', { hasText: 'worker: pong: page' }).waitFor();
    expect(await page.evaluate(() => window.quantlab!.ping.ping('smoke'))).toBe('pong: smoke');
    const info = await page.evaluate(() => window.quantlab!.ping.info());
    expect(info.crossOriginIsolated).toBe(true);
    expect(info.wasmPaths).toEqual({ mjs: `${server.url}ort/${ORT_FILES[0]}`, wasm: `${server.url}ort/${ORT_FILES[1]}` });

    // The wasm files are served by the site, whole, with the right MIME types.
    for (const [i, file] of ORT_FILES.entries()) {
      const res = await page.evaluate(async (url) => {
        const r = await fetch(url);
        return { status: r.status, type: r.headers.get('content-type'), size: (await r.arrayBuffer()).byteLength };
      }, `${server.url}ort/${file}`);
      expect(res.status).toBe(200);
      expect(res.type).toBe(i === 0 ? 'application/javascript' : 'application/wasm');
      expect(res.size).toBe(statSync(path.join(ORT_DIST, file)).size);
    }

    // One copy of the 26 MB runtime in the build, under ort/ (Vite must not emit ORT's default one too).
    const wasmFiles = readdirSync(inject('siteDir'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.wasm'));
    expect(wasmFiles).toEqual([path.join('ort', ORT_FILES[1])]);

    // ORT (through transformers.js, as the runner uses it) runs a MatMul with 2 threads in the worker:
    // [[1,2],[3,4]] x [[5,6],[7,8]] = [[19,22],[43,50]] by hand.
    const before = browser.requests.length;
    const product = await page.evaluate(() => window.quantlab!.ping.ortMatmul([1, 2, 3, 4], [2, 2], [5, 6, 7, 8], [2, 2], 2));
    console.log(`[smoke] ORT ${product.version}, ${product.numThreads} threads; wasm requests:`, browser.requests.slice(before).filter((u) => u.includes('/ort/')));
    expect(product.data).toEqual([19, 22, 43, 50]);
    expect(product.dims).toEqual([2, 2]);
    expect(product.numThreads).toBe(2);
    expect(browser.requests.slice(before)).toContain(`${server.url}ort/${ORT_FILES[1]}`);

    mkdirSync(path.join(REPO_ROOT, 'test-results'), { recursive: true });
    await page.screenshot({ path: path.join(REPO_ROOT, 'test-results/smoke.png') });
    console.log(`[smoke] page checks took ${((performance.now() - start) / 1000).toFixed(1)} s`);

    expect(browser.externalRequests).toEqual([]);
    expect(browser.failedRequests).toEqual([]);
    expect(browser.errors).toEqual([]);
  });

  it('isolates itself through the service-worker shim on a host that sends no headers', async () => {
    const page = await browser.context.newPage();
    await page.goto(headerless.url);
    // First load: not isolated; the shim registers its service worker and reloads once.
    let isolated = false;
    for (let i = 0; i < 100 && !isolated; i++) {
      isolated = await page.evaluate(() => crossOriginIsolated).catch(() => false);
      if (!isolated) await page.waitForTimeout(200);
    }
    expect(isolated).toBe(true);
    await page.waitForLoadState('load');
    expect(await page.evaluate(() => navigator.serviceWorker.controller?.scriptURL)).toBe(`${headerless.url}coi-serviceworker.js`);
    const info = await page.evaluate(() => window.quantlab!.ping.info());
    expect(info.crossOriginIsolated).toBe(true);
    await page.close();

    expect(browser.externalRequests).toEqual([]);
    expect(browser.errors).toEqual([]);
  });

  it('works from a sub-path: the worker finds ORT under <sub-path>/ort/', async () => {
    const page = await browser.context.newPage();
    const siteUrl = `${parent.url}${path.basename(inject('siteDir'))}/`;
    await page.goto(siteUrl);
    expect(await page.title()).toBe('QuantLab');
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    const info = await page.evaluate(() => window.quantlab!.ping.info());
    expect(info.wasmPaths.wasm).toBe(`${siteUrl}ort/${ORT_FILES[1]}`);
    const status = await page.evaluate(async (url) => (await fetch(url, { method: 'HEAD' })).status, info.wasmPaths.mjs);
    expect(status).toBe(200);
    await page.close();

    expect(browser.externalRequests).toEqual([]);
    expect(browser.failedRequests).toEqual([]);
    expect(browser.errors).toEqual([]);
  });
});
