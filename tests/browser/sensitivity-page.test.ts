// Layer sensitivity and mixed precision in the page: aidreams260K opened through the file input,
// measured at 4 bits rtn from the Quantize dialog (builder worker, onnxruntime-web); the heat map's
// data table and the JSON export agree with the same measurement made here in Node
// (onnxruntime-node, the tokenizer read by transformers.js's AutoTokenizer) on the same checkpoint;
// a budget out of range is refused at the field; a budget in range writes one mixed file that
// then generates in a column.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { AutoTokenizer } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeModel } from '../../src/lib/onnx/proto';
import { CALIBRATION_TEXT } from '../../src/lib/quantize/calibration-sample';
import { measureSensitivity, type SensitivityReport } from '../../src/lib/quantize/sensitivity';
import { nodeOrtRuntime } from '../../src/node/ort-runtime';
import { configureNodeTransformers } from '../../src/node/transformers-env';
import { REPO } from '../helpers/paths';
import { openSite, type Site } from './harness';
import { importAidreams, waitDone } from './columns';

const TOKENS = 256;
const WINDOW = 128;

/** The same measurement in Node, on the CLI's import of the same checkpoint (public/models). */
async function nodeReference(): Promise<SensitivityReport> {
  const dir = resolve(REPO, 'public/models/aidreams260K');
  configureNodeTransformers({ allowRemote: false });
  const tokenizer = await AutoTokenizer.from_pretrained(dir);
  const ids = Array.from(tokenizer.encode(CALIBRATION_TEXT)).slice(0, TOKENS);
  const bos = (tokenizer as { bos_token_id?: number | null }).bos_token_id ?? undefined;
  return measureSensitivity({
    model: decodeModel(new Uint8Array(readFileSync(resolve(dir, 'onnx/model.onnx')))),
    ids,
    bos,
    ctx: WINDOW,
    bits: [2, 4],
    method: 'rtn',
    runtime: await nodeOrtRuntime(),
  });
}

