// The playground in the real built page, driven as a person would: open aidreams260K through the
// file input, generate greedily in the fp32 column and find llama2.c's reference text, move the
// temperature slider (live mode regenerates, no stale token shown), reproduce a seeded run,
// reload (prompt, settings, results restored), and read settings from share links. WASM columns
// throughout: SwiftShader's WebGPU is correct but far too slow for a test of this length.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_MODEL } from '../../src/lib/catalog';
import type { GenerateParams } from '../../src/lib/runner/types';
import { CHECKPOINT, TOKENIZER, greedyReferences } from '../helpers/aidreams';
import { REPO_ROOT, openSite, type Site } from './harness';
import { column, outputOf, waitDone, gotoReady, openFiles } from './columns';

const MODEL_KEY = 'local:aidreams260K';
const QUANTIZED_DTYPES = ['q8', 'q4', 'bnb4'];
/** The files those dtypes are written to (transformers.js names), in the order the page lists them. */
const QUANTIZED_STEMS = ['model_quantized', 'model_bnb4', 'model_q4'];
/** Generates in a separate column worker (not the page's UI): an independent reading of what a run must give. */
async function directGenerate(page: Page, params: GenerateParams): Promise<string> {
  return page.evaluate(
    async ({ params, id }) => {
      const col = window.quantlab!.startColumnWorker();
      try {
        await col.api.load({ kind: 'local', id }, 'model', 'wasm');
        return (await col.api.generate(params)).text;
      } finally {
        col.terminate();
      }
    },
    { params, id: MODEL_KEY.slice('local:'.length) },
  );
}

