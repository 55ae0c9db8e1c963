// Checks a result row of a `quantlab bench --json` report: every field present, finite and
// positive, ratio = decode / floor decode, and the floor's greedy ids equal to the runner's.
import { expect } from 'vitest';

const NUMBERS = [
  'runs',
  'load_ms',
  'ttft_ms',
  'prefill_tokens_per_s',
  'decode_tokens_per_s',
  'decode_min',
  'decode_max',
  'floor_decode_tokens_per_s',
  'floor_ttft_ms',
  'floor_prefill_tokens_per_s',
  'floor_decode_min',
  'floor_decode_max',
  'floor_load_ms',
  'ratio',
  'peak_memory_bytes',
  'peak_memory_with_floor_bytes',
  'generated_tokens',
];

export function checkRow(row: Record<string, unknown>, runtime: string, newTokens: number): void {
  const where = `${row.dtype} ${runtime}`;
  expect(row.runtime, where).toBe(runtime);
  for (const k of NUMBERS) {
    expect(typeof row[k], `${where} ${k}`).toBe('number');
    expect(Number.isFinite(row[k]), `${where} ${k}`).toBe(true);
    expect(row[k] as number, `${where} ${k}`).toBeGreaterThan(0);
  }
  const n = row as Record<string, number>;
  expect(n.ratio, where).toBeCloseTo(n.decode_tokens_per_s / n.floor_decode_tokens_per_s, 12);
  expect(n.decode_min, where).toBeLessThanOrEqual(n.decode_tokens_per_s);
  expect(n.decode_max, where).toBeGreaterThanOrEqual(n.decode_tokens_per_s);
  expect(n.peak_memory_with_floor_bytes, where).toBeGreaterThanOrEqual(n.peak_memory_bytes);
  expect(n.generated_tokens, where).toBe(newTokens);
  expect(row.same_ids, `${where}: the floor's greedy ids differ from the runner's`).toBe(true);
}
