// External-data variants on the built page, with aidreams260K: served as the built-in model folder
// (one .onnx_data file, and four chunks) and opened from disk into browser storage (a folder whose
// fp32 weights are four chunks), each column writes llama2.c's greedy text as the single-file twin
// does (on WASM, and on WebGPU through a column worker); q4 quantized in the page from the chunked
// fp32 writes what q4 from the single file writes; a lost chunk fails the load at once, by name.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TINY_MODEL } from '../../src/lib/catalog';
import { buildModelFolder, type ModelFiles } from '../../src/lib/model/folder';
import { encodeModelFiles } from '../../src/lib/onnx/external-data';
import { decodeModel } from '../../src/lib/onnx/proto';
import { expandRequests, quantizeVariants } from '../../src/lib/quantize/quantize-variants';
import { greedyReferences } from '../helpers/aidreams';
import { aidreamsSource, cleanupTempDirs, tempDir } from '../helpers/model-dirs';
import { column, gotoReady, outputOf, waitDone, waitSettled } from './columns';
import { launchChromium, REPO_ROOT, serveStatic, type BrowserSession, type StaticServer } from './harness';

// aidreams260K's fp32 weights are about 0.9 MB: 300 kB chunks make four data files.
const CHUNK = 300_000;
const ref = greedyReferences().find((r) => r.prompt === 'I dreamed')!;

function writeFiles(dir: string, files: ModelFiles): void {
  for (const [rel, bytes] of files) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), bytes);
  }
}

/** Greedy generation of the reference prompt in every column of `stems`; returns their texts. */
async function generateAll(page: Page, url: string, stems: string[]): Promise<string[]> {
  const q = new URLSearchParams({
    device: 'wasm',
    variants: stems.join(','),
    prompt: ref.prompt,
    temperature: '0',
    max_new_tokens: String(ref.greedy_ids.length),
    chat: '0',
    live: '0',
  });
  await gotoReady(page, `${url}&${q}`);
  for (const s of stems) await column(page, s).waitFor();
  const before = Number(await column(page, stems[0]).getAttribute('data-generation'));
  await page.locator('#generate').click();
  for (const s of stems) await waitDone(page, s, before, 120_000);
  return Promise.all(stems.map((s) => outputOf(page, s)));
}

