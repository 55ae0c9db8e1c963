// The latency panel's figures: each column's speeds beside the floor (a raw ONNX Runtime loop on
// the same session) and beside the memory-bandwidth ceiling — decoding one token reads every
// weight once, so tokens/s can never exceed bandwidth / bytes of weights. Pure, so the panel only
// shows numbers computed (and tested) here.

import { QuantlabError } from '../errors';
import type { Timings } from '../runner/types';

/** Bandwidth the ceiling assumes when the user has not set one: dual-channel DDR4-3200 is ~51 GB/s peak, ~20-25 sustained. */
export const DEFAULT_BANDWIDTH_GBS = 20;
export const BANDWIDTH_RANGE = { min: 0.1, max: 10_000 } as const;

/** A floor measurement of one column: greedy playground decode and the raw loop, same tokens, same session. */
export interface FloorMeasurement {
  decodeTokensPerS: number;
  floorDecodeTokensPerS: number;
  newTokens: number;
}

export interface LatencyInput {
  label: string;
  timings: Timings | null;
  /** Bytes of the model file (the weights a token reads). */
  bytes?: number;
  floor?: FloorMeasurement | null;
}

export interface LatencyRow {
  label: string;
  loadMs: number | null;
  ttftMs: number | null;
  prefillTokensPerS: number | null;
  decodeTokensPerS: number | null;
  /** Raw loop tokens/s, and playground / raw (both greedy, measured together), when measured. */
  floorTokensPerS: number | null;
  floorRatio: number | null;
  /** bandwidth / bytes: the most tokens/s memory can feed. */
  ceilingTokensPerS: number | null;
  /** decode / ceiling. */
  ofCeiling: number | null;
}

/** Tokens/s that `gbPerS` of memory bandwidth allows when each token reads `bytes`. */
export function ceilingTokensPerS(bytes: number, gbPerS: number): number {
  if (!(bytes > 0) || !(gbPerS > 0))
    throw new QuantlabError('bad-argument', `Cannot compute a ceiling from ${bytes} bytes at ${gbPerS} GB/s`);
  return (gbPerS * 1e9) / bytes;
}

/** Reads the bandwidth field: a number of GB/s in range, or an error that says what is accepted. */
export function parseBandwidth(text: string): number {
  const v = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(v) || v < BANDWIDTH_RANGE.min || v > BANDWIDTH_RANGE.max) {
    throw new QuantlabError(
      'bad-argument',
      `Memory bandwidth must be a number of GB/s from ${BANDWIDTH_RANGE.min} to ${BANDWIDTH_RANGE.max} (got "${text}")`,
      `Typical figures: laptop DDR4/DDR5 20-60 GB/s, Apple M-series 100-400 GB/s, desktop GPU 300-1000 GB/s.`,
    );
  }
  return v;
}

/** One row per column that has loaded or generated. */
export function latencyRows(columns: readonly LatencyInput[], gbPerS: number): LatencyRow[] {
  return columns
    .filter((c) => c.timings !== null || c.floor)
    .map((c) => {
      const t = c.timings;
      const decode = t && t.decodeTokensPerS > 0 ? t.decodeTokensPerS : null;
      const ceiling = c.bytes && c.bytes > 0 ? ceilingTokensPerS(c.bytes, gbPerS) : null;
      const f = c.floor;
      return {
        label: c.label,
        loadMs: t ? t.loadMs : null,
        ttftMs: t ? t.ttftMs : null,
        prefillTokensPerS: t ? t.prefillTokensPerS : null,
        decodeTokensPerS: decode,
        floorTokensPerS: f ? f.floorDecodeTokensPerS : null,
        floorRatio: f && f.floorDecodeTokensPerS > 0 ? f.decodeTokensPerS / f.floorDecodeTokensPerS : null,
        ceilingTokensPerS: ceiling,
        ofCeiling: decode !== null && ceiling !== null ? decode / ceiling : null,
      };
    });
}

/**
 * The y-axis top every column's per-token chart shares (so columns compare by eye): the largest
 * ms/token of any column, rounded up to 1, 2, 2.5 or 5 times a power of ten; undefined with no tokens.
 */
export function sharedLatencyTop(lists: readonly (readonly number[])[]): number | undefined {
  let max = 0;
  for (const l of lists) for (const v of l) if (Number.isFinite(v) && v > max) max = v;
  if (max <= 0) return undefined;
  const p = 10 ** Math.floor(Math.log10(max));
  const step = [1, 2, 2.5, 5, 10].find((m) => m * p >= max - 1e-12)!;
  return Number((step * p).toPrecision(12));
}
