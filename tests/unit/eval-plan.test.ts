// Sweep and report sizes before they start (plan.ts): runs, rows and tokens counted by hand for
// small grids (greedy cells generated once per max-new-tokens value, as runSweep does), the time
// at given speeds, the limits' refusals with what to shrink, and the pacer that yields the thread.
import { describe, expect, it } from 'vitest';
import type { EvalModel, Generation } from '../../src/lib/eval/model';
import { pacer } from '../../src/lib/eval/pace';
import {
  checkReportPlan,
  checkSweepPlan,
  describeReportEstimate,
  estimateReport,
  duration,
  LIMITS,
  planReport,
  planSweep,
  SWEEP_RANGES,
  sweepOverLimit,
} from '../../src/lib/eval/plan';
import { runSweep } from '../../src/lib/eval/sweep';
import { NUMBER_SPECS } from '../../src/lib/page/settings';
import { runCli } from '../helpers/cli';
import type { GenerateParams } from '../../src/lib/runner/types';

const shape = {
  temperatures: [0, 0.5, 1],
  topKs: [1, 5, 0],
  topPs: [0.9, 1],
  maxNewTokens: [8, 16],
  seeds: 4,
};

describe('planSweep', () => {
  it('counts runs, rows and generated tokens, greedy cells once per max-new-tokens value', () => {
    const p = planSweep(shape, 3);
    // 3 x 3 x 2 x 2 = 36 cells x 4 seeds. (t, k) pairs: greedy when t = 0 or k = 1: 3 + 3 - 1 = 5;
    // sampled 4, each x 2 top-p x 4 seeds = 32 generations per length, plus 1 greedy.
    expect(p).toMatchObject({ cells: 36, runs: 144, rows: 432, generations: 33 * 2 * 3, tokens: 33 * (8 + 16) * 3 });
    expect(p.seconds).toBeUndefined();
  });

  it('agrees with the generations runSweep really makes', async () => {
    const gens: GenerateParams[] = [];
    const model: EvalModel = {
      logits: async (ids) => ({ data: new Float32Array(ids.length * 4), vocab: 4 }),
      encode: () => [1],
      decode: (ids) => ids.join(' '),
      bosId: () => 1,
      generate: async (p): Promise<Generation> => {
        gens.push(p);
        const ids = Array.from({ length: p.maxNewTokens }, () => 2);
        return { promptIds: [1], ids, text: '', cancelled: false };
      },
    };
    const grid = { ...shape, prompt: 'x', seeds: [0, 1, 2, 3] };
    await runSweep({ grid, models: [{ label: 'fp32', model }], baseline: 'fp32' });
    const p = planSweep(shape, 1);
    expect(gens).toHaveLength(p.generations);
    expect(gens.reduce((a, g) => a + g.maxNewTokens, 0)).toBe(p.tokens);
  });

  it('estimates time from each precision’s decode speed, only when every speed is known', () => {
    const s = { ...shape, temperatures: [0.5], topKs: [0], topPs: [1], maxNewTokens: [10], seeds: 6 };
    // 6 generations x 10 tokens on each: 60 / 20 + 60 / 60 = 4 s.
    expect(planSweep(s, 2, [20, 60]).seconds).toBeCloseTo(4, 12);
    expect(planSweep(s, 2, [20, undefined]).seconds).toBeUndefined();
    expect(planSweep(s, 2, [20]).seconds).toBeUndefined();
  });
});