describe('layer sensitivity in the page', () => {
  let site: Site;

  beforeAll(async () => {
    site = await openSite();
    await importAidreams(site.page, site.server.url);
  });

  afterAll(() => site?.close());

  it('measures at 4 bits rtn as Node does, exports JSON, and writes a budget file that generates', async () => {
    const page = site.page;
    const reference = nodeReference();
    await page.locator('#quantize').click({ timeout: 120_000 });
    const dialog = page.locator('dialog[open]');
    await dialog.locator('#sensitivity-open').click();
    await dialog.locator('#calib-tokens').fill(String(TOKENS));
    await dialog.locator('#calib-window').fill(String(WINDOW));
    // 4 bits (the dialog's width) and 2, so the budget can plan from the same report.
    await dialog.locator('#sensitivity-widths input[value="2"]').check();
    // The plan before starting: 4 layers x 7 linears at two widths, over two windows.
    await expect
      .poll(() => dialog.locator('#sensitivity-plan').textContent())
      .toMatch(/at most 28 weights x 2 widths = 56 runs over 2 windows of 128 tokens: 114 passes/);
    await dialog.locator('#sensitivity-run').click();
    await dialog.locator('#sensitivity-results').waitFor({ timeout: 180_000 });
    expect((await dialog.locator('#sensitivity-summary').textContent())?.replace(/\s+/g, ' ')).toMatch(
      /rtn, block 32, widths 2, 4; calibration: built-in calibration sample \(256 tokens, 2 windows of 128/,
    );

    // The JSON export, as `quantlab sensitivity --json` prints it.
    const [download] = await Promise.all([page.waitForEvent('download'), dialog.locator('#sensitivity-json').click()]);
    expect(download.suggestedFilename()).toBe('sensitivity-aidreams260K-rtn-2-4bit.json');
    const got = JSON.parse(readFileSync((await download.path())!, 'utf8')) as SensitivityReport & {
      model: string;
      calib_file: string;
    };
    expect(got).toMatchObject({ model: 'aidreams260K', calib_file: 'built-in calibration sample', bits: [2, 4] });
    const ref = await reference;
    expect(got.windows).toBe(ref.windows);
    expect(got.positions).toBe(ref.positions);
    expect(got.entries.map((e) => `${e.weight} ${e.bits}`)).toEqual(ref.entries.map((e) => `${e.weight} ${e.bits}`));
    let worst = 0;
    for (const [i, e] of got.entries.entries()) {
      const r = ref.entries[i];
      expect(e.bytes).toBe(r.bytes);
      worst = Math.max(worst, Math.abs(e.kld_mean - r.kld_mean) / r.kld_mean);
      expect(e.kld_mean, e.weight).toBeGreaterThan(0);
      expect(Math.abs(e.kld_mean - r.kld_mean), e.weight).toBeLessThanOrEqual(0.02 * r.kld_mean + 1e-7);
    }
    console.log(`[sensitivity-page] ${got.entries.length} weights; worst relative KLD difference web vs node ${worst}`);

    // The heat map's data table at 4 bits: layer x module, the same figures (2 decimals shown).
    await dialog.locator('#sensitivity-bits').selectOption('4');
    await page.waitForFunction(() => document.querySelector('#sensitivity-results')?.getAttribute('data-bits') === '4');
    await dialog.locator('#sensitivity-heatmap summary').click();
    const table = dialog.locator('#sensitivity-heatmap table');
    await table.waitFor();
    const head = await table.locator('thead th').allTextContents();
    expect(head.slice(1).sort()).toEqual(
      ['down_proj', 'gate_proj', 'k_proj', 'o_proj', 'q_proj', 'up_proj', 'v_proj'].sort(),
    );
    const rows = await table
      .locator('tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('th, td')].map((c) => c.textContent ?? '')));
    expect(rows.map((r) => r[0])).toEqual(['L0', 'L1', 'L2', 'L3']);
    for (const [i, row] of rows.entries()) {
      for (const [j, text] of row.slice(1).entries()) {
        const at = (e: SensitivityReport['entries'][number]) =>
          e.bits === 4 && e.layer === i && e.module === head[j + 1];
        const mine = got.entries.find(at)!;
        const r = ref.entries.find(at)!;
        expect(text, `${row[0]} ${head[j + 1]}`).toBe(mine.kld_mean.toExponential(2));
        expect(Math.abs(Number(text) - r.kld_mean), `${row[0]} ${head[j + 1]}`).toBeLessThanOrEqual(0.03 * r.kld_mean);
      }
    }

    // A budget below every weight at 2 bits is refused at the field; one in range writes the file,
    // planned from the report in hand (widths 2 and 4).
    const budget = dialog.locator('#quantize-budget');
    await budget.fill('2.5');
    expect(await dialog.locator('#quantize-budget-message').textContent()).toMatch(/below the smallest width/);
    expect(await dialog.locator('#quantize-budget-run').isDisabled()).toBe(true);
    // The range by hand: per weight N x ceil(K / 32) blocks of 32 levels plus a float32 scale.
    const shapes = got.entries.filter((e) => e.bits === 4);
    const params = shapes.reduce((a, e) => a + e.K * e.N, 0);
    const at = (b: number) =>
      (8 * shapes.reduce((a, e) => a + e.N * Math.ceil(e.K / 32) * ((32 * b) / 8 + 4), 0)) / params;
    expect(await dialog.locator('#quantize-budget-message').textContent()).toContain(
      `from ${at(2).toFixed(3)} to ${at(4).toFixed(3)}`,
    );
    await budget.fill('4');
    expect(await dialog.locator('#quantize-budget-run').isDisabled()).toBe(false);
    await dialog.locator('#quantize-budget-run').click();
    const mixed = page.locator('input[data-stem^="model_q4_mix"]');
    await mixed.waitFor({ timeout: 300_000 });
    const stem = (await mixed.getAttribute('data-stem'))!;
    expect(await page.locator('#import-status').textContent()).toBe('Quantized aidreams260K: q4');
    expect(await mixed.isChecked()).toBe(true);
    await dialog.getByRole('button', { name: 'Close' }).click();
    await page.locator('#generate').click();
    await waitDone(page, stem, 0, 120_000);
    expect((await page.locator(`article.column[data-variant="${stem}"] .output`).textContent())?.trim()).not.toBe('');

    // The lab's report on the loaded columns: a method column, the mixed file's calibration text
    // named beside the evaluation text (different texts: no warning), and the size chart by method.
    await page.locator('#lab-run-quality').click();
    await page.locator('#lab-quality').waitFor({ timeout: 120_000 });
    const methods = await page
      .locator('#lab-quality tr[data-dtype]')
      .evaluateAll((trs) =>
        Object.fromEntries(
          trs.map((tr) => [tr.getAttribute('data-dtype'), tr.querySelector('td[data-k="method"]')?.textContent]),
        ),
      );
    expect(Object.values(methods)).toContain('mixed');
    if (methods.fp32) expect(methods.fp32).toBe('float');
    const texts = (await page.locator('#lab-report-texts').textContent())?.replace(/\s+/g, ' ');
    expect(texts).toMatch(/Evaluation text: built-in sample\./);
    expect(texts).toMatch(/Calibration text: built-in calibration sample \([^)]*mixed[^)]*\)/);
    expect(await page.locator('#lab-calib-warning').count()).toBe(0);
    await page.locator('#lab-size-chart').waitFor();

    // The bits-against-KLD view: its data table lists every compared precision (not the baseline)
    // once, with the report table's bits per weight and mean KLD.
    const baseline = (await page.locator('#lab-quality caption').textContent())?.match(/baseline (\S+)/)?.[1];
    const reportRows = await page
      .locator('#lab-quality tr[data-dtype]')
      .evaluateAll((trs) =>
        trs.map((tr) => [
          tr.getAttribute('data-dtype')!,
          ...['bits', 'kld_mean'].map((k) => tr.querySelector(`td[data-k="${k}"]`)?.textContent ?? ''),
        ]),
      );
    const reported = reportRows.filter(([d, , kld]) => d !== baseline && Number.isFinite(parseFloat(kld)));
    await page.locator('#lab-bits-chart summary').click();
    const chartedRows = async () =>
      (
        await page
          .locator('#lab-bits-chart tbody tr')
          .evaluateAll((trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent ?? '')))
      ).filter((r) => r[0] !== 'Pareto front');
    // The data table renders once the opened details shows it: wait for its rows, then compare.
    await expect
      .poll(async () => (await chartedRows()).map((r) => r[1]).sort(), { timeout: 10_000 })
      .toEqual(reported.map((r) => r[0]).sort());
    const charted = await chartedRows();
    expect(charted.map((r) => r[0])).toContain('mixed');
    for (const [dtype, bits, kld] of reported) {
      const [, , , x, y] = charted.find((r) => r[1] === dtype)!;
      expect(Math.abs(Number(x) - Number(bits)), `${dtype} bits`).toBeLessThanOrEqual(5e-4 + 5e-4 * Number(bits));
      const k = Number(kld.split('±')[0]);
      expect(Math.abs(Number(y) - k), `${dtype} KLD`).toBeLessThanOrEqual(1e-6 + 1e-3 * k);
    }
  });
});
