// Guided experiments on the built site: a preset link runs the temperature preset on open (tiny
// size) to its chart, finding and exports, with the measured rise recomputed here from the
// exported rows; nf4/fp4 runs from its button and its figures match the lab's report; a run can
// be cancelled; the methods preset compares the built-in's four q4 methods with the lab report's
// figures; the size-matched preset says why it cannot run on the built-ins.
// Most of the time goes to loading: three columns, then the lab's own three workers (on a shared
// 2-core machine under heavy load the lab's loads took about 3 minutes; the sweep itself 30 s).
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gotoReady } from './columns';
import { openSite, type Site } from './harness';

interface Row {
  dtype: string;
  seed: number;
  temperature: number;
  ref_ppl: number | null;
}
interface Estimate {
  n: number;
  mean: number;
  lo: number;
  hi: number;
}

/** Least-squares slope, written out here (not the app's). */
function olsSlope(x: number[], y: number[]): number {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
  }
  return sxy / sxx;
}

async function download(page: Page, selector: string): Promise<{ name: string; text: string }> {
  const [d] = await Promise.all([page.waitForEvent('download'), page.locator(selector).click()]);
  return { name: d.suggestedFilename(), text: readFileSync((await d.path())!, 'utf8') };
}

const idle = (page: Page) =>
  page.waitForFunction(() => window.quantlab!.presets.running === null, undefined, {
    timeout: 540_000,
    polling: 200,
  });

