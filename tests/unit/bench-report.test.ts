// The benchmark's pure pieces, every expected value worked out by hand: median and spread, the
// exact-length prompt, the order runner and floor take turns in, a result row, the concurrency
// summary, the KV layout read from input metadata, and the printed table.
import { describe, expect, it, vi } from 'vitest';
import type { FloorResult } from '../../src/lib/bench/floor';
import {
  greedyParams,
  MAX_ROUNDS,
  measureConcurrency,
  measureInterleaved,
  type RunnerRun,
} from '../../src/lib/bench/measure';
import { buildPrompt, type PromptTokenizer } from '../../src/lib/bench/prompt';
import {
  alignTable,
  benchRow,
  benchRowExtras,
  concurrencyResult,
  formatBenchTable,
  ratioHalfWidth,
  ratioSettled,
  ratioWarnings,
  settleOf,
  type BenchReport,
} from '../../src/lib/bench/report';
import { bootstrapPairedRatio, median, minMax, quantile, quartiles, runsFor } from '../../src/lib/bench/stats';
import { createRng } from '../../src/lib/sampling/rng';
import { QuantlabError } from '../../src/lib/errors';

describe('median and minMax', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 10])).toBe(3.5); // sorted 1 3 4 10 -> (3 + 4) / 2
    expect(median([7])).toBe(7);
    expect(minMax([4, 1, 3, 10])).toEqual({ min: 1, max: 10 });
    expect(() => median([])).toThrow();
    expect(() => minMax([])).toThrow();
  });
});

/**
 * A toy tokenizer: BOS (id 0) then one id per word; decode joins words with spaces. Words of 3+
 * letters at the very end of the text are split in two ids ("xyz" -> "xy", "z"), as a merge
 * that a cut undoes would re-encode differently.
 */
