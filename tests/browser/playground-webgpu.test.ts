// The playground with WebGPU chosen, on the adapter Chromium offers here (SwiftShader, no
// shader-f16): fp32 and q4 columns write on WebGPU with their KV cache kept on the device, the
// fp16 column is sent to WASM and says why, and a column whose file is corrupt fails on its own
// with an explanation and a Retry button while the others finish.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKPOINT, TOKENIZER, greedyReferences } from '../helpers/aidreams';
import { openSite, type Site } from './harness';
import { column, waitSettled, gotoReady, openFiles } from './columns';

const N = 20;

describe('the playground on WebGPU', () => {
  let site: Site;
  let page: Page;
  const ref = greedyReferences().find((r) => r.prompt === 'I dreamed')!;

  beforeAll(async () => {
    site = await openSite();
    page = site.page;
    await gotoReady(page, `${site.server.url}?device=webgpu`);
    await openFiles(page, [CHECKPOINT, TOKENIZER]);
    await page.locator('#quantize').click();
    const dialog = page.locator('dialog[open]');
    for (const box of await dialog.locator('input[type="checkbox"]').all()) {
      const v = await box.getAttribute('value');
      if (v === 'fp16' || v === 'q4' || v === 'bnb4') await box.check();
      else await box.uncheck();
    }
    await dialog.locator('button[type="submit"]').click();
    await dialog.waitFor({ state: 'detached', timeout: 120_000 });
    // A damaged file, as a failed download or a full disk would leave it.
    await page.evaluate(async () => {
      const root = await navigator.storage.getDirectory();
      const onnx = await (
        await (await root.getDirectoryHandle('models')).getDirectoryHandle('aidreams260K')
      ).getDirectoryHandle('onnx');
      const w = await (await onnx.getFileHandle('model_bnb4.onnx')).createWritable();
      await w.write(new Uint8Array(5000).fill(7));
      await w.close();
    });
    for (const stem of ['model_fp16', 'model_q4', 'model_bnb4'])
      await page.locator(`input[data-stem="${stem}"]`).check();
  });

  afterAll(() => site?.close());

  it('runs fp32 and q4 on WebGPU, fp16 on WASM with the reason, and a corrupt column fails alone', async () => {
    await page.locator('#prompt').fill(ref.prompt);
    await page.locator('#temperature').fill('0');
    await page.locator('#max-new-tokens').fill(String(N));
    const before = Number(await column(page, 'model').getAttribute('data-generation'));
    await page.locator('#generate').click();
    const stems = ['model', 'model_q4', 'model_fp16', 'model_bnb4'];
    const status = Object.fromEntries(
      await Promise.all(stems.map(async (s) => [s, await waitSettled(page, s, before, 300_000)])),
    );
    expect(status).toEqual({ model: 'done', model_q4: 'done', model_fp16: 'done', model_bnb4: 'error' });
    for (const stem of ['model', 'model_q4'])
      expect(await column(page, stem).locator('.device').textContent()).toMatch(/^WEBGPU chosen in settings/);
    expect(await column(page, 'model_fp16').locator('.device').textContent()).toMatch(/^WASM.*needs shader-f16/);
    const ids = await page.evaluate(() =>
      Object.fromEntries(window.quantlab!.playground.columns.map((c) => [c.variant.stem, [...c.ids]])),
    );
    expect(ids.model).toEqual(ref.greedy_ids.slice(0, N));
    expect(ids.model_fp16).toEqual(ref.greedy_ids.slice(0, N));
    expect(ids.model_q4).toHaveLength(N);
    // On WebGPU the KV cache never left the device between steps; the WASM column's is in memory.
    const kv = await page.evaluate(() =>
      Object.fromEntries(window.quantlab!.playground.columns.map((c) => [c.variant.stem, c.timings?.kvLocation])),
    );
    expect(kv).toMatchObject({ model: 'gpu-buffer', model_q4: 'gpu-buffer', model_fp16: 'cpu' });
    expect(await column(page, 'model').locator('dd[data-k="kv"]').textContent()).toBe('on the GPU');

    const error = column(page, 'model_bnb4').locator('.column-error');
    expect(await error.textContent()).toMatch(/onnx\/model_bnb4\.onnx .* is corrupt or not an ONNX model/);
    await error.getByRole('button', { name: 'Retry' }).first().waitFor();
    console.log(`[playground-webgpu] ${await column(page, 'model').locator('.figures').textContent()}`);
    await page.screenshot({ path: 'test-results/playground-webgpu.png', fullPage: true });
  });
});