describe('the playground page', () => {
  let site: Site;
  let page: Page;
  const ref = greedyReferences().find((r) => r.prompt === 'I dreamed')!;
  let sampledText = '';

  beforeAll(async () => {
    site = await openSite();
    page = site.page;
    await gotoReady(page, `${site.server.url}?device=wasm`);
  });

  afterAll(() => site?.close());

  it('opens aidreams260K through the file input and writes the reference text in the fp32 column', async () => {
    const t0 = performance.now();
    await openFiles(page, [CHECKPOINT, TOKENIZER]);
    expect(await page.locator('#import-status').getAttribute('data-model-id')).toBe('aidreams260K');
    // The imported model becomes the current one, with its one variant (fp32) as a column.
    await expect.poll(() => page.locator('#model').inputValue()).toBe(MODEL_KEY);
    await column(page, 'model').waitFor();
    expect(
      await page.locator('input[data-stem]').evaluateAll((els) => els.map((e) => e.getAttribute('data-stem'))),
    ).toEqual(['model']);

    await page.locator('#prompt').fill(ref.prompt);
    await page.locator('#temperature').fill('0');
    await page.locator('#max-new-tokens').fill(String(ref.greedy_ids.length));
    await page.locator('#generate').click();
    await waitDone(page, 'model', 0);
    const text = await outputOf(page, 'model');
    expect(ref.prompt + text).toBe(ref.text);
    expect(Number(await column(page, 'model').getAttribute('data-tokens'))).toBe(ref.greedy_ids.length);
    const device = (await column(page, 'model').locator('.device').textContent()) ?? '';
    // aidreams260K's fp32 file (1 MB) is under SMALL_MODEL_BYTES: one thread, and the column says why.
    expect(device).toMatch(/^WASM chosen in settings; 1 thread \(a model this small runs faster on one\)/);
    // Timings are shown: decode tokens/s is a positive number.
    const decode = await column(page, 'model').locator('.figures dd[data-k="decode"]').textContent();
    expect(Number.parseFloat(decode ?? '')).toBeGreaterThan(0);
    console.log(
      `[playground] import + greedy fp32: ${((performance.now() - t0) / 1000).toFixed(1)} s; fp32 ${decode}, ${device}`,
    );
  });

  it('quantizes through the Quantize… dialog and compares q8, q4 and bnb4 columns with fp32', async () => {
    const t0 = performance.now();
    await page.locator('#quantize').click();
    const dialog = page.locator('dialog[open]');
    expect(
      await dialog
        .locator('input[type="checkbox"]:checked')
        .evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value)),
    ).toEqual(QUANTIZED_DTYPES);
    await dialog.locator('button[type="submit"]').click();
    await dialog.waitFor({ state: 'detached', timeout: 120_000 });
    expect(await page.locator('#import-status').textContent()).toBe(
      `Quantized aidreams260K: ${QUANTIZED_DTYPES.join(', ')}`,
    );
    // Every file of the folder is offered, labelled with the bits per weight the manifest measured.
    const offered = await page
      .locator('input[data-stem]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-stem')));
    expect(offered).toEqual(['model', ...QUANTIZED_STEMS]);
    for (const stem of QUANTIZED_STEMS)
      expect(await page.locator(`label:has(input[data-stem="${stem}"])`).textContent()).toMatch(/\d\.\d\d bit\/weight/);

    for (const stem of QUANTIZED_STEMS) await page.locator(`input[data-stem="${stem}"]`).check();
    const before = Number(await column(page, 'model').getAttribute('data-generation'));
    await page.locator('#generate').click();
    for (const stem of ['model', ...QUANTIZED_STEMS]) await waitDone(page, stem, before);
    expect(ref.prompt + (await outputOf(page, 'model'))).toBe(ref.text);

    // The highlighted token is where each column's ids first differ from fp32's (checked here by hand).
    const ids = await page.evaluate(() =>
      Object.fromEntries(window.quantlab!.playground.columns.map((c) => [c.variant.stem, [...c.ids]])),
    );
    expect(ids.model).toEqual(ref.greedy_ids);
    const report: string[] = [];
    for (const stem of QUANTIZED_STEMS) {
      const mine = ids[stem];
      expect(mine.length).toBeGreaterThan(0);
      let d = -1;
      for (let i = 0; i < Math.min(mine.length, ref.greedy_ids.length) && d < 0; i++)
        if (mine[i] !== ref.greedy_ids[i]) d = i;
      if (d < 0 && mine.length !== ref.greedy_ids.length) d = Math.min(mine.length, ref.greedy_ids.length);
      const c = column(page, stem);
      expect(Number(await c.getAttribute('data-divergence'))).toBe(d);
      expect(await c.locator('mark').count()).toBe(d >= 0 && d < mine.length ? 1 : 0);
      report.push(
        `${stem}: ${d < 0 ? 'same as fp32' : `diverges at token ${d + 1}`}, ${await c.locator('.figures dd[data-k="decode"]').textContent()}`,
      );
    }
    console.log(
      `[playground] quantize + 4 greedy columns: ${((performance.now() - t0) / 1000).toFixed(1)} s; ${report.join('; ')}`,
    );
  });

  it('regenerates in live mode when the temperature slider moves, and never shows a token of the cancelled run', async () => {
    const before = Number(await column(page, 'model').getAttribute('data-generation'));
    // Record every text the column shows, with the generation it claims to show.
    await page.evaluate(() => {
      const el = document.querySelector('article.column[data-variant="model"]')!;
      const seen: { gen: number; text: string }[] = [];
      (window as unknown as { seen: typeof seen }).seen = seen;
      new MutationObserver(() =>
        seen.push({
          gen: Number(el.getAttribute('data-generation')),
          text: el.querySelector('.output')!.textContent ?? '',
        }),
      ).observe(el, {
        subtree: true,
        childList: true,
        characterData: true,
        attributes: true,
      });
    });
    // Start a greedy run and move the slider while it streams: an input event on the range input,
    // sent from the page as soon as the fp32 column shows its fifth token, so the run is surely cut
    // short. The workers wait 15 ms a token (test hook): unpaced, the built-in model writes its 64
    // tokens in ~25 ms here, faster than the page can answer.
    await page.evaluate(() => (window.quantlabTest = { tokenMs: 15 }));
    await page.evaluate((greedyGen) => {
      const el = document.querySelector('article.column[data-variant="model"]')!;
      const slider = document.querySelector<HTMLInputElement>('#temperature')!;
      const w = window as unknown as { movedAt?: number };
      const obs = new MutationObserver(() => {
        if (Number(el.getAttribute('data-generation')) !== greedyGen || Number(el.getAttribute('data-tokens')) < 5)
          return;
        obs.disconnect();
        w.movedAt = Number(el.getAttribute('data-tokens'));
        slider.value = '0.9';
        slider.dispatchEvent(new Event('input', { bubbles: true }));
      });
      obs.observe(el, { attributes: true });
    }, before + 1);
    await page.locator('#generate').click();
    await page.waitForFunction(() => (window as unknown as { movedAt?: number }).movedAt !== undefined);
    const shownWhenMoved = await page.evaluate(() => (window as unknown as { movedAt: number }).movedAt);
    expect(shownWhenMoved).toBeLessThan(ref.greedy_ids.length);
    expect(await page.locator('#temperature').inputValue()).toBe('0.9');
    const gen = await waitDone(page, 'model', before + 1);
    for (const stem of QUANTIZED_STEMS) expect(await waitDone(page, stem, before + 1)).toBe(gen);
    await page.evaluate(() => (window.quantlabTest = undefined));
    sampledText = await outputOf(page, 'model');
    console.log(
      `[playground] slider moved after ${shownWhenMoved} tokens of the greedy run; regenerated as generation ${gen}`,
    );

    const params = await page.evaluate(() => ({ ...window.quantlab!.playground.params }));
    expect([params.prompt, params.temperature, params.maxNewTokens]).toEqual([ref.prompt, 0.9, ref.greedy_ids.length]);
    const expected = await directGenerate(page, params);
    expect(sampledText).toBe(expected);
    expect(ref.prompt + sampledText).not.toBe(ref.text);
    // Every text shown under the new generation is a prefix of its final text: nothing stale.
    const seen = await page.evaluate(() => (window as unknown as { seen: { gen: number; text: string }[] }).seen);
    const newer = seen.filter((s) => s.gen === gen);
    expect(newer.length).toBeGreaterThan(0);
    for (const s of newer)
      expect(sampledText.startsWith(s.text), `shown under generation ${gen}: ${JSON.stringify(s.text)}`).toBe(true);
  });

  it('gives identical text for the same seed, and other text for another seed', async () => {
    const seed = page.locator('#seed');
    await seed.fill('7');
    await seed.blur();
    const g1 = await waitDone(page, 'model', Number(await column(page, 'model').getAttribute('data-generation')));
    const first = await outputOf(page, 'model');
    await page.locator('#generate').click();
    await waitDone(page, 'model', g1);
    expect(await outputOf(page, 'model')).toBe(first);
    expect(first).not.toBe(sampledText);
  });

  it('restores prompt, settings and the last results after a reload, and their token comparison on one click', async () => {
    const stems = ['model', ...QUANTIZED_STEMS];
    // A run of every column (the last test waited for fp32 only), with these settings, to restore.
    const g = Number(await column(page, 'model').getAttribute('data-generation'));
    await page.locator('#generate').click();
    for (const stem of stems) await waitDone(page, stem, g);
    // The run's comparison as it was live: divergence, each token's KL divergence, the diff's marks.
    const compared = () =>
      page.locator('article.column .compare-status').evaluateAll((els) => els.map((e) => e.getAttribute('data-state')));
    await expect.poll(compared, { timeout: 120_000 }).toEqual(stems.map(() => 'done'));
    const comparison = () =>
      page.locator('article.column').evaluateAll((cols) =>
        cols.map((c) => ({
          divergence: c.getAttribute('data-divergence'),
          kld: [...c.querySelectorAll('.tok')].map((t) => t.getAttribute('data-kld')),
          marks: c.querySelectorAll('.ins, .del').length,
        })),
      );
    const withDiff = async () => {
      const plain = await comparison();
      await page.locator('#diff-mode').check();
      // The marks are drawn after the box is checked: read until two reads a frame apart agree.
      let marks: number[] = [];
      await expect
        .poll(async () => {
          const before = marks.join();
          await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
          marks = (await comparison()).map((c) => c.marks);
          return before === marks.join() && marks.some((m) => m > 0);
        })
        .toBe(true);
      await page.locator('#diff-mode').uncheck();
      return plain.map((c, i) => ({ ...c, marks: marks[i] }));
    };
    const live = await withDiff();
    expect(live[0].kld.every((k) => k !== null)).toBe(true);
    expect(
      live.some((c) => c.marks > 0),
      'some column differs from fp32',
    ).toBe(true);
    const last = await outputOf(page, 'model');
    await page.waitForTimeout(400); // the state is saved 200 ms after the last change
    await gotoReady(page, site.server.url);
    await column(page, 'model').waitFor();
    expect(await page.locator('#model').inputValue()).toBe(MODEL_KEY);
    expect(await page.locator('#prompt').inputValue()).toBe(ref.prompt);
    expect(await page.locator('#temperature').inputValue()).toBe('0.9');
    expect(await page.locator('#seed').inputValue()).toBe('7');
    expect(await page.locator('#max-new-tokens').inputValue()).toBe(String(ref.greedy_ids.length));
    expect(await page.locator('#device').inputValue()).toBe('wasm');
    expect(await outputOf(page, 'model')).toBe(last);
    expect(
      await page.locator('article.column').evaluateAll((els) => els.map((e) => e.getAttribute('data-variant'))),
    ).toEqual(['model', ...QUANTIZED_STEMS]);
    await expect
      .poll(() => column(page, 'model').locator('.status').textContent())
      .toContain('restored from your last visit');
    // The address bar carries the settings: it is a share link.
    expect(new URL(page.url()).searchParams.get('temperature')).toBe('0.9');

    // Restored text: the same divergence and diff marks at once; its token colours (not kept) on one
    // click, which loads the models and compares without writing new text.
    const restored = await withDiff();
    console.log(
      `[restore] divergence, diff marks, tokens per column: live ${JSON.stringify(live.map((c) => [c.divergence, c.marks, c.kld.length]))}, restored ${JSON.stringify(restored.map((c) => [c.divergence, c.marks, c.kld.length]))}`,
    );
    expect(restored.map((c) => [c.divergence, c.marks])).toEqual(live.map((c) => [c.divergence, c.marks]));
    expect(restored.flatMap((c) => c.kld).filter((k) => k !== null)).toEqual([]);
    expect(await compared()).toEqual(stems.map(() => 'restored'));
    const generations = () =>
      page.locator('article.column').evaluateAll((els) => els.map((e) => e.getAttribute('data-generation')));
    const gens = await generations();
    await page.locator('#compare-restored').click();
    await expect.poll(compared, { timeout: 120_000 }).toEqual(stems.map(() => 'done'));
    const after = await comparison();
    for (const [i, c] of after.entries()) {
      expect(c.divergence).toBe(live[i].divergence);
      expect(c.kld.length).toBe(live[i].kld.length);
      // The same teacher-forced passes on the same tokens as after the run.
      for (const [j, k] of c.kld.entries()) expect(Number(k)).toBeCloseTo(Number(live[i].kld[j]), 5);
    }
    expect(await generations()).toEqual(gens);
    expect(await outputOf(page, 'model')).toBe(last);
    expect(await page.locator('#compare-restored').count()).toBe(0);

    mkdirSync(path.join(REPO_ROOT, 'test-results'), { recursive: true });
    await page.screenshot({ path: path.join(REPO_ROOT, 'test-results/playground.png'), fullPage: true });
  });

  it('takes settings from a share link, and clamps out-of-range values with a visible message', async () => {
    await gotoReady(page, `${site.server.url}?temperature=0.7&seed=5`);
    await expect.poll(() => page.locator('#temperature').inputValue()).toBe('0.7');
    expect(await page.locator('#seed').inputValue()).toBe('5');
    expect(await page.locator('#notices').count()).toBe(0);

    await gotoReady(page, `${site.server.url}?temperature=5&top_k=-3`);
    await expect.poll(() => page.locator('#temperature').inputValue()).toBe('2');
    expect(await page.locator('#top-k').inputValue()).toBe('0');
    const notices = (await page.locator('#notices').textContent()) ?? '';
    expect(notices).toContain('Temperature 5 is above the maximum 2; using 2.');
    expect(notices).toContain('Top-k -3 is below the minimum 0; using 0.');
    await expect.poll(() => new URL(page.url()).searchParams.get('temperature')).toBe('2');

    expect(site.browser.externalRequests).toEqual([]);
    expect(site.browser.errors).toEqual([]);
  });

  it('explains a Hub model that cannot load offline and offers the built-in model', async () => {
    await gotoReady(page, `${site.server.url}?model=hub:HuggingFaceTB/SmolLM2-135M-Instruct&variants=model_q4`);
    await column(page, 'model_q4').waitFor();
    await page.locator('#load').click();
    const error = column(page, 'model_q4').locator('.column-error');
    await error.waitFor({ timeout: 60_000 });
    expect(await error.textContent()).toContain(
      'Could not reach the Hugging Face Hub to load HuggingFaceTB/SmolLM2-135M-Instruct',
    );
    expect(await error.textContent()).toContain('Open a local model instead');
    await error.getByRole('button', { name: 'Retry' }).waitFor();
    await error.getByRole('button', { name: 'Use the built-in model' }).click();
    await expect.poll(() => page.locator('#model').inputValue()).toBe(BUILTIN_MODEL.key);
    await column(page, 'model').waitFor();
    // The built-in model (built by `npm run models`, served from the app's models/ folder) writes offline.
    const before = Number((await column(page, 'model').getAttribute('data-generation')) ?? 0);
    await page.locator('#generate').click();
    // Its three default columns load and write at once: give them the time a loaded machine needs.
    await waitDone(page, 'model', before, 120_000);
    expect(await column(page, 'model').getAttribute('data-status')).toBe('done');
    expect(Number(await column(page, 'model').getAttribute('data-tokens'))).toBeGreaterThan(0);
    expect((await outputOf(page, 'model')).length).toBeGreaterThan(0);
    // The only requests that left the machine were the Hub attempts.
    expect(site.browser.externalRequests.every((u) => u.startsWith('https://huggingface.co/'))).toBe(true);
  });
});
