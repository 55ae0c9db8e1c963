import { describe, expect, it } from 'vitest';
import { ceilingTokensPerS, latencyRows, parseBandwidth, sharedLatencyTop } from '../../src/lib/page/latency';
import type { Timings } from '../../src/lib/runner/types';

const timings = (decode: number): Timings => ({
  loadMs: 120,
  ttftMs: 8,
  prefillTokensPerS: 500,
  decodeTokensPerS: decode,
  tokenMs: [],
});

describe('latency figures', () => {
  it('computes the bandwidth ceiling as bandwidth / bytes per token', () => {
    // SmolLM2-135M in fp32: 538,090,408 bytes; at 20 GB/s a token cannot take less than 26.9 ms.
    expect(ceilingTokensPerS(538_090_408, 20)).toBeCloseTo(20e9 / 538_090_408, 9);
    expect(ceilingTokensPerS(538_090_408, 20)).toBeCloseTo(37.168, 3);
    // Half the bytes (fp16), twice the ceiling.
    expect(ceilingTokensPerS(269_045_204, 20) / ceilingTokensPerS(538_090_408, 20)).toBeCloseTo(2, 12);
    expect(() => ceilingTokensPerS(0, 20)).toThrow(/ceiling/);
  });

  it('reads the bandwidth field and names what is wrong', () => {
    expect(parseBandwidth(' 25.6 ')).toBe(25.6);
    for (const bad of ['', 'fast', '-3', '0', 'NaN', '1e9'])
      expect(() => parseBandwidth(bad)).toThrow(
        `Memory bandwidth must be a number of GB/s from 0.1 to 10000 (got "${bad}")`,
      );
  });

  it('puts each column beside its floor and its ceiling', () => {
    const rows = latencyRows(
      [
        {
          label: 'fp32',
          timings: timings(30),
          bytes: 1e9,
          floor: { decodeTokensPerS: 19, floorDecodeTokensPerS: 20, newTokens: 64 },
        },
        { label: 'q4', timings: timings(50), bytes: 2.5e8 },
        { label: 'not run', timings: null, bytes: 1e8 },
        { label: 'size unknown', timings: timings(10) },
      ],
      10,
    );
    expect(rows.map((r) => r.label)).toEqual(['fp32', 'q4', 'size unknown']);
    // fp32: ceiling 10e9 / 1e9 = 10 tokens/s... decoding at 30 would be 300 % of it (a wrong bandwidth setting shows).
    expect(rows[0]).toMatchObject({
      loadMs: 120,
      ttftMs: 8,
      prefillTokensPerS: 500,
      decodeTokensPerS: 30,
      floorTokensPerS: 20,
      ceilingTokensPerS: 10,
    });
    expect(rows[0].floorRatio).toBeCloseTo(0.95, 12);
    expect(rows[0].ofCeiling).toBeCloseTo(3, 12);
    expect(rows[1]).toMatchObject({ floorTokensPerS: null, floorRatio: null, ceilingTokensPerS: 40 });
    expect(rows[1].ofCeiling).toBeCloseTo(1.25, 12);
    expect(rows[2]).toMatchObject({ ceilingTokensPerS: null, ofCeiling: null });
  });
});

describe('sharedLatencyTop', () => {
  it('rounds the largest ms/token of any column up to 1, 2, 2.5 or 5 times a power of ten', () => {
    expect(sharedLatencyTop([[1.2, 3.4], [13.7]])).toBe(20);
    expect(sharedLatencyTop([[4.2], [0.5]])).toBe(5);
    expect(sharedLatencyTop([[2.1]])).toBe(2.5);
    expect(sharedLatencyTop([[100]])).toBe(100);
    expect(sharedLatencyTop([[0.031]])).toBe(0.05);
  });
  it('is undefined before any column has a token (each chart then fits itself)', () => {
    expect(sharedLatencyTop([[], []])).toBeUndefined();
    expect(sharedLatencyTop([])).toBeUndefined();
  });
});
