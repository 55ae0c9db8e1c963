// The memory budget and the load watchdog on the built page, with the built-in tiny model on WASM.
// With a budget set in the page's controls so that two columns fit and the third does not, the
// third is refused before it loads, saying what it needs, the budget and which columns hold what;
// the other two load and generate; removing one lets the third load. A load that never answers
// (the test hook of src/browser/test-hooks.ts) ends with the watchdog's message naming the stage.
// The expected figures come from the model's files and config by hand (the formula of
// src/lib/page/memory-budget.ts with its measured factors), not from the page.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COLUMN_OVERHEAD_BYTES, WEIGHT_FACTORS } from '../../src/lib/page/memory-budget';
import { REPO_ROOT, openSite, type Site } from './harness';
import { column, gotoReady, waitDone } from './columns';

const MiB = 1024 * 1024;
const PROMPT = 'Once upon a time';
const MAX_NEW_TOKENS = 8;
/** fp32, fp16 and q4, as the page orders them (highest precision first). */
const STEMS = ['model', 'model_fp16', 'model_q4'];
const LABELS: Record<string, string> = { model: 'fp32', model_fp16: 'fp16', model_q4: 'q4' };
const FORMAT: Record<string, keyof typeof WEIGHT_FACTORS> = {
  model: 'float32',
  model_fp16: 'float16',
  model_q4: 'nbits',
};

const MODEL_DIR = path.join(REPO_ROOT, 'public/models/quantlab-tiny');

/** What each column should reserve, from its file size and the model's config.json. */
function expectedNeed(stem: string): number {
  const index = JSON.parse(readFileSync(path.join(REPO_ROOT, 'public/models/index.json'), 'utf8')) as {
    models: { id: string; files: { path: string; bytes: number }[] }[];
  };
  const bytes = index.models
    .find((m) => m.id === 'quantlab-tiny')!
    .files.find((f) => f.path === `onnx/${stem}.onnx`)!.bytes;
  const c = JSON.parse(readFileSync(path.join(MODEL_DIR, 'config.json'), 'utf8'));
  // Tokens: the prompt's 16 bytes + 2 + 8 new = 26 (well under 512 positions).
  const tokens = PROMPT.length + 2 + MAX_NEW_TOKENS;
  const kvBytes = stem === 'model_fp16' ? 2 : 4;
  const kv = c.num_hidden_layers * 2 * c.num_key_value_heads * c.head_dim * tokens * kvBytes;
  const logits = tokens * c.vocab_size * 4;
  return Math.round(bytes * WEIGHT_FACTORS[FORMAT[stem]]) + kv + logits + COLUMN_OVERHEAD_BYTES;
}

const mb = (b: number) => `${Math.round(b / MiB)} MB`;

async function setBudget(page: Page, mbValue: number): Promise<void> {
  await page.locator('#memory-budget').fill(String(mbValue));
  await page.locator('#memory-budget').dispatchEvent('change');
  await expect.poll(() => page.locator('#memory-budget').inputValue()).toBe(String(mbValue));
}

describe('memory budget and load watchdog', () => {
  let site: Site;
  let page: Page;

  beforeAll(async () => {
    site = await openSite();
    page = site.page;
    const q = new URLSearchParams({
      device: 'wasm',
      model: 'served:quantlab-tiny',
      variants: STEMS.join(','),
      temperature: '0',
      max_new_tokens: String(MAX_NEW_TOKENS),
      prompt: PROMPT,
      live: '0',
    });
    await gotoReady(page, `${site.server.url}?${q}`);
    for (const s of STEMS) await column(page, s).waitFor();
  });

  afterAll(() => site?.close());

  it('refuses the column that would pass the budget, with the figures, while the others load and generate', async () => {
    expect(
      await page.locator('article.column').evaluateAll((as) => as.map((a) => a.getAttribute('data-variant'))),
    ).toEqual(STEMS);
    const [a, b, c] = STEMS.map(expectedNeed);
    // Two fit, three do not: the budget is the first two's sum rounded up to a whole MB.
    const budgetMb = Math.ceil((a + b) / MiB);
    expect(budgetMb * MiB).toBeLessThan(a + b + c);
    await setBudget(page, budgetMb);
    await page.locator('#generate').click();

    const third = column(page, STEMS[2]);
    await expect.poll(() => third.getAttribute('data-status'), { timeout: 60_000 }).toBe('over-budget');
    await waitDone(page, STEMS[0], 0);
    await waitDone(page, STEMS[1], 0);
    for (const s of STEMS.slice(0, 2)) {
      expect(Number(await column(page, s).getAttribute('data-tokens'))).toBeGreaterThan(0);
      expect((await column(page, s).locator('.output').textContent())?.length).toBeGreaterThan(0);
    }
    // Held: largest first.
    const held = [
      [LABELS[STEMS[0]], a],
      [LABELS[STEMS[1]], b],
    ].sort((x, y) => (y[1] as number) - (x[1] as number));
    const text = (await third.locator('.column-error').textContent())!.replace(/\s+/g, ' ');
    expect(text).toContain(
      `q4 needs about ${mb(c)}; the memory budget is ${mb(budgetMb * MiB)}, and ${mb(a + b)} of it is held by ${held
        .map(([l, n]) => `${l} (${mb(n as number)})`)
        .join(', ')}.`,
    );
    expect(text).toContain(`Remove a column (${held[0][0]} frees the most) or raise the memory budget`);
    expect(await third.getAttribute('data-loads')).toBe('0');
    expect(await third.locator('.output').textContent()).toBe('');

    // Removing the fp32 column frees its share: Retry loads and generates q4.
    await column(page, STEMS[0]).locator('button', { hasText: 'Unload' }).click();
    await expect.poll(() => column(page, STEMS[0]).getAttribute('data-status')).toBe('idle');
    await third.locator('.column-error button', { hasText: 'Retry' }).click();
    await waitDone(page, STEMS[2], 0);
    expect(Number(await third.getAttribute('data-tokens'))).toBeGreaterThan(0);
  });

  it('ends a load that gets no progress (a session that never finishes) with the watchdog message, and Retry loads', async () => {
    // Back to the automatic budget, so only the watchdog can stop these loads.
    await setBudget(page, 0);
    const first = column(page, STEMS[0]);
    expect(await first.getAttribute('data-status')).toBe('idle');
    await page.evaluate(() => (window.quantlabTest = { hang: 'load', watchdogMs: 1500 }));
    await page.locator('#load').click();
    const error = first.locator('.column-error');
    await error.waitFor({ timeout: 30_000 });
    expect(await first.getAttribute('data-status')).toBe('error');
    const text = (await error.textContent())!.replace(/\s+/g, ' ');
    // The hook's last progress line is "Creating wasm session for model": the stage is named, and
    // what to do about a session that does not get built.
    expect(text).toMatch(
      /Loading fp32 made no progress for 1.5 s \(at: Creating wasm session for model\), so it was stopped/,
    );
    expect(text).toMatch(
      /Building a session takes memory and CPU, and all 3 columns share one browser process: unload a column/,
    );
    await page.evaluate(() => (window.quantlabTest = undefined));
    await error.locator('button', { hasText: 'Retry' }).click();
    await expect.poll(() => first.getAttribute('data-status'), { timeout: 60_000 }).toBe('ready');
  });
});
