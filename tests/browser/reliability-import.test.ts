// Nothing stale, files checked at the door (issue 16, cases 3 to 5), on the built page with the
// built-in model: a folder whose onnx/model.onnx is plain text is refused at import and the page
// stays as it was; the message goes with a model switch; each model keeps its precisions; live
// mode follows a model switch; a reload during a generation shows no output under another prompt.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HUB_MODELS, TINY_MODEL } from '../../src/lib/catalog';
import { column, gotoReady, outputOf, waitDone } from './columns';
import { REPO_ROOT, openSite, type Site } from './harness';

const STEMS = ['model', 'model_q4'];
const TINY_DIR = path.join(REPO_ROOT, 'public/models/quantlab-tiny');

const checked = (page: Page) =>
  page.locator('input[data-stem]:checked').evaluateAll((els) => els.map((e) => e.getAttribute('data-stem')));
const outputs = (page: Page) => Promise.all(STEMS.map((s) => outputOf(page, s)));
const generationOf = async (page: Page, stem: string) =>
  Number(await column(page, stem).getAttribute('data-generation'));

describe('nothing stale, files checked at the door', () => {
  let site: Site;
  let page: Page;
  let work: string;
  let firstOutputs: string[] = [];

  beforeAll(async () => {
    site = await openSite();
    page = site.page;
    // A transformers.js folder that looks right, except that onnx/model.onnx is text.
    work = mkdtempSync(path.join(tmpdir(), 'quantlab-door-'));
    const fake = path.join(work, 'fakemodel');
    mkdirSync(path.join(fake, 'onnx'), { recursive: true });
    for (const f of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json'])
      cpSync(path.join(TINY_DIR, f), path.join(fake, f));
    writeFileSync(path.join(fake, 'onnx/model.onnx'), 'This is not a model, just a line of text.\n');
  });

  /** Opens the built-in model with STEMS as columns and generates greedily once; returns the outputs. */
  async function openAndGenerate(live: boolean): Promise<string[]> {
    const query = `device=wasm&model=${encodeURIComponent(TINY_MODEL.key)}&variants=${STEMS.join(',')}`;
    await gotoReady(
      page,
      `${site.server.url}?${query}&temperature=0&max_new_tokens=12&prompt=Hello&chat=0&live=${live ? 1 : 0}`,
    );
    await column(page, 'model_q4').waitFor();
    const before = await generationOf(page, 'model');
    await page.locator('#generate').click();
    for (const s of STEMS) await waitDone(page, s, before);
    const shown = await outputs(page);
    expect(shown.every((t) => t.length > 0)).toBe(true);
    return shown;
  }

  afterAll(async () => {
    await site?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('refuses the plain-text model.onnx folder at import, naming the file; the page stays on its model, precisions and outputs', async () => {
    firstOutputs = await openAndGenerate(false);

    await page.setInputFiles('#open-folder', path.join(work, 'fakemodel'));
    const status = page.locator('#import-status');
    await status.filter({ hasText: /Imported|Error/ }).waitFor({ timeout: 60_000 });
    const text = (await status.textContent()) ?? '';
    expect(text).toMatch(/^Error: onnx\/model\.onnx is not a valid ONNX file/);
    expect(text).not.toMatch(/wire type|Imported/);
    expect(await status.getAttribute('class')).toContain('error');
    // Nothing was stored, nothing changed on screen.
    expect(await page.evaluate(async () => (await window.quantlab!.builder.api.list()).map((m) => m.id))).toEqual([]);
    expect(await page.locator('#model').inputValue()).toBe(TINY_MODEL.key);
    expect(await page.locator('#model option[value^="local:"]').count()).toBe(0);
    expect(await checked(page)).toEqual(STEMS);
    expect(await outputs(page)).toEqual(firstOutputs);
  });

  it('the message goes when another model is chosen, and each model keeps its precisions', async () => {
    // STEMS are the user's choice, not the built-in model's defaults (fp32 alone).
    expect(TINY_MODEL.defaultVariants).toEqual(['model']);
    const hub = HUB_MODELS[0];
    await page.locator('#model').selectOption(hub.key);
    await expect.poll(() => page.locator('#import-status').textContent()).toBe('');
    const hubStem = hub.variants!.find((v) => !v.externalData && !hub.defaultVariants.includes(v.stem))!.stem;
    await page.locator(`input[data-stem="${hubStem}"]`).check();
    const hubChoice = await checked(page);
    await page.locator('#model').selectOption(TINY_MODEL.key);
    await expect.poll(() => checked(page)).toEqual(STEMS);
    await page.locator('#model').selectOption(hub.key);
    await expect.poll(() => checked(page)).toEqual(hubChoice);
    await page.locator('#model').selectOption(TINY_MODEL.key);
    await expect.poll(() => checked(page)).toEqual(STEMS);
  });

  it('live mode regenerates after a model switch, without Generate', async () => {
    await openAndGenerate(true);
    const before = await generationOf(page, 'model');
    await page.locator('#model').selectOption(HUB_MODELS[0].key);
    await page.locator('#model').selectOption(TINY_MODEL.key);
    await column(page, 'model').waitFor();
    for (const s of STEMS) await waitDone(page, s, before, 30_000);
    expect(await outputs(page)).toEqual(firstOutputs); // greedy: the same text as before the switch
  });

  it('a reload during a generation shows no output under a prompt it did not come from, and names the interrupted run', async () => {
    await openAndGenerate(false);
    await page.locator('#max-new-tokens').fill('200');
    await page.locator('#prompt').fill('Once upon a time');
    await page.waitForTimeout(400); // the state is saved 200 ms after the last change
    const before = await generationOf(page, 'model');
    // Reload from inside the page as soon as the new run has streamed a token: it is surely still running.
    await page.evaluate((before) => {
      const el = document.querySelector('article.column[data-variant="model"]')!;
      new MutationObserver(() => {
        if (Number(el.getAttribute('data-generation')) > before && Number(el.getAttribute('data-tokens')) >= 1)
          location.reload();
      }).observe(el, { attributes: true });
    }, before);
    await Promise.all([page.waitForEvent('load'), page.locator('#generate').click()]);
    await page.locator('#env[data-ready="true"]').waitFor();
    await column(page, 'model').waitFor();
    expect(await page.locator('#prompt').inputValue()).toBe('Once upon a time');
    const shown = await outputs(page);
    for (const [i, t] of shown.entries()) if (t) expect(t).not.toBe(firstOutputs[i]);
    await expect
      .poll(() => page.locator('#notices').textContent())
      .toMatch(/generation for “Once upon a time” was interrupted/);
    // Whatever a column shows came from this prompt: a new greedy run writes the same text.
    if (shown.every((t) => t === '')) return;
    const after = await generationOf(page, 'model');
    await page.locator('#generate').click();
    for (const [i, s] of STEMS.entries()) {
      await waitDone(page, s, after);
      if (shown[i]) expect(await outputOf(page, s)).toBe(shown[i]);
    }
  });
});
