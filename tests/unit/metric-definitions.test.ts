// The page's metric definitions: every figure the page shows has one (what it measures, which way
// is better, a typical value), and the typical quality values quoted are what the lab's engine
// measures on the built-in model today (recomputed here through the Node runner, not copied).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runnerEvalModel } from '../../src/lib/eval/model';
import { evaluateQuality, type PrecisionQuality, type QualityReport } from '../../src/lib/eval/quality';
import { SAMPLE_TEXT } from '../../src/lib/eval/sample';
import {
  betterSentence,
  describeMetric,
  METRICS,
  metricOfReportColumn,
  TYPICAL_RUN,
  type MetricKey,
} from '../../src/lib/page/metric-definitions';
import { Runner } from '../../src/lib/runner/runner';
import { configureNodeTransformers } from '../../src/node/transformers-env';
import { REPO } from '../helpers/paths';

const DIR = join(REPO, 'public/models/aidreams260K');

describe('metric definitions', () => {
  it('gives each metric a term, what it measures, a direction and a typical value', () => {
    for (const [key, m] of Object.entries(METRICS)) {
      expect(m.term, key).not.toBe('');
      expect(m.measures.length, key).toBeGreaterThan(30);
      expect(m.typical.length, key).toBeGreaterThan(10);
      expect(describeMetric(key as MetricKey)).toContain(betterSentence(m.better));
    }
  });

  it('states the direction of better in words', () => {
    expect(describeMetric('kld_mean')).toContain('Lower is better.');
    expect(describeMetric('same_top_pct')).toContain('Higher is better.');
    expect(describeMetric('ppl_ratio')).toContain('Closer to 1 is better.');
    expect(describeMetric('ln_ppl_ratio')).toContain('Closer to 0 is better.');
  });

  it("covers every column of the lab's quality table", () => {
    const columns = [
      'ppl',
      'bits_per_byte',
      'ppl_ratio',
      'ln_ppl_ratio',
      'kld_mean',
      'kld_max',
      'kld_p99_9',
      'kld_p99',
    ];
    const more = ['kld_p95', 'kld_p90', 'kld_median', 'kld_p10', 'kld_p5', 'kld_p1', 'kld_min', 'mean_dp', 'rms_dp'];
    for (const k of [...columns, ...more, 'same_top_pct']) expect(metricOfReportColumn(k), k).toBeDefined();
    expect(metricOfReportColumn('kld_p99')).toBe('kld_pct');
    expect(metricOfReportColumn('rms_dp')).toBe('delta_p');
    expect(metricOfReportColumn('nonsense')).toBeUndefined();
  });

  it('says bf16 is stored as fp32 in its bits-per-weight definition', () => {
    expect(METRICS.bits_per_weight.measures).toMatch(/bf16 .*stores them as fp32/);
  });
});

describe('typical values, measured again on the built-in aidreams260K', () => {
  let report: QualityReport;
  const runners = { fp32: new Runner(), q8: new Runner(), q4: new Runner() };
  const stems = { fp32: 'model', q8: 'model_quantized', q4: 'model_q4' };
  beforeAll(async () => {
    configureNodeTransformers({ allowRemote: false });
    for (const [k, r] of Object.entries(runners))
      await r.load({ modelId: DIR, variant: stems[k as keyof typeof stems], device: 'cpu' });
    report = await evaluateQuality({
      text: SAMPLE_TEXT,
      ctx: TYPICAL_RUN.ctx,
      baseline: 'fp32',
      models: Object.entries(runners).map(([label, r]) => ({ label, model: runnerEvalModel(r) })),
    });
  }, 120_000);
  afterAll(async () => {
    for (const r of Object.values(runners)) await r.dispose();
  });

  /** Within a factor (KLD spans decades: the quote is its order of magnitude and first digit). */
  const near = (quoted: number, measured: number, rel: number) =>
    expect(Math.abs(measured - quoted) / quoted, `quoted ${quoted}, measured ${measured}`).toBeLessThan(rel);

  it('quotes mean KLD, same top %, PPL ratio and RMS Δp as measured', () => {
    for (const d of ['q8', 'q4'] as const) {
      const r = report.results[d] as PrecisionQuality;
      const q = TYPICAL_RUN.values[d];
      near(q.kld_mean, r.kld_mean, 0.2);
      expect(Math.abs(r.same_top_pct - q.same_top_pct), d).toBeLessThan(1);
      expect(Math.abs(r.ppl_ratio - q.ppl_ratio), d).toBeLessThan(0.006);
      near(q.rms_dp_points, 100 * r.rms_dp, 0.25);
    }
    const q4 = report.results.q4 as PrecisionQuality;
    near(TYPICAL_RUN.values.q4.p99_over_mean, q4.kld_p99 / q4.kld_mean, 0.1);
    const fp32 = report.results.fp32 as PrecisionQuality;
    expect(Math.abs(fp32.ppl - TYPICAL_RUN.values.fp32.ppl)).toBeLessThan(1);
    expect(Math.abs(fp32.bits_per_byte - TYPICAL_RUN.values.fp32.bits_per_byte)).toBeLessThan(0.05);
  });

  it('writes the quoted values in the definitions', () => {
    expect(METRICS.kld_mean.typical).toContain(`q8 about ${TYPICAL_RUN.values.q8.kld_mean}`);
    expect(METRICS.kld_mean.typical).toContain(`q4 about ${TYPICAL_RUN.values.q4.kld_mean}`);
    expect(METRICS.same_top_pct.typical).toContain(`q8 about ${TYPICAL_RUN.values.q8.same_top_pct} %`);
    expect(METRICS.same_top_pct.typical).toContain(`q4 about ${TYPICAL_RUN.values.q4.same_top_pct} %`);
    expect(METRICS.ppl_ratio.typical).toContain(`q4 about ${TYPICAL_RUN.values.q4.ppl_ratio}`);
    expect(METRICS.ppl.typical).toContain(`about ${TYPICAL_RUN.values.fp32.ppl}`);
  });
});
