// The Quantize dialog's layer-sensitivity and budget fields as the builder's calls: the spec a
// measurement uses, whether a report in hand can plan a mixed file with these settings, the budget
// field's range (from the report's weights, or from the widths alone before one is measured) and
// its message at the field, and the one q4 request the mixed file is written with.

import { budgetRange } from '../quantize/mixed';
import type { GridBits } from '../quantize/grid';
import type { SensitivityReport, SensitivitySpec } from '../quantize/sensitivity';
import type { Method, QuantizeOptions, WeightChoice } from '../variants/options';

/** A figure with `d` decimals, '–' when not finite. */
export const fixed = (x: number, d: number): string => (Number.isFinite(x) ? x.toFixed(d) : '–');

/** The widths a budget chooses from when no report with two or more is in hand (the CLI's --widths default). */
export const BUDGET_WIDTHS: readonly GridBits[] = [2, 4, 8];

/** The dialog's fields a measurement reads. */
export interface SensitivityForm {
  method: Method;
  /** '' (the q4 default, 32) or a block size. */
  blockSize: string;
  asym: boolean;
}

/** What the settings measure and quantize with (q4: float32 scales, lm_head kept). */
export function sensitivitySpec(f: SensitivityForm, bits: readonly GridBits[]): SensitivitySpec {
  return {
    method: f.method,
    bits: [...new Set(bits)].sort((a, b) => a - b),
    blockSize: f.blockSize ? Number(f.blockSize) : 32,
    symmetric: !f.asym,
    scaleType: 'float32',
    keepLmHead: true,
  };
}

/** Whether `r` measured with these settings at two or more widths, so a budget can be planned from it. */
export function reportPlans(r: SensitivityReport | null | undefined, f: SensitivityForm): r is SensitivityReport {
  if (!r || r.bits.length < 2) return false;
  const s = sensitivitySpec(f, r.bits);
  return (
    r.method === s.method &&
    r.blockSize === s.blockSize &&
    r.symmetric === s.symmetric &&
    r.scaleType === s.scaleType &&
    r.keepLmHead === s.keepLmHead
  );
}

/**
 * Bits per weight from every weight at its cheapest width to every weight at its costliest: from
 * the report's own weights when it plans, else for a weight whose rows are whole blocks (what
 * llama-shaped weights are; the builder checks the exact range again before it writes).
 */
export function budgetBounds(
  r: SensitivityReport | null | undefined,
  f: SensitivityForm,
): { min: number; max: number; widths: GridBits[] } {
  if (reportPlans(r, f)) {
    const shapes = new Map(r.entries.map((e) => [e.weight, { K: e.K, N: e.N }]));
    return { ...budgetRange([...shapes.values()], r.bits, r), widths: [...r.bits] };
  }
  const spec = sensitivitySpec(f, BUDGET_WIDTHS);
  return { ...budgetRange([{ K: 4096, N: 1 }], spec.bits, spec), widths: spec.bits };
}

/** The budget field read: its value, or the message shown at the field ('' = nothing typed yet). */
export function checkBudgetField(
  text: string,
  b: { min: number; max: number; widths: readonly GridBits[] },
): { value?: number; message: string } {
  const t = text.trim();
  if (t === '') return { message: '' };
  const v = Number(t);
  const range = `from ${b.min.toFixed(3)} to ${b.max.toFixed(3)}`;
  if (!Number.isFinite(v)) return { message: `"${t}" is not a number: give bits per weight ${range}.` };
  if (v < b.min - 1e-9)
    return {
      message: `${v} is below the smallest width: every weight at ${b.widths[0]} bits takes ${b.min.toFixed(3)} bits per weight. Give ${range}.`,
    };
  if (v > b.max + 1e-9)
    return {
      message: `${v} is above the largest width: every weight at ${b.widths[b.widths.length - 1]} bits takes ${b.max.toFixed(3)} bits per weight. Give ${range}.`,
    };
  return { value: v, message: '' };
}

/** The q4 request of the mixed file, named as `quantlab quantize --budget` names it (or by `name`). */
export function mixedRequest(
  f: SensitivityForm & { name: string },
  plan: WeightChoice[],
): Omit<QuantizeOptions, 'dtype'> {
  return {
    ...(f.blockSize ? { blockSize: Number(f.blockSize) } : {}),
    ...(f.method !== 'rtn' ? { method: f.method } : {}),
    ...(f.asym ? { symmetric: false } : {}),
    ...(f.name.trim() ? { name: f.name.trim() } : {}),
    plan,
  };
}
