// The smaller reliability items of issue 16 on the built page: an import error reads as two
// sentences, the chat toggle on a model without a template names the problem, a load shows the
// session being built after the file is read, and nine columns have nine colours (fp32's its own).
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TOKENIZER } from '../helpers/aidreams';
import { FP32_COLOUR } from '../../src/lib/page/colours';
import { column, gotoReady, waitSettled } from './columns';
import { launchChromium, serveStatic, type BrowserSession, type StaticServer } from './harness';

const TINY = 'served:quantlab-tiny';
// The built-in model's variants, spelled out (not read from the variant table) as the page must show them.
const STEMS = [
  'model',
  'model_fp16',
  'model_bf16',
  'model_q4',
  'model_q4f16',
  'model_quantized',
  'model_int8',
  'model_uint8',
  'model_bnb4',
];

describe('the smaller items of issue 16', () => {
  let server: StaticServer;
  let browser: BrowserSession;
  let page: Page;

  beforeAll(async () => {
    server = await serveStatic(inject('siteDir'));
    browser = await launchChromium();
    page = browser.page;
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('shows "Creating the ONNX Runtime session" after the model file is read, until the column is ready', async () => {
    await gotoReady(page, `${server.url}?device=wasm&model=${TINY}&variants=model`);
    // Every progress line the column shows, in order, until it is loaded.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { progressSeen: string[] }).progressSeen = seen;
      new MutationObserver(() => {
        const t = document.querySelector('article.column[data-variant="model"] .progress span')?.textContent;
        if (t && seen.at(-1) !== t) seen.push(t);
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await page.locator('#load').click();
    await page.locator('article.column[data-variant="model"][data-status="ready"]').waitFor({ timeout: 60_000 });
    const seen = await page.evaluate(() => (window as unknown as { progressSeen: string[] }).progressSeen);
    console.log('[progress]', seen);
    const read = seen.findIndex((m) => m.startsWith('Reading onnx/model.onnx'));
    expect(read).toBeGreaterThanOrEqual(0);
    // After the model file, the session line shows and stays until ready (small files such as
    // generation_config.json finishing meanwhile do not take it back).
    expect(seen.slice(read + 1).some((m) => /^Creating the ONNX Runtime session/.test(m))).toBe(true);
    expect(seen.at(-1)).toMatch(/^Creating the ONNX Runtime session/);
  });

  it('says the model has no chat template, without a URL, when the toggle is on', async () => {
    await gotoReady(page, `${server.url}?device=wasm&model=${TINY}&variants=model&chat=1&max_new_tokens=4`);
    expect(await page.locator('#chat-template').isChecked()).toBe(true);
    await page.locator('#generate').click();
    expect(await waitSettled(page, 'model', 0)).toBe('error');
    const text = (await column(page, 'model').locator('.column-error').textContent()) ?? '';
    expect(text).toMatch(/This model has no chat template/);
    expect(text).toMatch(/plain text/);
    expect(text).not.toMatch(/https?:|apply_chat_template/);
  });

  it('gives nine columns nine colours, and fp32 its own', async () => {
    await gotoReady(page, `${server.url}?device=wasm&model=${TINY}&variants=${STEMS.join(',')}`);
    await page.locator('article.column').nth(8).waitFor();
    const accents = await page.evaluate(() =>
      [...document.querySelectorAll<HTMLElement>('article.column')].map((el) => [
        el.dataset.variant!,
        el.style.getPropertyValue('--accent').trim(),
      ]),
    );
    expect(accents.map(([s]) => s).sort()).toEqual([...STEMS].sort());
    expect(new Set(accents.map(([, c]) => c)).size).toBe(9);
    expect(accents.filter(([, c]) => c.toLowerCase() === FP32_COLOUR).map(([s]) => s)).toEqual(['model']);
  });

  it("draws each column's speed bar in its header's colour", async () => {
    const stems = ['model', 'model_q4'];
    await gotoReady(
      page,
      `${server.url}?device=wasm&model=${TINY}&variants=${stems.join(',')}&chat=0&max_new_tokens=4`,
    );
    await page.locator('#generate').click();
    for (const s of stems) expect(await waitSettled(page, s, 0)).toBe('done');
    // Pixels of the summary chart in exactly each header colour (the bars' insides are solid).
    const counts = await page.waitForFunction(
      () => {
        const canvas = document.querySelector<HTMLCanvasElement>('section.summary canvas');
        if (!canvas || canvas.width === 0) return null;
        const px = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        const out: Record<string, number> = {};
        for (const el of document.querySelectorAll<HTMLElement>('article.column')) {
          const hex = el.style.getPropertyValue('--accent').trim();
          const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
          let n = 0;
          for (let i = 0; i < px.length; i += 4) if (px[i] === r && px[i + 1] === g && px[i + 2] === b) n++;
          out[el.dataset.variant!] = n;
        }
        return Object.values(out).every((n) => n > 50) ? out : null;
      },
      undefined,
      { timeout: 10_000 },
    );
    console.log('[summary chart pixels per header colour]', await counts.jsonValue());
  });

  it('reads a corrupt checkpoint error as two sentences', async () => {
    await gotoReady(page, `${server.url}?device=wasm&model=${TINY}&variants=model`);
    // The page is on the asked model before the import starts: an import's message belongs to the
    // model on screen, and one that ended before the start-up selection would be cleared by it.
    await expect.poll(() => page.locator('#model').inputValue()).toBe(TINY);
    const header = Buffer.alloc(1000, 0);
    header.writeInt32LE(-845788986, 0);
    await page.locator('#open-files:not([disabled])').waitFor();
    await page.setInputFiles('#open-files', [
      { name: 'broken.bin', mimeType: 'application/octet-stream', buffer: header },
      { name: 'tok512.bin', mimeType: 'application/octet-stream', buffer: readFileSync(TOKENIZER) },
    ]);
    // Polled: the status line passes through progress messages before the error settles.
    const status = page.locator('#import-status');
    await expect
      .poll(async () => (await status.textContent()) ?? '', { timeout: 60_000 })
      .toContain('header field dim = -845788986. QuantLab reads');
  });
});