describe('external-data variants in the page', () => {
  let server: StaticServer;
  let browser: BrowserSession;
  let page: Page;
  let opened: string;
  let servedQ4 = '';

  beforeAll(async () => {
    // The built-in model folder, replaced for this test: aidreams260K as a single file (model),
    // the same weights in one data file (model_ext) and in four chunks (model_chunks), and q4
    // quantized from the single file.
    const single = await buildModelFolder(aidreamsSource());
    const fp32 = single.get('onnx/model.onnx')!;
    const files: ModelFiles = new Map(single);
    for (const [stem, write] of [
      ['model_ext', { maxModelBytes: 0 }],
      ['model_chunks', { maxModelBytes: 0, maxChunkBytes: CHUNK }],
      ['model_gone', { maxModelBytes: 0, maxChunkBytes: CHUNK }],
    ] as const)
      for (const [name, bytes] of encodeModelFiles(decodeModel(fp32), stem, write)) files.set(`onnx/${name}`, bytes);
    for (const [rel, bytes] of (await quantizeVariants(fp32, expandRequests(['q4'], {}), undefined)).files)
      files.set(rel, bytes);
    const models = tempDir('quantlab-extdata-served-');
    writeFiles(path.join(models, TINY_MODEL.ref.id), files);
    execFileSync('node', [path.join(REPO_ROOT, 'scripts/served-models-index.mjs'), models]);
    // Listed in the index, then lost: the server answers 404 for this chunk.
    rmSync(path.join(models, TINY_MODEL.ref.id, 'onnx/model_gone.onnx_data_1'));

    // A transformers.js folder to open from disk: its fp32 model.onnx keeps its weights in four chunks.
    opened = path.join(tempDir('quantlab-extdata-open-'), 'aidreams-chunked');
    writeFiles(opened, await buildModelFolder(aidreamsSource(), { write: { maxModelBytes: 0, maxChunkBytes: CHUNK } }));

    server = await serveStatic(inject('siteDir'), { mounts: { '/models/': models } });
    browser = await launchChromium();
    page = browser.page;
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    cleanupTempDirs();
  });

  it("served: one data file and four chunks write the single-file twin's text, llama2.c's", async () => {
    const stems = ['model', 'model_ext', 'model_chunks', 'model_q4'];
    const texts = await generateAll(page, `${server.url}?model=${encodeURIComponent(TINY_MODEL.key)}`, stems);
    console.log('[served]', texts.map((t, i) => `${stems[i]}: ${JSON.stringify(t.slice(0, 40))}`).join(' | '));
    expect(ref.prompt + texts[0]).toBe(ref.text);
    expect(texts[1]).toBe(texts[0]);
    expect(texts[2]).toBe(texts[0]);
    for (const s of stems.slice(0, 3))
      expect(Number(await column(page, s).getAttribute('data-tokens'))).toBe(ref.greedy_ids.length);
    // The picker says which variants keep their weights in .onnx_data files, and lets them be chosen.
    for (const [stem, flagged] of [
      ['model', false],
      ['model_ext', true],
      ['model_chunks', true],
    ] as const) {
      const box = page.locator(`input[data-stem="${stem}"]`);
      expect(await box.isEnabled()).toBe(true);
      expect(await page.locator('label', { has: box }).locator('.flag', { hasText: 'external data' }).count()).toBe(
        flagged ? 1 : 0,
      );
    }
    servedQ4 = texts[3];
    expect(servedQ4.length).toBeGreaterThan(0);
    expect(browser.externalRequests).toEqual([]);
  });

  it("served: four chunks load on WebGPU too, with llama2.c's greedy ids", async () => {
    await gotoReady(page, `${server.url}?device=wasm`);
    const r = await page.evaluate(
      async ({ id, ref }) => {
        const col = window.quantlab!.startColumnWorker();
        try {
          await col.api.load({ kind: 'served', id }, 'model_chunks', 'webgpu', undefined, undefined, 4);
          const g = await col.api.generate({
            prompt: ref.prompt,
            maxNewTokens: ref.greedy_ids.length,
            temperature: 0,
            topK: 0,
            topP: 1,
            repetitionPenalty: 1,
            seed: 0,
          });
          return { ids: g.ids };
        } catch (e) {
          return { error: (e as Error).message };
        } finally {
          col.terminate();
        }
      },
      { id: TINY_MODEL.ref.id, ref },
    );
    expect(r.error).toBeUndefined();
    expect(r.ids).toEqual(ref.greedy_ids);
  });

  it('served: a chunk the server no longer has ends the load at once with its name, not at the watchdog', async () => {
    const q = new URLSearchParams({ device: 'wasm', model: TINY_MODEL.key, variants: 'model_gone', live: '0' });
    await gotoReady(page, `${server.url}?${q}`);
    await column(page, 'model_gone').waitFor();
    const t0 = performance.now();
    await page.locator('#generate').click();
    // Well under the load watchdog (120 s): a missing chunk must fail the load, not leave it hanging.
    expect(await waitSettled(page, 'model_gone', 0, 60_000)).toBe('error');
    console.log(`[missing chunk] error after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const text = (await column(page, 'model_gone').locator('.column-error').textContent()) ?? '';
    expect(text).toMatch(/its weights file model_gone\.onnx_data_1 is missing or cut short/);
    expect(text).toMatch(/beside it in onnx\//);
  });

  it("opened from disk: the chunked folder is stored whole, generates llama2.c's text, and quantizes in the page", async () => {
    await gotoReady(page, `${server.url}?device=wasm`);
    await page.setInputFiles('#open-folder', opened);
    const status = page.locator('#import-status');
    await status.filter({ hasText: /Imported|Error/ }).waitFor({ timeout: 120_000 });
    expect(await status.textContent()).toMatch(/Imported/);
    const id = (await status.getAttribute('data-model-id')) ?? '';
    const stored = await page.evaluate(
      async (id) => (await window.quantlab!.builder.api.list()).find((m) => m.id === id)!.files,
      id,
    );
    const data = stored.filter((f) => f.path.startsWith('onnx/model.onnx_data'));
    expect(data.map((f) => f.path).sort()).toEqual([
      'onnx/model.onnx_data',
      'onnx/model.onnx_data_1',
      'onnx/model.onnx_data_2',
      'onnx/model.onnx_data_3',
    ]);
    expect(data.every((f) => f.bytes > 0 && f.bytes <= CHUNK)).toBe(true);

    // q4 from the chunked fp32, by the builder worker the Quantize dialog drives.
    const q = await page.evaluate(async (id) => {
      try {
        return { files: (await window.quantlab!.builder.api.quantize(id, ['q4'], {})).files.map((f) => f.path) };
      } catch (e) {
        return { error: (e as Error).message };
      }
    }, id);
    expect(q.error).toBeUndefined();
    expect(q.files).toContain('onnx/model_q4.onnx');

    const key = encodeURIComponent(`local:${id}`);
    const [fp32, q4] = await generateAll(page, `${server.url}?model=${key}`, ['model', 'model_q4']);
    expect(ref.prompt + fp32).toBe(ref.text);
    expect(q4).toBe(servedQ4);
    expect(browser.externalRequests).toEqual([]);
  });
});
