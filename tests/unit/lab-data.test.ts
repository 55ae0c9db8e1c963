// The quality lab's pure pieces: form fields to a sweep grid (messages naming the field and the
// value), and the data its charts draw (series with min-max bands, the heatmap grid, KLD bars,
// size-vs-quality points), checked against values written out by hand.
import { describe, expect, it } from 'vitest';
import {
  gridAxes,
  heatmapGrid,
  kldBars,
  mergePoints,
  temperatureSeries,
  textTag,
  type SizeQualityPoint,
} from '../../src/lib/eval/lab-charts';
import { checkForm, FieldError, gridFromFields, parseCtx } from '../../src/lib/eval/lab-inputs';
import type { QualityReport } from '../../src/lib/eval/quality';
import type { SweepRow } from '../../src/lib/eval/sweep';
import { aggregateSweep } from '../../src/lib/eval/tables';

const FIELDS = {
  prompt: 'I dreamed',
  temperatures: '0, 0.5',
  topKs: '5, off',
  topPs: '1',
  maxNewTokens: '8',
  seeds: '3',
};

function row(dtype: string, temperature: number, top_k: number, seed: number, identical_pct: number): SweepRow {
  return {
    dtype,
    temperature,
    top_k,
    top_p: 1,
    max_new_tokens: 8,
    seed,
    length: 8,
    prefix_match: 0,
    identical_pct,
    distinct_1: 1,
    distinct_2: 1,
    repetition_rate: 0,
    ref_ppl: 2,
    text: '',
  };
}

describe('lab form fields', () => {
  it('parses lists, "off" as top-k 0, and seeds 0 .. n-1', () => {
    expect(gridFromFields(FIELDS)).toEqual({
      prompt: 'I dreamed',
      temperatures: [0, 0.5],
      topKs: [5, 0],
      topPs: [1],
      maxNewTokens: [8],
      seeds: [0, 1, 2],
    });
  });
  it.each([
    [{ temperatures: '0, hot' }, 'temperatures: "hot" is not a number'],
    [{ temperatures: ' , ' }, 'temperatures: give at least one value'],
    [{ temperatures: '-1' }, 'temperatures: -1 is not a number from 0 to 2'],
    [{ temperatures: '99' }, 'temperatures: 99 is not a number from 0 to 2'],
    [{ topKs: '2.5' }, 'top-k: 2.5 is not a whole number from 0 to 200'],
    [{ topKs: '1e9' }, 'top-k: 1e9 is not a whole number from 0 to 200'],
    [{ topPs: 'NaN' }, 'top-p: "NaN" is not a number'],
    [{ topPs: '1.5' }, 'top-p: 1.5 is not a number from 0.05 to 1'],
    [{ topPs: '0.5, 0.5' }, 'top-p: 0.5 is listed twice'],
    [{ seeds: '0' }, 'Seeds per cell must be a whole number >= 1 (got "0")'],
    [{ maxNewTokens: '0' }, 'max new tokens: 0 is not a whole number from 1 to 1,024'],
    [{ maxNewTokens: Array.from({ length: 40 }, (_, i) => i + 1).join(',') }, 'max new tokens: 40 values is too many'],
    [{ temperatures: '1'.repeat(2000) }, 'temperatures: 2,000 characters is too long'],
    [{ seeds: '1000000' }, 'This sweep is too large: 4,000,000 runs (4 cells x 1,000,000 seeds)'],
  ])('rejects %o', (patch, message) => {
    expect(() => gridFromFields({ ...FIELDS, ...patch })).toThrow(message);
  });
  it('"off" is a number only for top-k', () => {
    expect(gridFromFields({ ...FIELDS, topKs: 'off, 3' }).topKs).toEqual([0, 3]);
    expect(() => gridFromFields({ ...FIELDS, temperatures: 'off' })).toThrow('"off" is not a number');
  });
  it('names the field of each message, and the seeds that would fit', () => {
    const err = (patch: Partial<typeof FIELDS>, precisions = 1) => {
      try {
        gridFromFields({ ...FIELDS, ...patch }, precisions);
      } catch (e) {
        return e as FieldError;
      }
      throw new Error('accepted');
    };
    expect(err({ topPs: '2' }).field).toBe('topPs');
    // 1 temperature x 1 top-k x ... = 1 cell, 2 precisions: 20,000 rows allow 10,000 seeds.
    const big = err({ temperatures: '0', topKs: '0', seeds: '1000000' }, 2);
    expect(big.field).toBe('seeds');
    expect(big.message).toBe(
      'This sweep is too large: 1,000,000 runs (1 cell x 1,000,000 seeds) x 2 precisions = 2,000,000 rows, ' +
        'at most 16 new tokens, over the limit of 20,000 rows.',
    );
    expect(big.detail).toContain('Use at most 10,000 Seeds per cell');
    expect(gridFromFields({ ...FIELDS, temperatures: '0', topKs: '0', seeds: '10000' }, 2).seeds).toHaveLength(10_000);
  });
  it('checks the whole form at once without throwing, with the plan when it is usable', () => {
    const ok = checkForm(FIELDS, '', 2);
    expect(ok.messages).toEqual({});
    expect(ok.plan).toMatchObject({ cells: 4, runs: 12, rows: 24 });
    const bad = checkForm({ ...FIELDS, temperatures: '99', seeds: 'x' }, '-4', 2);
    expect(Object.keys(bad.messages).sort()).toEqual(['ctx', 'seeds', 'temperatures']);
    expect(bad.plan).toBeUndefined();
    expect(checkForm({ ...FIELDS, seeds: '1000000' }, '', 2).messages.seeds).toBe(
      'At most 2,500 seeds per cell with this grid and 2 precisions.',
    );
  });
  it('reads the window field: empty is automatic, else 3 .. 2048', () => {
    expect(parseCtx('')).toBeUndefined();
    expect(parseCtx(' 128 ')).toBe(128);
    expect(() => parseCtx('-4')).toThrow('Window (tokens) must be a whole number >= 3 (got "-4")');
    expect(() => parseCtx('100000')).toThrow('Window (tokens) must be at most 2,048 (got 100,000)');
  });
});

