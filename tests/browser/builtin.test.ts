// A newcomer's first visit, offline: the built page opened with fresh storage and no model chosen,
// every request to a host other than this machine blocked. The default model must be the trained
// built-in aidreams260K, its fp32 column must write llama2.c's greedy reference text, its
// quantized columns readable text, and asking for more tokens than its 128 positions hold must be
// cut to what fits, with a note in the column.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { greedyReferences } from '../helpers/aidreams';
import { column, gotoReady, outputOf, waitDone } from './columns';
import { REPO_ROOT, openSite, type Site } from './harness';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

const variantsShown = (page: Page) =>
  page.locator('article.column').evaluateAll((els) => els.map((e) => e.getAttribute('data-variant')));

describe('the built-in default model, offline', () => {
  let site: Site;
  let page: Page;
  const blocked: string[] = [];
  const ref = greedyReferences().find((r) => r.prompt === 'I dreamed')!;

  beforeAll(async () => {
    site = await openSite();
    // Offline as a newcomer without network would be: nothing leaves this machine.
    await site.browser.context.route(
      (url) => url.protocol.startsWith('http') && !LOOPBACK.has(url.hostname),
      async (route) => {
        blocked.push(route.request().url());
        await route.abort('internetdisconnected');
      },
    );
    page = site.page;
    await gotoReady(page, site.server.url);
  });

  afterAll(() => site?.close());

  it('opens aidreams260K (trained, served) with fp32, q8 and q4 columns and the chat template off', async () => {
    await expect.poll(() => page.locator('#model').inputValue()).toBe('served:aidreams260K');
    expect(await page.locator('#model option:checked').textContent()).toBe('aidreams260K (built-in, trained)');
    expect(await page.locator('#model option[value="served:quantlab-tiny"]').textContent()).toContain('random weights');
    await expect.poll(() => variantsShown(page)).toEqual(['model', 'model_quantized', 'model_q4']);
    expect(await page.locator('#chat-template').isChecked()).toBe(false);
  });

  it("has ONNX Runtime's WASM code cache written once the opening generation has started, when a column runs on one thread", async () => {
    // Chromium wrote no code cache for ONNX Runtime on one WASM thread: the page starts it once on two.
    await expect
      .poll(() => page.evaluate(() => window.quantlab!.wasmCache.state), { timeout: 60_000 })
      .toMatch(/^(primed|not-needed|failed)$/);
    const seen = await page.evaluate(() => ({
      state: window.quantlab!.wasmCache.state,
      oneThread: window.quantlab!.playground.columns.some((c) => c.device?.device === 'wasm' && c.threads === 1),
      isolated: crossOriginIsolated,
      cores: navigator.hardwareConcurrency,
    }));
    expect(seen.isolated).toBe(true);
    expect(seen.state).toBe(seen.oneThread && seen.cores >= 2 ? 'primed' : 'not-needed');
  });

  it("writes llama2.c's greedy reference in the fp32 column and readable text in the quantized ones", async () => {
    const stems = await variantsShown(page);
    await page.locator('#prompt').fill(ref.prompt);
    await page.locator('#temperature').fill('0');
    await page.locator('#max-new-tokens').fill(String(ref.greedy_ids.length));
    await page.locator('#generate').click();
    for (const stem of stems) await waitDone(page, stem!, 0, 120_000);

    expect(ref.prompt + (await outputOf(page, 'model'))).toBe(ref.text);
    expect(Number(await column(page, 'model').getAttribute('data-tokens'))).toBe(ref.greedy_ids.length);
    for (const stem of ['model_quantized', 'model_q4']) {
      const text = await outputOf(page, stem);
      console.log(`[builtin] ${stem}: ${JSON.stringify(text.slice(0, 120))}`);
      expect(Number(await column(page, stem).getAttribute('data-tokens')), stem).toBeGreaterThan(10);
      expect(text, stem).not.toContain('\uFFFD');
      // Dream-like English: several words made of letters and punctuation.
      expect(text.split(/\s+/).filter((w) => /^[A-Za-z,.'"-]+$/.test(w)).length, stem).toBeGreaterThan(4);
    }
    mkdirSync(path.join(REPO_ROOT, 'test-results'), { recursive: true });
    await page.screenshot({ path: path.join(REPO_ROOT, 'test-results/builtin.png'), fullPage: true });
  });

  it("cuts max new tokens to the model's 128 positions and says so in the column", async () => {
    const before = Number(await column(page, 'model').getAttribute('data-generation'));
    const max = page.locator('#max-new-tokens');
    await max.fill('200');
    await max.blur();
    // Live mode is on (the default) and Generate was pressed: the change regenerates every column.
    await waitDone(page, 'model', before, 120_000);
    // llama2.c ran with 128 positions: its whole continuation is what fits after this prompt.
    expect(ref.prompt + (await outputOf(page, 'model'))).toBe(ref.text);
    expect(Number(await column(page, 'model').getAttribute('data-tokens'))).toBe(ref.greedy_ids.length);
    expect(await column(page, 'model').locator('.column-notice').textContent()).toBe(
      `At most ${ref.greedy_ids.length} new tokens, not 200: the prompt's ${ref.prompt_ids.length} tokens and the new ones share the model's 128 positions.`,
    );

    expect(blocked).toEqual([]);
    expect(site.browser.externalRequests).toEqual([]);
    expect(site.browser.failedRequests).toEqual([]);
    expect(site.browser.errors).toEqual([]);
  });
});
