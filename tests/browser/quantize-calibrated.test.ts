// GPTQ and AWQ in the real page: aidreams260K is opened through the file input, quantized with
// gptq through the Quantize dialog (built-in calibration text; the warning shows only while the
// lab's own evaluation text is chosen) and with awq through the builder's API, calibrated in the
// builder worker's onnxruntime-web; both files then run in a column worker, close to fp32. The
// dialog's estimate shows before Quantize, follows the method, and refuses a plan over the limit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { greedyReferences } from '../helpers/aidreams';
import { openSite, type Site } from './harness';
import { importAidreams } from './columns';

describe('calibrated methods in the page', () => {
  let site: Site;

  beforeAll(async () => {
    site = await openSite();
    await importAidreams(site.page, site.server.url);
  });

  afterAll(() => site?.close());

  it('quantizes with gptq from the dialog, warns only for the lab’s text, and awq through the builder; both run', async () => {
    const page = site.page;
    await page.locator('#quantize').click({ timeout: 120_000 });
    const dialog = page.locator('dialog[open]');
    const checked = await dialog
      .locator('input[type="checkbox"]:checked')
      .evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value));
    for (const v of checked) await dialog.locator(`input[type="checkbox"][value="${v}"]`).uncheck();
    await dialog.locator('input[type="checkbox"][value="q4"]').check();
    await dialog.locator('#quantize-method').selectOption('gptq');
    const source = dialog.locator('#calib-source');
    expect(await source.inputValue()).toBe('builtin');
    expect(await dialog.locator('#calib-warning').count()).toBe(0);
    await source.selectOption('lab');
    await dialog.locator('#calib-warning').waitFor();
    expect(await dialog.locator('#calib-warning').textContent()).toMatch(/text the quality lab evaluates on/);
    await source.selectOption('text');
    await dialog.locator('#calib-text').fill('A dream.');
    await dialog.locator('button[type="submit"]').click();
    // Too short for one window: a named error in the dialog, nothing stored.
    await dialog.locator('.error').waitFor({ timeout: 60_000 });
    expect(await dialog.locator('.error').textContent()).toMatch(/calibration text is too short/);
    await source.selectOption('builtin');
    expect(await dialog.locator('#calib-warning').count()).toBe(0);
    await dialog.locator('button[type="submit"]').click();
    await dialog.waitFor({ state: 'detached', timeout: 300_000 });
    expect(await page.locator('#import-status').textContent()).toBe('Quantized aidreams260K: q4');
    await page.locator('input[data-stem="model_q4_gptq"]').waitFor();

    const ids = (() => {
      const r = greedyReferences()[0];
      return [...r.prompt_ids, ...r.greedy_ids].slice(0, 128);
    })();
    const result = await page.evaluate(async (ids) => {
      const b = window.quantlab!.builder.api;
      // A pasted-style text: 256 tokens in windows of 64.
      await b.quantize('aidreams260K', ['q4'], { method: 'awq', bits: 3 }, undefined, {
        text: 'I dreamed of a town built on the back of a sleeping whale, and the baker sold bread for stories. '.repeat(
          20,
        ),
        tokens: 256,
        window: 64,
      });
      const logitsOf = async (variant: string) => {
        const col = window.quantlab!.startColumnWorker();
        try {
          await col.api.load({ kind: 'local', id: 'aidreams260K' }, variant, 'wasm');
          return (await col.api.logits(ids)).data;
        } finally {
          col.terminate();
        }
      };
      const base = await logitsOf('model');
      const rel = async (variant: string) => {
        const d = await logitsOf(variant);
        let num = 0;
        let den = 0;
        for (let i = 0; i < base.length; i++) {
          num += (d[i] - base[i]) ** 2;
          den += base[i] ** 2;
        }
        return Math.sqrt(num / den);
      };
      return { gptq: await rel('model_q4_gptq'), awq3: await rel('model_q3nbits_awq') };
    }, ids);
    console.log(`[calibrated] relative RMS logit error vs fp32: ${JSON.stringify(result)}`);
    expect(result.gptq).toBeGreaterThan(0);
    expect(result.gptq).toBeLessThan(0.35);
    expect(result.awq3).toBeGreaterThan(0);
    expect(result.awq3).toBeLessThan(0.6);
  });

  it('shows the estimate before Quantize, follows the method, and refuses a plan over the limit', async () => {
    const page = site.page;
    await page.locator('#quantize').click({ timeout: 120_000 });
    const dialog = page.locator('dialog[open]');
    const estimate = dialog.locator('#quantize-estimate');
    const submit = dialog.locator('button[type="submit"]');
    expect(await submit.getAttribute('aria-describedby')).toBe('quantize-estimate');
    for (const v of await dialog
      .locator('input[type="checkbox"]:checked')
      .evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value)))
      await dialog.locator(`input[type="checkbox"][value="${v}"]`).uncheck();
    await dialog.locator('input[type="checkbox"][value="q4"]').check();
    await dialog.locator('#quantize-method').selectOption('rtn');
    // aidreams260K's config.json: 4 layers of q, k, v, o (64 x 64), gate, up (64 x 172), down (172 x 64).
    const elements = (4 * (4 * 64 * 64 + 3 * 64 * 172)).toLocaleString('en-US'); // 197,632
    await expect
      .poll(() => estimate.textContent())
      .toMatch(new RegExp(`^About .* on this machine: 28 weights \\(${elements} elements\\) x 1 precision\\.$`));
    const rtn = (await estimate.textContent())!;
    const rtnSeconds = Number(await estimate.getAttribute('data-seconds'));
    await dialog.locator('#quantize-method').selectOption('gptq');
    await expect.poll(() => estimate.textContent()).not.toBe(rtn);
    const gptq = (await estimate.textContent())!;
    // The built-in sample (3,002 bytes) holds the default 512 tokens: 4 windows of 128.
    expect(gptq).toMatch(/\(gptq for q4\); calibration 512 tokens \(4 windows of 128\)\.$/);
    expect(Number(await estimate.getAttribute('data-seconds'))).toBeGreaterThan(rtnSeconds);
    expect(await submit.isDisabled()).toBe(false);

    // 400,000 tokens of a pasted text: the capture would hold 400,000 x 4 B x (4 heads x 128 + 2 x 172)
    // = 1,306 MiB, over 1 GiB; at most 2,449 windows of 128 = 313,472 tokens fit.
    await dialog.locator('#calib-source').selectOption('text');
    await dialog.locator('#calib-text').fill('dream '.repeat(70_000));
    // Applied by leaving the field (Enter would also submit the form once the plan fits again).
    await dialog.locator('#calib-tokens').fill('400000');
    await dialog.locator('#calib-tokens').press('Tab');
    await expect.poll(() => estimate.textContent()).toMatch(/^Too large: .*1,306 MiB.*over the limit of 1,024 MiB/);
    expect(await estimate.textContent()).toMatch(/Use fewer calibration tokens \(at most 313,472\)/);
    expect(await submit.isDisabled()).toBe(true);

    // 128 tokens (one window) are fewer than down_proj's 172 inputs: a warning beside the estimate, not a refusal.
    const thin = dialog.locator('#quantize-calib-warning');
    await dialog.locator('#calib-tokens').fill('128');
    await dialog.locator('#calib-tokens').press('Tab');
    await expect.poll(() => thin.textContent()).toMatch(/^GPTQ sees 128 calibration tokens, fewer than the 172 inputs/);
    expect(await submit.isDisabled()).toBe(false);
    expect(await submit.getAttribute('aria-describedby')).toBe('quantize-estimate quantize-calib-warning');

    // Back within the limit, a small gptq run: the estimate and the time it took, printed (not asserted).
    await dialog.locator('#calib-tokens').fill('512');
    await dialog.locator('#calib-tokens').press('Tab');
    await dialog.locator('#calib-source').selectOption('builtin');
    await dialog.locator('#quantize-name').fill('model_q4_gptq_timed');
    await expect.poll(() => submit.isDisabled(), { timeout: 10_000 }).toBe(false);
    expect(await thin.count()).toBe(0);
    const said = await estimate.textContent();
    const t0 = Date.now();
    await submit.click();
    await dialog.waitFor({ state: 'detached', timeout: 300_000 });
    console.log(`[estimate] ${said} | took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(await page.locator('#import-status').textContent()).toBe('Quantized aidreams260K: q4');
  });
});