describe('lab chart data', () => {
  // q4 at T=0.5, top-k 5: seeds give 50, 70, 90 -> mean 70, band 50..90.
  const rows = [
    ...[0, 1, 2].flatMap((s) => [
      row('fp32', 0, 5, s, 100),
      row('q4', 0, 5, s, 80),
      row('fp32', 0.5, 5, s, 100),
      row('q4', 0.5, 5, s, 50 + 20 * s),
    ]),
    ...[0, 1, 2].flatMap((s) => [row('fp32', 0.5, 0, s, 100), row('q4', 0.5, 0, s, 10)]),
  ];
  const aggs = aggregateSweep(rows);

  it('lists axes with top-k off last', () => {
    expect(gridAxes(aggs)).toEqual({
      temperatures: [0, 0.5],
      topKs: [5, 0],
      topPs: [1],
      maxNewTokens: [8],
      dtypes: ['fp32', 'q4'],
    });
  });
  it('gives each precision its mean line and min-max band against temperature', () => {
    const s = temperatureSeries(aggs, 'identical_pct', { topK: 5, topP: 1, maxNewTokens: 8 });
    expect(s.temperatures).toEqual([0, 0.5]);
    expect(s.series[1]).toEqual({ dtype: 'q4', mean: [80, 70], lo: [80, 50], hi: [80, 90] });
    // top-k off has no T=0 cell: a gap, not a zero.
    expect(temperatureSeries(aggs, 'identical_pct', { topK: 0, topP: 1, maxNewTokens: 8 }).series[1].mean).toEqual([
      null,
      10,
    ]);
  });
  it('fills the temperature x top-k grid with means, null where the grid has no cell', () => {
    expect(heatmapGrid(aggs, 'q4', 'identical_pct', { topP: 1, maxNewTokens: 8 })).toEqual({
      temperatures: [0, 0.5],
      topKs: [5, 0],
      values: [
        [80, null],
        [70, 10],
      ],
    });
  });
  it('draws KLD bars for compared precisions only (not the baseline, not errors or other tokenizers)', () => {
    const entry = (kld_mean: number, comparable = true) => ({
      kld_mean,
      kld_se: kld_mean / 10,
      kld_p99: kld_mean * 5,
      comparable,
    });
    const report = {
      baseline: 'fp32',
      results: {
        fp32: entry(0),
        q8: entry(0.001),
        q4: entry(0.02),
        other: entry(NaN, false),
        bad: { error: { code: 'internal', message: 'x' } },
      },
    } as unknown as QualityReport;
    expect(kldBars(report)).toEqual([
      { dtype: 'q8', mean: 0.001, se: 0.0001, p99: 0.005 },
      { dtype: 'q4', mean: 0.02, se: 0.002, p99: 0.1 },
    ]);
  });
  it('keeps the newest point per model, precision, text and window', () => {
    const p = (precision: string, bits: number, at: string): SizeQualityPoint => ({
      modelKey: 'local:a',
      model: 'a',
      precision,
      bytes: 1000,
      bits_per_byte: bits,
      ppl: 2,
      text: 'sample',
      ctx: 64,
      at,
    });
    const merged = mergePoints(
      [p('q4', 1, 'old'), p('q8', 2, 'old')],
      [p('q4', 3, 'new'), { ...p('fp32', NaN, 'new') }],
    );
    expect(merged.map((x) => [x.precision, x.bits_per_byte])).toEqual([
      ['q4', 3],
      ['q8', 2],
    ]);
  });
  it('tags texts by content', () => {
    expect(textTag('abc')).toBe(textTag('abc'));
    expect(textTag('abc')).not.toBe(textTag('abd'));
    expect(textTag('abc')).toMatch(/\(3 chars\)$/);
  });
});
