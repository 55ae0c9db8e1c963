// The quality lab in the real built page: aidreams260K opened and quantized (q8, q4, bnb4) through
// the UI, the report on the built-in sample checked against the same engine run in Node on a
// folder built and quantized by the same code (onnxruntime-node, not the page), a 4 x 6 x 3 x 4
// sweep with charts and a CSV download, cancel keeping partial rows, reload, and bad input.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runnerEvalModel } from '../../src/lib/eval/model';
import { evaluateQuality, type PrecisionQuality, type QualityReport } from '../../src/lib/eval/quality';
import { SAMPLE_TEXT } from '../../src/lib/eval/sample';
import { expandRequests, quantizeVariants } from '../../src/lib/quantize/quantize-variants';
import { Runner } from '../../src/lib/runner/runner';
import { configureNodeTransformers } from '../../src/node/transformers-env';
import { CHECKPOINT, TOKENIZER } from '../helpers/aidreams';
import { parseCsv } from '../helpers/csv';
import { aidreamsSource, cleanupTempDirs, writeModel } from '../helpers/model-dirs';
import { REPO_ROOT, openSite, type Site } from './harness';
import { column, gotoReady, loadColumns, openFiles } from './columns';

const STEMS = ['model', 'model_quantized', 'model_bnb4', 'model_q4'];
const LABELS = ['fp32', 'q8', 'bnb4', 'q4'];
const SWEEP = {
  temperatures: '0, 0.3, 0.5, 0.8, 1, 1.5',
  topKs: '1, 5, 0',
  seeds: '4',
  maxNew: '8',
  prompt: 'I dreamed',
};
const SWEEP_UNITS = 6 * 3 * 4;
const COMPARED = [
  'ppl',
  'bits_per_byte',
  'ln_ppl_ratio',
  'kld_mean',
  'kld_p99',
  'kld_median',
  'kld_max',
  'rms_dp',
  'same_top_pct',
] as const;

async function labError(page: Page): Promise<string> {
  await page.locator('#lab-error').waitFor();
  return (await page.locator('#lab-error').textContent()) ?? '';
}

const idle = (page: Page) =>
  page.waitForFunction(() => window.quantlab!.lab.running === null, undefined, { timeout: 300_000 });

