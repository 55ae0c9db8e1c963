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
import { gridFromFields, parseNumberList } from '../../src/lib/eval/lab-inputs';
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
    [{ temperatures: '-1' }, 'temperatures: -1 is not a number >= 0'],
    [{ topKs: '2.5' }, 'top-k: 2.5 is not a whole number >= 0'],
    [{ topPs: 'NaN' }, 'top-p: "NaN" is not a number'],
    [{ topPs: '1.5' }, 'top-p: 1.5 is not in (0, 1]'],
    [{ seeds: '0' }, 'Seeds per cell must be a whole number >= 1 (got "0")'],
    [{ maxNewTokens: '0' }, 'max new tokens: 0 is not a whole number >= 1'],
  ])('rejects %o', (patch, message) => {
    expect(() => gridFromFields({ ...FIELDS, ...patch })).toThrow(message);
  });
  it('"off" is a number only for top-k', () => {
    expect(parseNumberList('off, 3', 'top-k', '')).toEqual([0, 3]);
    expect(() => parseNumberList('off', 'temperatures', '')).toThrow('"off" is not a number');
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
