// Sweep orchestration over stand-in models with scripted continuations: rows per precision x
// cell x seed, agreement and reference perplexity, the greedy shortcut, per-precision failures,
// progress, cancellation with partial results, aggregation over seeds, and bad grids.
import { describe, expect, it } from 'vitest';
import type { EvalModel, Generation, Logits } from '../../src/lib/eval/model';
import {
  runSweep,
  type SweepGrid,
  type SweepOptions,
  type SweepProgress,
  type SweepRow,
} from '../../src/lib/eval/sweep';
import { aggregateSweep } from '../../src/lib/eval/tables';
import type { GenerateParams } from '../../src/lib/runner/types';

const V = 16;
const PROMPT = [1, 5];

/** Generates `script(params)` (cut to maxNewTokens); logits are uniform, so any text has perplexity V. */
function fake(script: (p: GenerateParams) => number[]): EvalModel & { gens: GenerateParams[] } {
  const gens: GenerateParams[] = [];
  return {
    gens,
    logits: async (ids: number[]): Promise<Logits> => ({ data: new Float32Array(ids.length * V), vocab: V }),
    encode: () => PROMPT,
    decode: (ids: number[]) => ids.join(' '),
    bosId: () => 1,
    async generate(p: GenerateParams, signal?: AbortSignal): Promise<Generation> {
      gens.push(p);
      const ids = script(p).slice(0, p.maxNewTokens);
      return { promptIds: PROMPT, ids, text: ids.join(' '), cancelled: signal?.aborted === true };
    },
  };
}

const grid: SweepGrid = {
  prompt: 'x',
  temperatures: [0, 0.7],
  topKs: [0, 5],
  topPs: [1],
  maxNewTokens: [4],
  seeds: [0, 1, 2],
};
const baseScript = (p: GenerateParams) => [p.seed + 2, 3, 4, 4];
const qScript = (p: GenerateParams) => (p.temperature === 0 ? [p.seed + 2, 3, 9, 4] : [p.seed + 2, 3, 4, 4]);

function run(models: SweepOptions['models'], extra: Partial<SweepOptions> = {}) {
  return runSweep({ grid, models, baseline: 'fp32', ...extra });
}