describe('the quality lab', () => {
  let site: Site;
  let page: Page;
  let node: QualityReport;
  let sweepRows = 0;

  beforeAll(async () => {
    // The reference: the CLI's engine in Node, on a folder quantized by the same code with the dialog's defaults.
    configureNodeTransformers({ allowRemote: false });
    const dir = await writeModel(aidreamsSource(), 'aidreams260K');
    const q = await quantizeVariants(
      new Uint8Array(readFileSync(path.join(dir, 'onnx/model.onnx'))),
      expandRequests(['q8', 'q4', 'bnb4'], { quantType: 'nf4', doubleQuant: false }),
      undefined,
    );
    for (const [file, bytes] of q.files) writeFileSync(path.join(dir, file), bytes);
    const runners = STEMS.map(() => new Runner());
    await Promise.all(runners.map((r, i) => r.load({ modelId: dir, variant: STEMS[i], device: 'cpu' })));
    node = await evaluateQuality({
      text: SAMPLE_TEXT,
      ctx: 128,
      baseline: 'fp32',
      models: runners.map((r, i) => ({ label: LABELS[i], model: runnerEvalModel(r) })),
    });
    await Promise.all(runners.map((r) => r.dispose()));

    site = await openSite();
    page = site.page;
    await gotoReady(page, `${site.server.url}?device=wasm`);
  });

  afterAll(async () => {
    await site?.close();
    cleanupTempDirs();
  });

  it('opens and quantizes aidreams260K, and refuses to run before a baseline is loaded', async () => {
    await openFiles(page, [CHECKPOINT, TOKENIZER]);
    await column(page, 'model').waitFor();
    await page.locator('#quantize').click();
    const dialog = page.locator('dialog[open]');
    await dialog.locator('button[type="submit"]').click();
    await dialog.waitFor({ state: 'detached', timeout: 120_000 });
    for (const stem of STEMS.slice(1)) await page.locator(`input[data-stem="${stem}"]`).check();

    await page.locator('#lab-run-quality').click();
    expect(await labError(page)).toContain('No precision is loaded');
    await page.locator('#lab-baseline').selectOption('model');
    await page.locator('#lab-run-quality').click();
    await expect.poll(() => page.locator('#lab-error').textContent()).toContain('The baseline fp32 is not loaded');

    await loadColumns(page, STEMS);
  });

  it('gives the same quality report as the CLI engine in Node, with mean KLD q8 < q4', async () => {
    const t0 = performance.now();
    await page.locator('#lab-run-quality').click();
    await page.locator('#lab-quality').waitFor({ timeout: 120_000 });
    await idle(page);
    expect(await page.locator('#lab-error').count()).toBe(0);
    const web = await page.evaluate(() => JSON.parse(JSON.stringify(window.quantlab!.lab.report)) as QualityReport);
    expect(Object.keys(web.results).sort()).toEqual([...LABELS].sort());
    expect([web.ctx, web.tokens, web.windows, web.baseline]).toEqual([node.ctx, node.tokens, node.windows, 'fp32']);
    expect(web.windows).toBeGreaterThanOrEqual(3);
    const lines: string[] = [];
    let worst = 0;
    for (const label of LABELS) {
      const w = web.results[label] as PrecisionQuality;
      const n = node.results[label] as PrecisionQuality;
      expect(w.count).toBe(n.count);
      expect(w.bytes).toBe(n.bytes);
      for (const k of COMPARED) {
        const tol =
          1e-4 * Math.abs(n[k]) + (k.startsWith('kld') || k === 'rms_dp' || k === 'ln_ppl_ratio' ? 1e-6 : 1e-9);
        expect(Math.abs(w[k] - n[k]), `${label} ${k}: browser ${w[k]}, node ${n[k]}`).toBeLessThanOrEqual(tol);
        if (n[k] !== 0) worst = Math.max(worst, Math.abs(w[k] - n[k]) / Math.abs(n[k]));
      }
      lines.push(
        `${label}: PPL ${w.ppl.toFixed(4)}, ${w.bits_per_byte.toFixed(4)} bits/byte, mean KLD ${w.kld_mean.toExponential(3)} (node ${n.kld_mean.toExponential(3)}), same top ${w.same_top_pct.toFixed(2)} %`,
      );
    }
    const kld = (l: string) => (web.results[l] as PrecisionQuality).kld_mean;
    expect(kld('fp32')).toBe(0);
    expect(kld('q8')).toBeLessThan(kld('q4'));
    // The table shows the same figures.
    expect(await page.locator('#lab-quality tr[data-dtype="q4"] td[data-k="ppl"]').textContent()).toContain(
      (web.results.q4 as PrecisionQuality).ppl.toFixed(4),
    );
    await page.locator('#lab-kld-chart canvas').waitFor();
    await page.locator('#lab-size-chart canvas').waitFor();
    console.log(
      `[lab] report (${web.tokens} tokens, ${web.windows} windows of ${web.ctx}) in ${((performance.now() - t0) / 1000).toFixed(1)} s; largest relative difference from Node ${worst.toExponential(2)}; ${lines.join('; ')}`,
    );
  });

  it('explains bad input instead of failing', async () => {
    await page.locator('#lab-source-pasted').check();
    await page.locator('#lab-text').fill('   ');
    await page.locator('#lab-run-quality').click();
    expect(await labError(page)).toContain('The text is empty');
    await page.locator('#lab-text').fill('I dreamed of nodes.');
    await page.locator('#lab-run-quality').click();
    await expect
      .poll(() => page.locator('#lab-error').textContent())
      .toMatch(/The text is too short: it has \d+ tokens and one window of context 128 needs 128/);
    await page.locator('#lab-ctx').fill('-4');
    await page.locator('#lab-run-quality').click();
    await expect
      .poll(() => page.locator('#lab-error').textContent())
      .toContain('Window (tokens) must be a whole number >= 3 (got "-4")');
    await page.locator('#lab-ctx').fill('');
    await page.locator('#lab-source-sample').check();

    const sweepError = async (field: string, value: string, message: string) => {
      const old = await page.locator(field).inputValue();
      await page.locator(field).fill(value);
      await page.locator('#lab-run-sweep').click();
      await expect.poll(() => page.locator('#lab-error').textContent()).toContain(message);
      await page.locator(field).fill(old);
    };
    await sweepError('#lab-temperatures', '0, hot', 'temperatures: "hot" is not a number');
    await sweepError('#lab-temperatures', '-0.5', 'temperatures: -0.5 is not a number from 0 to 2');
    await sweepError('#lab-topps', 'NaN', 'top-p: "NaN" is not a number');
    await sweepError('#lab-seeds', '-1', 'Seeds per cell must be a whole number >= 1 (got "-1")');
    await sweepError('#lab-max-new', '500', "plus 500 new tokens exceeds the model's 128 positions");
    // The report from before is still shown.
    expect(await page.locator('#lab-quality tr[data-dtype]').count()).toBe(4);
  });

  it('runs a 4 x 6 x 3 x 4 sweep with charts and a CSV that parses', async () => {
    await page.locator('#lab-prompt').fill(SWEEP.prompt);
    await page.locator('#lab-temperatures').fill(SWEEP.temperatures);
    await page.locator('#lab-topks').fill(SWEEP.topKs);
    await page.locator('#lab-topps').fill('1');
    await page.locator('#lab-max-new').fill(SWEEP.maxNew);
    await page.locator('#lab-seeds').fill(SWEEP.seeds);
    const t0 = performance.now();
    await page.locator('#lab-run-sweep').click();
    await page.locator('#lab-progress').waitFor();
    await idle(page);
    const seconds = (performance.now() - t0) / 1000;
    const status = page.locator('#lab-sweep-status');
    expect(await page.locator('#lab-error').count()).toBe(0);
    expect([
      await status.getAttribute('data-done'),
      await status.getAttribute('data-total'),
      await status.getAttribute('data-cancelled'),
    ]).toEqual([String(SWEEP_UNITS), String(SWEEP_UNITS), 'false']);
    sweepRows = Number(await status.getAttribute('data-rows'));
    expect(sweepRows).toBe(4 * SWEEP_UNITS);
    console.log(
      `[lab] sweep of ${SWEEP_UNITS} cell x seed units x 4 precisions, ${SWEEP.maxNew} new tokens: ${seconds.toFixed(1)} s`,
    );

    // Every chart drew something: a non-blank pixel on each canvas (7 metric charts, heatmap, KLD, size,
    // bits per weight against KLD).
    const inked = await page.locator('#lab canvas').evaluateAll((els) =>
      els.map((c) => {
        const cv = c as HTMLCanvasElement;
        const d = cv.getContext('2d')!.getImageData(0, 0, cv.width, cv.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200)) n++;
        return n;
      }),
    );
    expect(inked.length).toBe(11);
    for (const n of inked) expect(n).toBeGreaterThan(100);

    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#lab-sweep-csv').click()]);
    expect(download.suggestedFilename()).toMatch(/^sweep-.*\.csv$/);
    const csv = parseCsv(readFileSync((await download.path())!, 'utf8'));
    expect(csv[0].slice(0, 7)).toEqual(['dtype', 'temperature', 'top_k', 'top_p', 'max_new_tokens', 'seed', 'length']);
    expect(csv).toHaveLength(1 + sweepRows);
    for (const r of csv.slice(1)) expect(r).toHaveLength(csv[0].length);
    // The baseline agrees with itself everywhere; greedy cells (temperature 0) give 8 tokens for every seed.
    const col = (name: string) => csv[0].indexOf(name);
    for (const r of csv.slice(1).filter((r) => r[col('dtype')] === 'fp32')) expect(r[col('identical_pct')]).toBe('100');
    expect(new Set(csv.slice(1).map((r) => r[col('dtype')]))).toEqual(new Set(LABELS));
    mkdirSync(path.join(REPO_ROOT, 'test-results'), { recursive: true });
    await page.locator('#lab').screenshot({ path: path.join(REPO_ROOT, 'test-results/lab.png') });
  });

  it('keeps the finished rows when a running sweep is cancelled', async () => {
    await page.locator('#lab-run-sweep').click();
    await page.waitForFunction(
      (units) => {
        // The status shows the previous (finished) sweep until the new one has its first rows.
        const done = Number(document.querySelector('#lab-sweep-status')?.getAttribute('data-done'));
        return done >= 3 && done < units && window.quantlab!.lab.running === 'sweep';
      },
      SWEEP_UNITS,
      { timeout: 120_000 },
    );
    await page.locator('#lab-cancel').click();
    await idle(page);
    const status = page.locator('#lab-sweep-status');
    expect(await status.getAttribute('data-cancelled')).toBe('true');
    const done = Number(await status.getAttribute('data-done'));
    expect(done).toBeGreaterThanOrEqual(3);
    expect(done).toBeLessThan(SWEEP_UNITS);
    expect(Number(await status.getAttribute('data-rows'))).toBe(4 * done);
    expect(await status.textContent()).toContain('cancelled');
    expect(await page.locator('#lab-sweep-charts canvas').count()).toBe(7);
  });

  it('restores the report and the sweep after a reload, and asks for loaded columns again', async () => {
    const before = await page.evaluate(() => ({
      report: JSON.stringify(window.quantlab!.lab.report),
      rows: window.quantlab!.lab.sweep!.rows.length,
    }));
    await page.waitForTimeout(700);
    await gotoReady(page, `${site.server.url}?device=wasm`);
    await page.locator('#lab-quality').waitFor();
    expect(await page.evaluate(() => JSON.stringify(window.quantlab!.lab.report))).toBe(before.report);
    expect(Number(await page.locator('#lab-sweep-status').getAttribute('data-rows'))).toBe(before.rows);
    expect(await page.locator('#lab-sweep-status').getAttribute('data-cancelled')).toBe('true');
    expect(await page.locator('#lab-size-chart canvas').count()).toBe(1);
    await column(page, 'model').waitFor();
    await page.locator('#lab-run-quality').click();
    expect(await labError(page)).toContain('The baseline fp32 is not loaded');
    await page.locator('#lab').screenshot({ path: path.join(REPO_ROOT, 'test-results/lab-restored.png') });
    expect(site.browser.externalRequests).toEqual([]);
    expect(site.browser.errors).toEqual([]);
  });
});