describe('limits', () => {
  it('takes the value ranges from the playground settings', () => {
    expect(SWEEP_RANGES.temperature.max).toBe(NUMBER_SPECS.temperature.max);
    expect(SWEEP_RANGES.topK.max).toBe(NUMBER_SPECS.topK.max);
    expect(SWEEP_RANGES.maxNewTokens.max).toBe(NUMBER_SPECS.maxNewTokens.max);
  });

  it('refuses a greedy million-seed sweep with its size and the seeds that fit', () => {
    const s = { temperatures: [0], topKs: [0], topPs: [1], maxNewTokens: [8], seeds: 1_000_000 };
    const o = sweepOverLimit(s, 2)!;
    expect(o.message).toBe(
      'This sweep is too large: 1,000,000 runs (1 cell x 1,000,000 seeds) x 2 precisions = 2,000,000 rows, ' +
        'at most 16 new tokens, over the limit of 20,000 rows.',
    );
    expect(o.maxSeeds).toBe(LIMITS.rows / 2);
    expect(sweepOverLimit({ ...s, seeds: o.maxSeeds }, 2)).toBeUndefined();
    expect(() => checkSweepPlan(s, 2)).toThrow('over the limit of 20,000 rows');
  });

  it('refuses on tokens and on time, and says when even one seed is too many', () => {
    const long = { temperatures: [0.5], topKs: [0], topPs: [1], maxNewTokens: [1024], seeds: 1000 };
    // 1000 x 1024 x 2 = 2,048,000 tokens > 1,000,000; 488 seeds fit (488 x 2048 = 999,424).
    const o = sweepOverLimit(long, 2)!;
    expect(o.message).toContain('over the limit of 1,000,000 new tokens');
    expect(o.maxSeeds).toBe(488);
    // At 10 tokens/s each, 2 h allow 7200 x 10 / 2048 = 35 seeds.
    const slow = sweepOverLimit({ ...long, seeds: 100 }, 2, [10, 10])!;
    expect(slow.message).toMatch(/about 5\.7 h at the columns' measured speed, longer than the limit of 2 h/);
    expect(slow.maxSeeds).toBe(35);
    const huge = { temperatures: [0.5, 1], topKs: [0, 5, 20], topPs: [0.8, 0.9, 1], maxNewTokens: [1024], seeds: 1 };
    const h = sweepOverLimit(huge, 200)!;
    expect(h.maxSeeds).toBe(0);
    expect(h.detail).toContain('Even one seed per cell is too much');
  });

  it('sizes a report and refuses one over the token limit with the windows that fit', () => {
    const p = planReport(100, 512, 4, [50, 50, 50, 50]);
    expect(p).toMatchObject({ tokens: 204_800 });
    expect(p.seconds).toBeCloseTo((100 * 512 * 4) / 50, 9);
    expect(() => checkReportPlan(planReport(100, 512, 4))).not.toThrow();
    expect(() => checkReportPlan(planReport(2000, 512, 4))).toThrow(
      /This report is too large: 2,000 windows of 512 tokens x 4 precisions = 4,096,000 tokens, over the limit of 2,000,000 tokens/,
    );
    expect(() => checkReportPlan(planReport(2000, 512, 4))).toThrow(
      expect.objectContaining({ detail: expect.stringContaining('at most 976 windows') }),
    );
  });

  it('words durations', () => {
    expect([duration(30), duration(600), duration(5 * 3600), duration(1e7)]).toEqual([
      'under a minute',
      'about 10 min',
      'about 5 h',
      'about 116 days',
    ]);
  });
});

describe('pacer', () => {
  it('yields to the event loop once a slice of work has passed, and not before', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const pace = pacer(5);
    // Right away: no slice has passed, so no macrotask runs in between.
    const t0 = ticks;
    await pace();
    expect(ticks).toBe(t0);
    // Busy work: the timer gets in at a pace() once 5 ms have passed.
    const end = performance.now() + 2000;
    while (ticks === t0 && performance.now() < end) await pace();
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(t0);
  });
});

describe('quantlab sweep', () => {
  it('refuses a plan over the limits with its size, before building seeds or loading a model', async () => {
    const r = await runCli(['sweep', '/nonexistent', '--temperatures', '0', '--seeds', '1000000000']);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('This sweep is too large: 1,000,000,000 runs (1 cell x 1,000,000,000 seeds)');
    expect(r.err).toContain('Use at most 20,000 Seeds per cell');
    const hot = await runCli(['sweep', '/nonexistent', '--temperatures', '99']);
    expect(hot.err).toContain('temperatures: 99 is not a number from 0 to 2');
  });
});

describe('estimateReport (before the text is tokenized)', () => {
  it('bounds the tokens by the bytes of the text plus BOS, per precision', () => {
    const e = estimateReport(1836, 3);
    expect(e.tokens).toBe(1837 * 3);
    expect(e.over).toBeUndefined();
    expect(describeReportEstimate(e, 3)).toBe('at most 1,837 tokens x 3 precisions = 5,511 tokens');
  });

  it('says what is over the limits: 2,000,000 tokens, or two hours at the measured speed', () => {
    expect(estimateReport(1_000_000, 2).over).toBe('over the limit of 2,000,000 tokens');
    expect(estimateReport(999_999, 2).over).toBeUndefined();
    // 10,001 tokens at 1 token/s on each of 1 precision: 10,001 s, over 7,200 s.
    const slow = estimateReport(10_000, 1, [1]);
    expect(slow.seconds).toBe(10_001);
    expect(slow.over).toBe('longer than the limit of 2 h');
  });
});
