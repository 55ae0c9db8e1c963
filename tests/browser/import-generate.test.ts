// The model toolkit in the real built page: open aidreams260K's llama2.c files through the file
// input, convert them in the builder worker, and generate greedily in column workers on WASM and
// on WebGPU: every id of llama2.c's four references must come back.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKPOINT, TOKENIZER, greedyReferences } from '../helpers/aidreams';
import { noAutorun } from './columns';
import { openSite, type Site } from './harness';

describe('aidreams260K imported and generated in the browser', () => {
  let site: Site;
  let modelId = '';

  beforeAll(async () => {
    site = await openSite();
    await site.page.goto(noAutorun(site.server.url));
    await site.page.setInputFiles('#open-files', [CHECKPOINT, TOKENIZER]);
    const status = site.page.locator('#import-status');
    await status.filter({ hasText: /Imported|Error/ }).waitFor({ timeout: 120_000 });
    console.log('[import]', await status.textContent());
    modelId = (await status.getAttribute('data-model-id')) ?? '';
  });

  afterAll(() => site?.close());

  it('stores the converted model in browser storage', async () => {
    expect(modelId).toBe('aidreams260K');
    const models = await site.page.evaluate(() => window.quantlab!.builder.api.list());
    const files = models
      .find((m) => m.id === 'aidreams260K')!
      .files.map((f) => f.path)
      .sort();
    expect(files).toEqual([
      'config.json',
      'generation_config.json',
      'onnx/model.onnx',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
  });

  it('lists the stored model after a reload from storage, without starting the builder worker', async () => {
    await site.page.reload();
    await site.page.waitForFunction(() => document.documentElement.dataset.ready === 'true');
    // The Model menu offers it again; the builder (importer, quantizers) starts only on its first task.
    await site.page.locator('#model option[value="local:aidreams260K"]').waitFor({ state: 'attached' });
    expect(await site.page.evaluate(() => window.quantlab!.builder.started)).toBe(false);
  });

  for (const device of ['wasm', 'webgpu'] as const) {
    it(`reproduces every reference id on ${device}`, async () => {
      const refs = greedyReferences();
      const results = await site.page.evaluate(
        async ({ device, refs, modelId }) => {
          const col = window.quantlab!.startColumnWorker();
          try {
            const load = await col.api.load({ kind: 'local', id: modelId }, 'model', device);
            const out = [];
            for (const r of refs) {
              const g = await col.api.generate({
                prompt: r.prompt,
                maxNewTokens: r.greedy_ids.length,
                temperature: 0,
                topK: 0,
                topP: 1,
                repetitionPenalty: 1,
                seed: 0,
              });
              out.push({ promptIds: g.promptIds, ids: g.ids, text: g.text, tps: g.timings.decodeTokensPerS });
            }
            return { load, out };
          } catch (e) {
            const { code, message, detail } = e as { code: string; message: string; detail?: string };
            return { error: { code, message, detail } };
          } finally {
            col.terminate();
          }
        },
        { device, refs, modelId },
      );
      expect(results.error).toBeUndefined();
      // The test page is cross-origin isolated: the page's endpoint counts what it posts, so the
      // decode loop yields only while a message is on its way (without it: every 8 ms, README).
      expect(results.load!.betweenTokens).toBe('while-messages-wait');
      console.log(
        `[${device}] load ${results.load!.loadMs.toFixed(0)} ms, threads ${results.load!.threads}, decode tokens/s ${results.out!.map((o) => o.tps.toFixed(0)).join(' ')}`,
      );
      refs.forEach((r, i) => {
        expect(results.out![i].promptIds).toEqual(r.prompt_ids);
        expect(results.out![i].ids).toEqual(r.greedy_ids);
        expect(r.prompt + results.out![i].text).toBe(r.text);
      });
    });
  }

  it("starts ONNX Runtime's WASM while the rest of the column worker is still loading", async () => {
    const r = await site.page.evaluate(async (modelId) => {
      // A column worker prestarted by the page and not yet taken would have loaded long ago: take
      // it (if any) out of the way, so the worker below is created now.
      window.quantlab!.startColumnWorker().terminate();
      const col = window.quantlab!.startColumnWorker();
      try {
        const warm = await col.api.warm('wasm', 1);
        const load = await col.api.load({ kind: 'local', id: modelId }, 'model', 'wasm', undefined, 1);
        return { warm, marks: load.marks!, threads: load.threads };
      } finally {
        col.terminate();
      }
    }, modelId);
    // The worker's entry (ONNX Runtime's JS) answered warm() (and the page's mailbox() call before
    // it): the runtime started before transformers.js and the runner had run, and the load used that start.
    expect(r.warm.bootAt).toBeLessThanOrEqual(r.warm.wasm.start);
    expect(r.warm.wasm.start).toBeLessThan(r.marks.bootAt);
    expect(r.marks.wasm).toEqual(r.warm.wasm);
    expect([r.warm.threads, r.threads]).toEqual([1, 1]);
    console.log(
      `[wasm start] entry ran ${(r.warm.wasm.start - r.warm.bootAt).toFixed(0)} ms before the start, the rest ${(r.marks.bootAt - r.warm.wasm.start).toFixed(0)} ms after it; start took ${(r.warm.wasm.end - r.warm.wasm.start).toFixed(0)} ms`,
    );
  });

  it("says so when a column worker cannot load the rest of its code, the runtime's start unharmed", async () => {
    const rest = (url: URL) => /\/column-api[^/]*\.(js|ts)$/.test(url.pathname);
    await site.browser.context.route(rest, (route) => route.abort('connectionreset'));
    try {
      const r = await site.page.evaluate(async (modelId) => {
        window.quantlab!.startColumnWorker().terminate();
        const col = window.quantlab!.startColumnWorker();
        try {
          const warm = await col.api.warm('wasm', 1);
          const error = await col.api.load({ kind: 'local', id: modelId }, 'model', 'wasm', undefined, 1).then(
            () => null,
            (e: { code: string; message: string; detail?: string }) => ({
              code: e.code,
              message: e.message,
              detail: e.detail,
            }),
          );
          return { threads: warm.threads, error };
        } finally {
          col.terminate();
        }
      }, modelId);
      expect(r.threads).toBe(1);
      expect(r.error?.code).toBe('load-failed');
      expect(r.error?.message).toMatch(/could not load the rest of its code \(.*column-api/);
      expect(r.error?.detail).toMatch(/^Reload the page/);
    } finally {
      await site.browser.context.unroute(rest);
    }
  });

  it('explains bad files in the page and keeps working', async () => {
    const page = site.page;
    await page.locator('#open-files:not([disabled])').waitFor();
    await page.setInputFiles('#open-files', [
      { name: 'broken.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(1000, 0xff) },
      { name: 'tok512.bin', mimeType: 'application/octet-stream', buffer: readFileSync(TOKENIZER) },
    ]);
    const status = page.locator('#import-status');
    await status
      .filter({ hasText: /Error/ })
      .waitFor({ timeout: 120_000 })
      .catch(async (err) => {
        throw new Error(`${(err as Error).message}\n#import-status says: ${await status.textContent()}`);
      });
    expect(await status.textContent()).toMatch(/broken\.bin does not look like a llama2\.c checkpoint/);
    const models = await page.evaluate(() => window.quantlab!.builder.api.list());
    expect(models.map((m) => m.id)).toEqual(['aidreams260K']);
    expect(site.browser.externalRequests).toEqual([]);
  });
});