describe('runSweep', () => {
  it('gives one row per precision x cell x seed with agreement, diversity and the baseline perplexity', async () => {
    const base = fake(baseScript);
    const q = fake(qScript);
    const progress: SweepProgress[] = [];
    const r = await run(
      [
        { label: 'q4', model: q },
        { label: 'fp32', model: base },
      ],
      { onProgress: (p) => progress.push(p) },
    );
    expect(r.rows).toHaveLength(2 * 4 * 3);
    expect([r.done, r.total, r.cancelled]).toEqual([12, 12, false]);
    const at = (dtype: string, temperature: number, top_k: number, seed: number) =>
      r.rows.find(
        (x) => x.dtype === dtype && x.temperature === temperature && x.top_k === top_k && x.seed === seed,
      ) as SweepRow;
    const b = at('fp32', 0.7, 5, 1);
    expect([b.length, b.prefix_match, b.identical_pct, b.repetition_rate]).toEqual([4, 4, 100, 0]);
    expect(b.distinct_1).toBe(0.5); // seed 1 -> 3 3 4 4: {3, 4} of 4 tokens
    expect(b.distinct_2).toBeCloseTo(3 / 3, 15); // (3,3) (3,4) (4,4)
    expect(b.ref_ppl).toBeCloseTo(V, 4); // uniform logits
    const g = at('q4', 0, 0, 2);
    expect([g.prefix_match, g.identical_pct]).toEqual([2, 75]); // differs at position 2 only
    // Progress: monotone, one event per cell x seed, ends with done.
    const dones = progress.filter((p) => p.status === 'cell').map((p) => p.done);
    expect(dones).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    // 7 generations (one greedy, 6 sampled) x 2 precisions x 4 tokens.
    expect(progress.at(-1)).toEqual({ status: 'done', done: 12, total: 12, tokens: 56, cancelled: false });
  });

  it('runs a greedy cell once per precision and copies it to every seed', async () => {
    const base = fake(baseScript);
    await run([{ label: 'fp32', model: base }]);
    // Greedy: temperature 0 with top-k 0 and 5 share one run (seed 0); sampled: 2 cells x 3 seeds.
    expect(base.gens.filter((p) => p.temperature === 0)).toHaveLength(1);
    expect(base.gens.filter((p) => p.temperature === 0.7)).toHaveLength(6);
  });

  it('passes the same seed and settings to every precision (coupled sampling)', async () => {
    const base = fake(baseScript);
    const q = fake(qScript);
    await run([
      { label: 'fp32', model: base },
      { label: 'q', model: q },
    ]);
    expect(q.gens).toEqual(base.gens);
    expect(base.gens.find((p) => p.temperature === 0.7 && p.topK === 5 && p.seed === 2)).toMatchObject({
      prompt: 'x',
      topP: 1,
      maxNewTokens: 4,
      repetitionPenalty: 1,
    });
  });

  it('records a failing precision per row and keeps the others', async () => {
    const broken: EvalModel = { ...fake(baseScript), generate: () => Promise.reject(new Error('device lost')) };
    const r = await run([
      { label: 'fp32', model: fake(baseScript) },
      { label: 'fp16', model: broken },
    ]);
    const bad = r.rows.filter((x) => x.dtype === 'fp16');
    expect(bad.every((x) => x.error?.message === 'device lost' && Number.isNaN(x.ref_ppl))).toBe(true);
    const agg = aggregateSweep(r.rows);
    expect(agg.find((a) => a.dtype === 'fp16')).toMatchObject({ seeds: 0, errors: 3 });
    expect(agg.find((a) => a.dtype === 'fp32')).toMatchObject({ seeds: 3, errors: 0, identical_pct_mean: 100 });
  });

  it('stops at a baseline failure and returns the rows finished before it with the error', async () => {
    let calls = 0;
    const flaky: EvalModel = {
      ...fake(baseScript),
      generate: (p, signal) =>
        ++calls === 3 ? Promise.reject(new Error('out of memory')) : fake(baseScript).generate(p, signal),
    };
    const r = await run([
      { label: 'fp32', model: flaky },
      { label: 'q', model: fake(qScript) },
    ]);
    expect(r.error).toEqual({ code: 'internal', message: 'out of memory' });
    // Call 1 covers all 6 greedy units, call 2 the first sampled one; the third call fails.
    expect([r.done, r.rows.length, r.cancelled]).toEqual([7, 14, false]);
  });

  it('stops between cells when cancelled and returns the rows so far', async () => {
    const ctrl = new AbortController();
    const r = await run([{ label: 'fp32', model: fake(baseScript) }], {
      signal: ctrl.signal,
      onProgress: (p) => p.status === 'cell' && p.done === 5 && ctrl.abort(),
    });
    expect([r.done, r.total, r.cancelled, r.rows.length]).toEqual([5, 12, true, 5]);
  });

  it('takes a cancel at once even when a model does not answer its own (the call is left behind)', async () => {
    const ctrl = new AbortController();
    const stuck: EvalModel = { ...fake(baseScript), generate: () => new Promise<Generation>(() => {}) };
    const run = runSweep({ grid, models: [{ label: 'fp32', model: stuck }], baseline: 'fp32', signal: ctrl.signal });
    await new Promise((r) => setTimeout(r, 20));
    ctrl.abort();
    expect(await run).toMatchObject({ done: 0, cancelled: true, rows: [] });
  });

  it('rejects bad grids and an unknown baseline by name', async () => {
    const m = [{ label: 'fp32', model: fake(baseScript) }];
    const withGrid = (g: Partial<SweepGrid>) => runSweep({ grid: { ...grid, ...g }, models: m, baseline: 'fp32' });
    await expect(withGrid({ temperatures: [0.5, NaN] })).rejects.toThrow(
      'temperatures: NaN is not a number from 0 to 2',
    );
    await expect(withGrid({ temperatures: [-1] })).rejects.toThrow(/temperatures: -1/);
    await expect(withGrid({ topKs: [2.5] })).rejects.toThrow(/top-k: 2.5 is not a whole number/);
    await expect(withGrid({ topPs: [0] })).rejects.toThrow(/top-p: 0 is not a number from 0.05 to 1/);
    await expect(withGrid({ maxNewTokens: [0] })).rejects.toThrow(/max new tokens: 0/);
    await expect(withGrid({ seeds: [] })).rejects.toThrow(/seeds: give at least one value/);
    await expect(withGrid({ seeds: [-1] })).rejects.toThrow(/seeds: -1/);
    await expect(withGrid({ repetitionPenalty: 0 })).rejects.toThrow(/repetition penalty must be > 0/);
    await expect(withGrid({ temperatures: [99] })).rejects.toThrow('temperatures: 99 is not a number from 0 to 2');
    await expect(withGrid({ topKs: [1e9] })).rejects.toThrow('top-k: 1000000000 is not a whole number from 0 to 200');
    await expect(withGrid({ topKs: [5, 5] })).rejects.toThrow('top-k: 5 is listed twice');
    await expect(withGrid({ seeds: Array.from({ length: 6000 }, (_, i) => i) })).rejects.toThrow(
      /This sweep is too large: 24,000 runs .* over the limit of 20,000 rows/,
    );
    await expect(runSweep({ grid, models: m, baseline: 'fp16' })).rejects.toThrow(
      'Baseline "fp16" is not among the loaded precisions (fp32)',
    );
  });
});

describe('aggregateSweep', () => {
  it('folds seeds into mean, sample std, min and max per precision and cell', () => {
    const row = (seed: number, length: number, ref: number): SweepRow => ({
      dtype: 'q4',
      temperature: 0.5,
      top_k: 5,
      top_p: 1,
      max_new_tokens: 8,
      seed,
      length,
      prefix_match: 0,
      identical_pct: 50,
      distinct_1: 1,
      distinct_2: 1,
      repetition_rate: 0,
      ref_ppl: ref,
      text: '',
    });
    const [a, b] = aggregateSweep([row(0, 1, 2), row(1, 2, NaN), row(2, 4, 4), { ...row(0, 9, 9), dtype: 'fp32' }]);
    // lengths 1, 2, 4: mean 7/3, sample variance ((4/3)^2 + (1/3)^2 + (5/3)^2) / 2 = 7/3.
    expect(a).toMatchObject({ dtype: 'q4', seeds: 3, errors: 0, length_min: 1, length_max: 4 });
    expect(a.length_mean).toBeCloseTo(7 / 3, 14);
    expect(a.length_std).toBeCloseTo(Math.sqrt(7 / 3), 14);
    // ref_ppl 2, NaN, 4: the empty continuation is left out -> mean 3, std sqrt(2).
    expect(a.ref_ppl_mean).toBe(3);
    expect(a.ref_ppl_std).toBeCloseTo(Math.SQRT2, 14);
    expect(b).toMatchObject({ dtype: 'fp32', seeds: 1, length_mean: 9, length_std: 0 });
  });
});