describe('guided experiments', () => {
  let site: Site;
  let page: Page;

  beforeAll(async () => {
    site = await openSite();
    page = site.page;
  });

  afterAll(() => site?.close());

  it('a preset link runs the temperature preset on open: chart, finding, measured rise recomputed from its JSON', async () => {
    await gotoReady(
      page,
      `${site.server.url}?device=wasm&autorun=0&live=0&preset=temperature&preset_runs=2&preset_tokens=6`,
    );
    const result = page.locator('#preset-result-temperature');
    await result.waitFor({ timeout: 540_000 });
    await idle(page);
    expect(await page.locator('#preset-temperature-error').count()).toBe(0);
    expect(await result.textContent()).toContain('Roy 2023');
    await result.locator('canvas').waitFor();
    const measured = (await result.locator('.preset-measured').textContent()) ?? '';
    console.log('[temperature]', measured);
    const conditions = (await result.locator('.conditions').textContent()) ?? '';
    expect(conditions).toContain('aidreams260K');
    expect(conditions).toContain('× 2 seeds');
    expect(conditions).toContain('6 new tokens');

    const json = await download(page, '#preset-json-temperature');
    expect(json.name).toMatch(/^preset-temperature-.*\.json$/);
    const data = JSON.parse(json.text) as {
      rows: Row[];
      stats: Record<string, Estimate>;
      measured: string;
      verdict: string;
      url: string;
    };
    expect(data.measured).toBe(measured);
    // 4 temperatures x 2 seeds x 3 precisions (fp32, bnb4, q4).
    expect(data.rows).toHaveLength(24);
    const temps = [0.5, 0.6, 0.7, 0.8];
    const ln = (dtype: string, seed: number) =>
      temps.map((t) =>
        Math.log(data.rows.find((r) => r.dtype === dtype && r.seed === seed && r.temperature === t)!.ref_ppl!),
      );
    for (const l of ['bnb4', 'q4']) {
      const perSeed = [0, 1].map((s) => {
        const a = ln(l, s);
        const b = ln('fp32', s);
        return (
          olsSlope(
            temps,
            a.map((x, i) => x - b[i]),
          ) * 0.3
        );
      });
      const mean = (perSeed[0] + perSeed[1]) / 2;
      // Two seeds: t(0.975, 1) = 12.706 times the standard error |a - b| / 2.
      const half = (12.706 * Math.abs(perSeed[0] - perSeed[1])) / 2;
      const e = data.stats[`extra_rise_${l}`];
      expect(e.mean).toBeCloseTo(mean, 9);
      expect(e.lo).toBeCloseTo(mean - half, 6);
      expect(e.hi).toBeCloseTo(mean + half, 6);
      expect(measured).toContain(`${l}'s rise minus fp32's`);
    }
    const verdict = await result.getAttribute('data-verdict');
    expect(verdict).toBe(data.verdict);

    const png = await download(page, '#preset-chart-temperature button.png');
    expect(png.name).toBe('preset-temperature.png');
    const share = await page.locator('#preset-share-temperature').inputValue();
    expect(share).toContain('preset=temperature');
    expect(share).toContain('preset_runs=2');
    expect(share).toContain('model=served%3Aaidreams260K');
  });

  it('nf4 vs fp4 runs from its button: the bars are the lab report’s mean KLD', async () => {
    const plan = (await page.locator('#preset-nf4-fp4-plan').textContent()) ?? '';
    expect(plan).toMatch(/fp32, bnb4, bnb4 fp4, bnb4 fp4 dq/);
    expect(plan).toMatch(/4 teacher-forced passes/);
    await page.locator('#preset-nf4-fp4').click();
    const result = page.locator('#preset-result-nf4-fp4');
    await result.waitFor({ timeout: 540_000 });
    await idle(page);
    const measured = (await result.locator('.preset-measured').textContent()) ?? '';
    console.log('[nf4-fp4]', measured);
    const report = await page.evaluate(() => window.quantlab!.lab.report!);
    const json = JSON.parse((await download(page, '#preset-json-nf4-fp4')).text) as {
      stats: Record<string, Estimate>;
    };
    const kld = (label: string) => (report.results[label] as { kld_mean: number }).kld_mean;
    expect(json.stats.kld_nf4.mean).toBe(kld('bnb4'));
    expect(json.stats.kld_fp4.mean).toBe(kld('bnb4 fp4'));
    expect(json.stats['kld_fp4 dq'].mean).toBe(kld('bnb4 fp4 dq'));
    expect(json.stats['kld_fp4_minus_nf4'].mean).toBeCloseTo(kld('bnb4 fp4') - kld('bnb4'), 12);
    expect(measured).toContain('fp4 minus nf4');
    await result.locator('canvas').waitFor();
  });

  it('the size-matched preset says why it cannot run on the built-in models', async () => {
    await expect.poll(() => page.locator('#preset-size-matched').isDisabled()).toBe(true);
    const size = (await page.locator('#preset-size-matched-reason').textContent()) ?? '';
    expect(size).toContain('two trained models');
    expect(size).toContain('random weights');
  });

  it('methods at the same bits runs from its button: each bar is the lab report’s mean KLD of that method', async () => {
    // The built-in model ships q4 by RTN, HQQ, GPTQ and AWQ (npm run models).
    const plan = (await page.locator('#preset-methods-plan').textContent()) ?? '';
    console.log('[methods plan]', plan);
    for (const m of ['fp32, ', 'q4,', 'q4 hqq', 'q4 gptq', 'q4 awq']) expect(plan).toContain(m);
    await page.locator('#preset-methods').click();
    const result = page.locator('#preset-result-methods');
    await result.waitFor({ timeout: 540_000 });
    await idle(page);
    const report = await page.evaluate(() => window.quantlab!.lab.report!);
    const json = JSON.parse((await download(page, '#preset-json-methods')).text) as {
      stats: Record<string, Estimate | number>;
    };
    const bars = ['RTN', 'HQQ', 'GPTQ', 'AWQ'].map((m) => (json.stats[`kld_${m}`] as Estimate).mean).sort();
    const reported = Object.entries(report.results)
      .filter(([label]) => label !== 'fp32')
      .map(([, r]) => (r as { kld_mean: number }).kld_mean)
      .sort();
    expect(bars).toEqual(reported);
    expect(bars.every((k) => k > 0)).toBe(true);
    const gptqMinusRtn = json.stats['kld_GPTQ_minus_RTN'] as Estimate;
    expect(gptqMinusRtn.mean).toBeCloseTo(
      (json.stats.kld_GPTQ as Estimate).mean - (json.stats.kld_RTN as Estimate).mean,
      12,
    );
    expect((await result.locator('.preset-measured').textContent()) ?? '').toContain('GPTQ minus RTN');
    await result.locator('canvas').waitFor();
  });

  it('a run shows its progress and stops on Cancel', async () => {
    await page.locator('#preset-runs').fill('32');
    await page.locator('#preset-runs').dispatchEvent('change');
    await page.locator('#preset-tokens').fill('96');
    await page.locator('#preset-tokens').dispatchEvent('change');
    expect(await page.locator('#preset-temperature-plan').textContent()).toContain('128 runs (4 cells x 32 seeds)');
    await page.locator('#preset-temperature').click();
    await page.locator('#preset-progress').waitFor();
    await page.locator('#preset-cancel').click();
    await idle(page);
    expect(await page.locator('#preset-temperature-error').textContent()).toContain('Cancelled');
  });
});