function toyTokenizer(splitTail: boolean): PromptTokenizer & { vocab: string[] } {
  const vocab: string[] = ['<s>'];
  const id = (w: string) => {
    const i = vocab.indexOf(w);
    return i >= 0 ? i : vocab.push(w) - 1;
  };
  return {
    vocab,
    encode(text) {
      const words = text.split(' ').filter(Boolean);
      const ids = [0, ...words.map(id)];
      const last = words.at(-1);
      if (splitTail && last && last.length >= 3)
        ids.splice(ids.length - 1, 1, id(last.slice(0, 2)), id(`##${last.slice(2)}`));
      return ids;
    },
    decode(ids) {
      return ids
        .filter((i) => i !== 0)
        .map((i) => vocab[i])
        .join(' ')
        .replace(/ ##/g, '');
    },
  };
}

describe('buildPrompt', () => {
  it('repeats the text and cuts it to exactly n tokens, BOS included', async () => {
    const tok = toyTokenizer(false);
    // "a b c " has 3 words: 7 tokens = BOS + a b c a b c.
    const p = await buildPrompt(tok, 7, 'a b c ');
    expect(p.prompt).toBe('a b c a b c');
    expect(p.ids.length).toBe(7);
    expect(p.ids).toEqual(tok.encode('a b c a b c'));
    const long = await buildPrompt(tok, 50, 'a b c ');
    expect(long.ids.length).toBe(50);
  });

  it('moves the cut when a cut re-encodes to another length', async () => {
    const tok = toyTokenizer(true);
    // Text "ab xyz ": encoded whole (ends in "xyz") its tail splits; a cut after 4 tokens gives
    // "ab xyz ab" -> BOS ab xyz ab (4 ids), and a cut ending on "xyz" gives 1 id more on encoding.
    const p = await buildPrompt(tok, 4, 'ab xyz ');
    expect(p.ids.length).toBe(4);
    expect(p.prompt).toBe('ab xyz ab');
    // n = 3: a cut after k ids ending in "ab" (k even) re-encodes to k ids, one ending in "xyz"
    // (k odd) to k + 1 (xy, ##z): no cut gives 3 ids, so it says so.
    await expect(buildPrompt(tok, 3, 'ab xyz ')).rejects.toThrow(/exactly 3 tokens/);
  });

  it('refuses a non-positive length', async () => {
    await expect(buildPrompt(toyTokenizer(false), 0)).rejects.toBeInstanceOf(QuantlabError);
  });
});

const runnerRun = (ids: number[], decode: number, ttft = 10, stepMs?: number[]): RunnerRun => ({
  promptIds: [1, 2, 3],
  ids,
  ttftMs: ttft,
  prefillTokensPerS: 3 / (ttft / 1000),
  decodeTokensPerS: decode,
  ...(stepMs ? { stepMs } : {}),
});
const floorRun = (ids: number[], decode: number, ttft = 5, stepMs: number[] = []): FloorResult => ({
  ids,
  ttftMs: ttft,
  prefillTokensPerS: 3 / (ttft / 1000),
  decodeTokensPerS: decode,
  stepMs,
  kvPath: 'host',
});

describe('quartiles and the bootstrap interval of a ratio', () => {
  it('interpolates quantiles between sorted values (numpy linear)', () => {
    // Sorted 1 2 3 4: q1 at position 0.75 -> 1.75, q3 at 2.25 -> 3.25.
    expect(quantile([4, 1, 3, 2], 0.25)).toBeCloseTo(1.75, 12);
    expect(quartiles([4, 1, 3, 2])).toEqual({ q1: 1.75, q3: 3.25, iqr: 1.5 });
    expect(quantile([5], 0.9)).toBe(5);
    expect(quantile([1, 9], 0.5)).toBe(5);
    expect(() => quantile([], 0.5)).toThrow();
  });

  it('resamples whole pairs: two pairs give exactly three possible ratios', () => {
    // Pairs (100, 100) and (120, 100). A resample holds pair 1 twice (ratio 1.0, p = 1/4), pair 2
    // twice (1.2, p = 1/4) or one of each (median 110 / 100 = 1.1): the central 95 % of 2,000 draws
    // runs from 1.0 to 1.2, and the ratio as measured is 110 / 100.
    const ci = bootstrapPairedRatio([100, 120], [100, 100], createRng(1), 2000);
    expect(ci.ratio).toBeCloseTo(1.1, 12);
    expect(ci.low).toBeCloseTo(1.0, 12);
    expect(ci.high).toBeCloseTo(1.2, 12);
  });

  it('gives a zero-width interval when every pair has the same ratio, however noisy the runs', () => {
    const b = [50, 400, 90, 700, 120, 60];
    const ci = bootstrapPairedRatio(
      b.map((x) => 0.9 * x),
      b,
      createRng(3),
      500,
    );
    expect(ci.low).toBeCloseTo(0.9, 12);
    expect(ci.high).toBeCloseTo(0.9, 12);
    // Unpaired drift (the same values, pairs shuffled) widens it.
    const shuffled = bootstrapPairedRatio([90 * 0.9, 45, 630, 108, 360, 54], b, createRng(3), 500);
    expect(shuffled.high - shuffled.low).toBeGreaterThan(0.1);
    expect(() => bootstrapPairedRatio([1], [1, 2], createRng(1))).toThrow(/pairs/);
  });

  it('is repeatable for a seed', () => {
    const a = [10, 12, 9, 14, 11, 13];
    const b = [11, 11, 10, 12, 12, 14];
    expect(bootstrapPairedRatio(a, b, createRng(7))).toEqual(bootstrapPairedRatio(a, b, createRng(7)));
  });

  it("takes the median of the pairs' own ratios, so a speed change between pairs divides out", () => {
    // Pair ratios 100/125 = 0.8, 200/160 = 1.25, 300/600 = 0.5: their median is 0.8, while the
    // medians' ratio, 200 / 160, is 1.25 (the pairs ran at different machine speeds).
    expect(bootstrapPairedRatio([100, 200, 300], [125, 160, 600], createRng(1), 10).ratio).toBeCloseTo(0.8, 12);
    // A machine at 1x, 2x, 3x ... 8x speed: every pair 0.95, the interval 0.95 exactly; the
    // medians of either side alone move with the speed and say nothing of it.
    const b = [1, 2, 3, 4, 5, 6, 7, 8].map((k) => 40 * k);
    const ci = bootstrapPairedRatio(
      b.map((x) => 0.95 * x),
      b,
      createRng(5),
      500,
    );
    expect([ci.ratio, ci.low, ci.high].map((x) => x.toFixed(12))).toEqual(Array(3).fill((0.95).toFixed(12)));
  });

  it('with groups (loads), resamples the groups and then the pairs in them, so loads that differ widen it', () => {
    // Three loads of 10 rounds, every round of load k at ratio 0.9, 0.95, 1.0. Resampling loads:
    // the same load drawn two or three times (7 in 27 for each end) puts the median at 0.9 or 1.0,
    // so the interval runs 0.9-1.0. Resampling rounds alone: 16 or more of 30 draws from one third
    // is rarer than 2.5 %, so the interval stays at 0.95.
    const b = Array.from({ length: 30 }, (_, i) => 100 + i);
    const a = b.map((x, i) => [0.9, 0.95, 1.0][Math.floor(i / 10)] * x);
    const groups = b.map((_, i) => Math.floor(i / 10));
    const grouped = bootstrapPairedRatio(a, b, createRng(11), 2000, 0.95, groups);
    expect(grouped.ratio).toBeCloseTo(0.95, 12);
    expect([grouped.low, grouped.high].map((x) => x.toFixed(12))).toEqual([(0.9).toFixed(12), (1).toFixed(12)]);
    const rounds = bootstrapPairedRatio(a, b, createRng(11), 2000, 0.95);
    expect(rounds.low).toBeGreaterThanOrEqual(0.925);
    expect(rounds.high).toBeLessThanOrEqual(0.975);
    expect(() => bootstrapPairedRatio(a, b, createRng(1), 10, 0.95, [0])).toThrow(/one per pair/);
  });

  it('estimates the runs that narrow an interval as 1 / sqrt(runs)', () => {
    expect(runsFor(0.1, 20, 0.05)).toBe(80); // half the width: four times the runs
    expect(runsFor(0.075, 10, 0.05)).toBe(23); // 10 * 2.25 = 22.5 -> 23
    expect(runsFor(0.04, 20, 0.05)).toBe(20);
  });
});

describe('measureInterleaved', () => {
  it('loads and warms up the runner, then the floor, then runs runner and floor in ABBA order', async () => {
    const calls: string[] = [];
    let n = 0;
    const m = await measureInterleaved(
      {
        loadRunner: async () => (calls.push('loadRunner'), 100),
        runRunner: async () => {
          calls.push('runner');
          n++;
          return { ...runnerRun([7, 8, 9].slice(0, n === 2 ? 2 : 3), 10 * n), promptIds: [n, n] };
        },
        onRunnerWarm: () => calls.push('warm'),
        loadFloor: async () => (calls.push('loadFloor'), 50),
        runFloor: async (ids, k) => {
          calls.push(`floor(${ids.join(',')};${k})`);
          return floorRun([7, 8, 9].slice(0, k), 1);
        },
      },
      3,
    );
    // Warm-up runner run 1 (3 ids), then runs 2 (2 ids), 3 and 4 in ABBA order: runner first in
    // even rounds, floor first in odd ones; each floor run gets the ids and count of the latest runner run.
    expect(calls).toEqual([
      'loadRunner',
      'runner',
      'warm',
      'loadFloor',
      'floor(1,1;3)',
      'runner',
      'floor(2,2;2)',
      'floor(2,2;2)',
      'runner',
      'runner',
      'floor(4,4;3)',
    ]);
    expect(m.loadMs).toBe(100);
    expect(m.floorLoadMs).toBe(50);
    expect(m.runner.map((r) => r.decodeTokensPerS)).toEqual([20, 30, 40]);
    expect(m.floor.length).toBe(3);
  });

  it('goes on past --runs until the measured rounds have taken minMs, and stops at MAX_ROUNDS', async () => {
    // A fake clock: each runner run takes 10 ms, each floor run 5 ms.
    let clock = 1000;
    const now = vi.spyOn(performance, 'now').mockImplementation(() => clock);
    try {
      const sides = (runnerMs: number, floorMs: number) => ({
        loadRunner: async () => 1,
        runRunner: async () => ((clock += runnerMs), runnerRun([1, 2], 10)),
        loadFloor: async () => 1,
        runFloor: async () => ((clock += floorMs), floorRun([1, 2], 10)),
      });
      // Rounds of 15 ms: after 3 rounds 45 ms < 50, after 4 rounds 60 ms.
      expect((await measureInterleaved(sides(10, 5), 2, 50)).runner).toHaveLength(4);
      // --runs wins when it asks for more.
      expect((await measureInterleaved(sides(10, 5), 6, 50)).runner).toHaveLength(6);
      expect((await measureInterleaved(sides(10, 5), 2, 0)).floor).toHaveLength(2);
      // A clock that never moves: MAX_ROUNDS ends it.
      expect((await measureInterleaved(sides(0, 0), 2, 1)).runner).toHaveLength(MAX_ROUNDS);
      // Concurrency rounds likewise: together runs of 6 ms after a warm-up (not counted in the
      // time) until 25 ms have passed, then as many runs of each column alone, after a warm-up.
      let calls = 0;
      const conc = {
        runAlone: async () => ((clock += 4), calls++, { dtype: 'a', tokens: 1, ms: 4 }),
        runTogether: async () => ((clock += 6), []),
      };
      expect(await measureConcurrency(conc, 2, 1, 25)).toHaveLength(5);
      expect(calls).toBe(2 * 6);
    } finally {
      now.mockRestore();
    }
  });

  it('under a Settle, goes on until the runs are settled or maxMs has passed, asking each tenth more rounds', async () => {
    let clock = 1000;
    const now = vi.spyOn(performance, 'now').mockImplementation(() => clock);
    try {
      const sides = {
        loadRunner: async () => 1,
        runRunner: async () => ((clock += 10), runnerRun([1, 2], 10)),
        loadFloor: async () => 1,
        runFloor: async () => ((clock += 10), floorRun([1, 2], 10)),
      };
      const asked: number[] = [];
      const settledFrom = (n: number) => ({
        maxMs: 60_000,
        settled: (runner: readonly RunnerRun[]) => (asked.push(runner.length), runner.length >= n),
      });
      // 5 runs, then asked at 5, 6 (ceil 5.5), 7, 8, 9, 10, 11, 13 (ceil 12.1): settled at 13.
      expect((await measureInterleaved(sides, 5, 0, { settle: settledFrom(12) })).runner).toHaveLength(13);
      expect(asked).toEqual([5, 6, 7, 8, 9, 10, 11, 13]);
      // Settled at once: no round past --runs.
      asked.length = 0;
      expect((await measureInterleaved(sides, 5, 0, { settle: settledFrom(0) })).runner).toHaveLength(5);
      expect(asked).toEqual([5]);
      // Never settled: rounds of 20 ms stop once 300 ms have passed (15 rounds), --runs first.
      const never = { maxMs: 300, settled: () => false };
      expect((await measureInterleaved(sides, 5, 0, { settle: never })).runner).toHaveLength(15);
      expect((await measureInterleaved(sides, 20, 0, { settle: never })).runner).toHaveLength(20);
      // A clock that never moves: MAX_ROUNDS ends it.
      clock = 1000;
      const frozen = {
        ...sides,
        runRunner: async () => runnerRun([1, 2], 10),
        runFloor: async () => floorRun([1, 2], 10),
      };
      expect((await measureInterleaved(frozen, 5, 0, { settle: never })).runner).toHaveLength(MAX_ROUNDS);
    } finally {
      now.mockRestore();
    }
  });

  it("settles a case's decode ratio once its interval is within ±5 %", () => {
    const b = [100, 200, 300, 400, 500, 600];
    // Every pair 0.9: settled from five pairs on, not with four.
    expect(
      ratioSettled(
        b.map((x) => 0.9 * x),
        b,
      ),
    ).toBe(true);
    expect(
      ratioSettled(
        b.slice(0, 4).map((x) => 0.9 * x),
        b.slice(0, 4),
      ),
    ).toBe(false);
    // Pairs 0.8 and 1.2 in turn: the interval spans them, far wider than ±5 %.
    expect(
      ratioSettled(
        b.map((x, i) => (i % 2 ? 1.2 : 0.8) * x),
        b,
      ),
    ).toBe(false);
    // settleOf: nothing without --max-time; with it, the decode tokens/s of each side.
    expect(settleOf({ maxMs: 0 })).toBeUndefined();
    const s = settleOf({ maxMs: 5000 })!;
    expect(s.maxMs).toBe(5000);
    const runs = (k: number) => b.map((x) => runnerRun([1, 2], k * x));
    const floors = b.map((x) => floorRun([1, 2], x));
    const oneLoad = b.map(() => 0);
    expect(s.settled(runs(0.97), floors, oneLoad)).toBe(true);
    // Two loads, at 0.97 and 0.80 of the floor: each steady, but the interval over loads is wide.
    expect(
      s.settled(
        runs(0.97).map((r, i) => (i < 3 ? r : { ...r, decodeTokensPerS: 0.8 * b[i] })),
        floors,
        [0, 0, 0, 1, 1, 1],
      ),
    ).toBe(false);
    expect(
      s.settled(
        runs(0.97).map((r, i) => (i % 2 ? { ...r, decodeTokensPerS: 2 * r.decodeTokensPerS } : r)),
        floors,
        oneLoad,
      ),
    ).toBe(false);
  });

  it('shares the rounds over fresh loads under --loads, unloading both sides between them', async () => {
    const calls: string[] = [];
    let clock = 1000;
    const now = vi.spyOn(performance, 'now').mockImplementation(() => clock);
    try {
      const sides = {
        loadRunner: async () => (calls.push('loadRunner'), 10),
        runRunner: async () => ((clock += 10), calls.push('runner'), runnerRun([1, 2], 10)),
        loadFloor: async () => (calls.push('loadFloor'), 5),
        runFloor: async () => ((clock += 10), calls.push('floor'), floorRun([1, 2], 10)),
        unload: async () => void calls.push('unload'),
      };
      // 5 runs over 2 loads: the first load until ceil(5 / 2) = 3 rounds, the second to 5.
      const m = await measureInterleaved(sides, 5, 0, { loads: 2 });
      expect(m.loads).toEqual([0, 0, 0, 1, 1]);
      const load = ['loadRunner', 'runner', 'loadFloor', 'floor'];
      expect(calls).toEqual([
        ...load,
        ...['runner', 'floor', 'floor', 'runner', 'runner', 'floor'],
        'unload',
        ...load,
        ...['runner', 'floor', 'floor', 'runner'],
      ]);
      // The settle rule applies in the last load only, over every round so far.
      const seen: number[][] = [];
      const settle = {
        maxMs: 60_000,
        settled: (_r: unknown, _f: unknown, l: readonly number[]) => (seen.push([...l]), true),
      };
      const s = await measureInterleaved(sides, 4, 0, { loads: 2, settle });
      expect(s.loads).toEqual([0, 0, 1, 1]);
      expect(seen).toEqual([[0, 0, 1, 1]]);
      // One load: no `loads` field; more loads than runs: refused.
      expect((await measureInterleaved(sides, 2, 0)).loads).toBeUndefined();
      await expect(measureInterleaved(sides, 2, 0, { loads: 3 })).rejects.toThrow(
        /loads must be a whole number from 1 to runs \(2\)/,
      );
    } finally {
      now.mockRestore();
    }
  });

  it('refuses a run that ended before a second token', async () => {
    const sides = {
      loadRunner: async () => 1,
      runRunner: async () => runnerRun([5], 0),
      loadFloor: async () => 1,
      runFloor: async () => floorRun([5], 0),
    };
    await expect(measureInterleaved(sides, 1)).rejects.toThrow(/stopped after 1 new token/);
    await expect(measureInterleaved(sides, 0)).rejects.toThrow(/runs must be/);
  });
});

describe('benchRow', () => {
  it('takes medians and spread of the measured runs and divides the medians', () => {
    const m = {
      loadMs: 120,
      floorLoadMs: 80,
      runner: [runnerRun([1, 2, 3], 90, 20), runnerRun([1, 2, 3], 100, 10), runnerRun([1, 2], 120, 30)],
      floor: [floorRun([1, 2, 3], 110, 8), floorRun([1, 2, 3], 125, 6), floorRun([1, 2], 100, 4)],
    };
    const row = benchRow('q4', 'node', m, { runnerBytes: 1000, allBytes: 1500 });
    expect(row).toEqual({
      dtype: 'q4',
      runtime: 'node',
      runs: 3,
      load_ms: 120,
      ttft_ms: 20, // median of 20, 10, 30
      prefill_tokens_per_s: 150, // prefill 3 tokens: 150, 300, 100 tok/s -> median 150
      decode_tokens_per_s: 100,
      decode_min: 90,
      decode_max: 120,
      floor_decode_tokens_per_s: 110,
      floor_ttft_ms: 6,
      floor_prefill_tokens_per_s: 500, // 375, 500, 750
      floor_decode_min: 100,
      floor_decode_max: 125,
      floor_load_ms: 80,
      decode_iqr: 15, // sorted 90 100 120: q1 95, q3 110
      floor_decode_iqr: 12.5, // sorted 100 110 125: q1 105, q3 117.5
      // Rounds 90/110, 100/125, 120/100: their median 0.818; the medians' ratio 100/110 beside it.
      ratio: 90 / 110,
      ratio_of_medians: 100 / 110,
      ratio_ci_low: null, // 3 runs: under RATIO_CI_MIN_RUNS
      ratio_ci_high: null,
      loads: 1,
      load_ratios: [90 / 110],
      // No step times recorded (runner) or none in a run (floor): no step figures.
      step_ms: null,
      floor_step_ms: null,
      longest_step_ms: null,
      floor_longest_step_ms: null,
      step_ratio: null,
      step_ratio_ci_low: null,
      step_ratio_ci_high: null,
      // The runner's runs did not say how they kept the cache; the floor's all held it.
      kv_path: null,
      floor_kv_path: 'host',
      peak_memory_bytes: 1000,
      peak_memory_with_floor_bytes: 1500,
      generated_tokens: 2,
      same_ids: true,
      // Each run as measured, pairs aligned.
      decode_runs: [90, 100, 120],
      floor_decode_runs: [110, 125, 100],
    });
    const differs = benchRow(
      'q4',
      'node',
      { ...m, floor: [floorRun([1, 2, 4], 1), ...m.floor.slice(1)] },
      { runnerBytes: 1, allBytes: 1 },
    );
    expect(differs.same_ids).toBe(false);
    // Runs that kept the cache one way and the other: 'mixed'; all alike: that way.
    const paths = (...p: ('host' | 'present')[]) =>
      benchRow(
        'q4',
        'node',
        { ...m, runner: m.runner.map((r, i) => ({ ...r, kvPath: p[i] })) },
        { runnerBytes: 1, allBytes: 1 },
      ).kv_path;
    expect(paths('host', 'present', 'host')).toBe('mixed');
    expect(paths('present', 'present', 'present')).toBe('present');
  });

  it('takes the median step and the median longest step over runs, and prints them', () => {
    // Runner: one run steady at 1 ms, two with one 40 ms pause; floor: steady, one 3 ms step.
    const m = {
      loadMs: 1,
      floorLoadMs: 1,
      runner: [
        runnerRun([1, 2, 3, 4], 1000, 10, [1, 1, 1]),
        runnerRun([1, 2, 3, 4], 50, 10, [1, 40, 1.2]),
        runnerRun([1, 2, 3, 4], 48, 10, [0.9, 1.1, 40.5]),
      ],
      floor: [
        floorRun([1, 2, 3, 4], 1000, 5, [1, 1, 1]),
        floorRun([1, 2, 3, 4], 900, 5, [0.9, 0.95, 3]),
        floorRun([1, 2, 3, 4], 1100, 5, [0.8, 0.9, 1]),
      ],
    };
    const row = benchRow('fp32', 'browser-wasm', m, { runnerBytes: 1, allBytes: 1 });
    // Per-run medians 1, 1.2, 1.1 -> 1.1; longest 1, 40, 40.5 -> 40.
    expect(row.step_ms).toBeCloseTo(1.1, 12);
    expect(row.longest_step_ms).toBe(40);
    // Floor medians 1, 0.95, 0.9 -> 0.95; longest 1, 3, 1 -> 1.
    expect(row.floor_step_ms).toBeCloseTo(0.95, 12);
    expect(row.floor_longest_step_ms).toBe(1);
    // Step ratio: each round's floor step over its runner step, 1/1, 0.95/1.2 and 0.9/1.1, median
    // 0.9/1.1 (not the medians' 0.95/1.1); 3 runs give no interval.
    expect(row.step_ratio).toBeCloseTo(0.9 / 1.1, 12);
    expect([row.step_ratio_ci_low, row.step_ratio_ci_high]).toEqual([null, null]);
    expect(benchRowExtras([row])).toContain(
      'fp32 browser-wasm: decode step 1.100 ms median (floor 0.950; step ratio 0.818), longest step a run 40.0 ms median (floor 1.0); KV cache ? (floor host)',
    );
    // A floor run without step times: no figures for that side.
    const partial = benchRow(
      'fp32',
      'node',
      { ...m, floor: [floorRun([1, 2, 3, 4], 1), ...m.floor.slice(1)] },
      {
        runnerBytes: 1,
        allBytes: 1,
      },
    );
    expect([partial.floor_step_ms, partial.floor_longest_step_ms]).toEqual([null, null]);
    expect(partial.step_ms).toBeCloseTo(1.1, 12);
    expect([partial.step_ratio, partial.step_ratio_ci_low]).toEqual([null, null]);
  });

  it('gives the step ratio an interval that ignores pauses the tokens/s ratio cannot', () => {
    // 40 pairs: each side's steps 1.0 ms (runner) and 0.9 ms (floor) with a small alternating wobble,
    // and every other run of both sides stalled by a 100 ms pause (its tokens/s cut to a fifth).
    const runner: RunnerRun[] = [];
    const floor: FloorResult[] = [];
    for (let i = 0; i < 40; i++) {
      const w = i % 4 < 2 ? 1.01 : 0.99;
      const stalled = (k: number) => (k % 2 === 0 ? 1 : 0.2);
      runner.push(runnerRun([1, 2, 3], 1000 * stalled(i), 10, [1 * w, 1 * w, 1 * w, 100]));
      floor.push(floorRun([1, 2, 3], 1111 * stalled(i + 1), 5, [0.9 * w, 0.9 * w, 0.9 * w, 100]));
    }
    const row = benchRow(
      'fp32',
      'browser-wasm',
      { loadMs: 1, floorLoadMs: 1, runner, floor },
      {
        runnerBytes: 1,
        allBytes: 1,
      },
    );
    // By hand: every run's median step is 1.01 or 0.99 (runner), 0.909 or 0.891 (floor), each half
    // of the runs, so either side's median is the mean of the two: 1.0 and 0.9.
    expect(row.step_ratio).toBeCloseTo(0.9, 12);
    expect(row.step_ratio_ci_low!).toBeGreaterThan(0.9 * 0.97);
    expect(row.step_ratio_ci_high!).toBeLessThan(0.9 * 1.03);
    // The tokens/s of either side is bimodal (1000 / 200, 1111 / 222): its interval spans the modes.
    expect(row.ratio_ci_high! / row.ratio_ci_low!).toBeGreaterThan(2);
    expect(row.decode_runs).toHaveLength(40);
    expect(row.floor_decode_runs[0]).toBeCloseTo(222.2, 6);
  });
});

describe('the ratio interval in a row and its warnings', () => {
  it("bootstraps the interval from five runs on, around the median of the rounds' ratios", () => {
    // Every runner run 0.9 of the floor run it was paired with: the interval is 0.9 exactly.
    const decode = [100, 300, 150, 250, 200];
    const m = {
      loadMs: 1,
      floorLoadMs: 1,
      runner: decode.map((d) => runnerRun([1, 2], 0.9 * d)),
      floor: decode.map((d) => floorRun([1, 2], d)),
    };
    const row = benchRow('fp32', 'browser-wasm', m, { runnerBytes: 1, allBytes: 1 });
    expect(row.ratio).toBeCloseTo(0.9, 12);
    expect(row.ratio_ci_low).toBeCloseTo(0.9, 12);
    expect(row.ratio_ci_high).toBeCloseTo(0.9, 12);
    expect(ratioWarnings([row])).toEqual([]);
  });

  it('gives each load its own ratio and an interval over the loads', () => {
    // Load 0: rounds at 0.9 of the floor; load 1: at 1.0. Load ratios 0.9 and 1.0; the pooled
    // median of 3 x 0.9 and 3 x 1.0 is 0.95, and resampling the two loads spans 0.9-1.0.
    const decode = [100, 200, 300, 400, 500, 600];
    const m = {
      loadMs: 1,
      floorLoadMs: 1,
      runner: decode.map((d, i) => runnerRun([1, 2], (i < 3 ? 0.9 : 1) * d)),
      floor: decode.map((d) => floorRun([1, 2], d)),
      loads: [0, 0, 0, 1, 1, 1],
    };
    const row = benchRow('fp32', 'browser-wasm', m, { runnerBytes: 1, allBytes: 1 });
    expect(row.loads).toBe(2);
    expect(row.load_ratios.map((x) => x.toFixed(12))).toEqual([(0.9).toFixed(12), (1).toFixed(12)]);
    expect(row.ratio).toBeCloseTo(0.95, 12);
    expect(row.ratio_ci_low).toBeCloseTo(0.9, 12);
    expect(row.ratio_ci_high).toBeCloseTo(1, 12);
    // One load: its ratio is the row's.
    const one = benchRow('fp32', 'browser-wasm', { ...m, loads: undefined }, { runnerBytes: 1, allBytes: 1 });
    expect([one.loads, one.load_ratios]).toEqual([1, [one.ratio]]);
  });

  it('warns when the interval is wider than ±5 % (with the runs that would narrow it) or missing', () => {
    const base = benchRow(
      'q8',
      'browser-wasm',
      { loadMs: 1, floorLoadMs: 1, runner: [runnerRun([1, 2], 1)], floor: [floorRun([1, 2], 1)] },
      { runnerBytes: 1, allBytes: 1 },
    );
    const wide = { ...base, runs: 20, ratio: 1, ratio_ci_low: 0.92, ratio_ci_high: 1.1 };
    const narrow = { ...base, runs: 20, ratio: 1, ratio_ci_low: 0.97, ratio_ci_high: 1.04 };
    expect(ratioHalfWidth(wide)).toBeCloseTo(0.1, 12);
    const [w, few] = ratioWarnings([wide, narrow, base]);
    // ±10 % after 20 runs: (0.10 / 0.05)^2 * 20 = 80 runs.
    expect(w).toMatch(
      /^q8 browser-wasm: the ratio's 95 % interval 0\.920-1\.100 is ±10\.0 %, wider than ±5 %; about 80 runs \(now 20\)/,
    );
    expect(few).toMatch(/^q8 browser-wasm: 1 run\(s\), too few for a confidence interval/);
    expect(ratioWarnings([wide, narrow, base])).toHaveLength(2);
    // Over 3 loads at 0.93, 1.0 and 1.06: the loads, not the rounds, need raising.
    const loads = { ...wide, loads: 3, load_ratios: [0.93, 1.0, 1.06] };
    expect(ratioWarnings([loads])[0]).toMatch(
      /±10\.0 %, wider than ±5 %; its 3 loads gave 0\.930-1\.060; about 12 loads would narrow it \(raise --loads\)$/,
    );
  });
});

describe('concurrency', () => {
  it('runs all columns together, then each alone, each phase after its warm-up, and pairs the runs', async () => {
    const calls: string[] = [];
    let n = 0;
    const rounds = await measureConcurrency(
      {
        prepareTogether: async () => void calls.push('prepareTogether'),
        runTogether: async () => (calls.push('together'), [{ dtype: 'd0', tokens: ++n, startMs: 0, endMs: 1 }]),
        prepareAlone: async (i) => void calls.push(`prepare${i}`),
        runAlone: async (i) => (calls.push(`alone${i}`), { dtype: `d${i}`, tokens: ++n, ms: 1 }),
      },
      2,
      2,
    );
    expect(calls).toEqual([
      'prepareTogether',
      'together',
      'together',
      'together',
      'prepare0',
      'alone0',
      'alone0',
      'alone0',
      'prepare1',
      'alone1',
      'alone1',
      'alone1',
    ]);
    // Tokens count the calls: together 1 (warm-up), 2, 3; column 0 alone 4 (warm-up), 5, 6; column 1 alone 7 (warm-up), 8, 9.
    expect(rounds.map((r) => [r.together[0].tokens, ...r.alone.map((a) => a.tokens)])).toEqual([
      [2, 5, 8],
      [3, 6, 9],
    ]);
  });

  it('compares the tokens of all columns over their common wall time with one column at a time', () => {
    const round = (aloneMs: [number, number], end: [number, number]) => ({
      alone: [
        { dtype: 'fp32', tokens: 64, ms: aloneMs[0] },
        { dtype: 'q4', tokens: 32, ms: aloneMs[1] },
      ],
      together: [
        { dtype: 'fp32', tokens: 64, startMs: 100, endMs: 100 + end[0] },
        { dtype: 'q4', tokens: 32, startMs: 101, endMs: 100 + end[1] },
      ],
    });
    // Round 1: alone 96 tokens in 1000 + 600 ms = 60 tok/s; together 96 tokens from 100 to 1300 ms = 80 tok/s.
    // Round 2: alone 96 tokens in 800 + 400 ms = 80 tok/s; together from 100 to 1060 ms: 96 / 0.96 s = 100 tok/s.
    // Round 3: alone 96 tokens in 1600 + 800 ms = 40 tok/s; together from 100 to 2500 ms = 40 tok/s.
    const r = concurrencyResult('browser-wasm', [
      round([1000, 600], [1200, 800]),
      round([800, 400], [960, 500]),
      round([1600, 800], [2400, 1000]),
    ]);
    expect(r.columns).toEqual(['fp32', 'q4']);
    expect(r.runs).toBe(3);
    expect(r.single_tokens_per_s).toBeCloseTo(60, 9); // median of 60, 80, 40
    expect(r.aggregate_tokens_per_s).toBeCloseTo(80, 9); // median of 80, 100, 40
    expect(r.ratio).toBeCloseTo(80 / 60, 9);
    expect(r.aggregate_ratio).toBe(r.ratio);
    // fp32 alone: 64 tokens in 1000, 800, 1600 ms -> 64, 80, 40 tok/s; together in 1200, 960, 2400 ms -> 53.33, 66.67, 26.67.
    expect(r.per_column[0].alone_tokens_per_s).toBeCloseTo(64, 9);
    expect(r.per_column[0].concurrent_tokens_per_s).toBeCloseTo(64000 / 1200, 9);
    // q4 together: 32 tokens from 101 to 900, 600, 1100 -> 799, 499, 999 ms; median 799 ms.
    expect(r.per_column[1].concurrent_tokens_per_s).toBeCloseTo(32000 / 799, 9);
  });
});

describe('the table', () => {
  it('aligns text left and figures right', () => {
    expect(
      alignTable(
        [
          ['a', 'bb', '1'],
          ['ccc', 'd', '100'],
        ],
        2,
      ),
    ).toBe('a    bb    1\nccc  d   100');
  });

  it('prints each row with its figures, notes and the concurrency line', () => {
    const m = {
      loadMs: 1234.4,
      floorLoadMs: 1,
      runner: [runnerRun([1, 2], 95.04, 12.34)],
      floor: [floorRun([1, 2], 100, 5)],
    };
    const report: BenchReport = {
      model: 'm',
      runs: 1,
      min_time_s: 0,
      prompt_tokens: 3,
      new_tokens: 4,
      results: [benchRow('fp32', 'browser-wasm', m, { runnerBytes: 3 * 2 ** 20, allBytes: 4 * 2 ** 20 })],
      concurrency: {
        node: concurrencyResult('node', [
          {
            alone: [{ dtype: 'fp32', tokens: 10, ms: 1000 }],
            together: [{ dtype: 'fp32', tokens: 10, startMs: 0, endMs: 500 }],
          },
        ]),
      },
    };
    const t = formatBenchTable(report);
    const line = t.split('\n').find((l) => l.startsWith('fp32'))!;
    expect(t.split('\n')[0]).toBe(
      'm: 3-token prompt, 4 new tokens (greedy), median of 1 run(s) after a warm-up; runner and floor interleaved (ABBA)',
    );
    expect(formatBenchTable({ ...report, runs: 5, min_time_s: 20 }).split('\n')[0]).toContain(
      'median of at least 5 run(s) and 20 s per precision',
    );
    expect(line.split(/\s+/)).toEqual([
      'fp32',
      'browser-wasm',
      '1',
      '1234',
      '12.3',
      '243',
      '95.0',
      '95.0-95.0',
      '0.0', // IQR of one run
      '100.0',
      '5.0',
      '0.950',
      '-', // no interval from one run
      '3',
      'yes',
    ]);
    expect(t).toContain('fp32 browser-wasm ended the text after 2 new tokens');
    expect(t).toContain(
      'node concurrency, 1 columns (fp32): together 20.0 tok/s, one at a time 10.0 tok/s, ratio 2.00',
    );
  });
});

describe('greedyParams', () => {
  it('asks for greedy decoding with no penalty', () => {
    expect(greedyParams('hi', 5)).toEqual({
      prompt: 'hi',
      maxNewTokens: 5,
      temperature: 0,
      topK: 0,
      topP: 1,
      repetitionPenalty: 1,
      seed: 0,
    });
  });
});
