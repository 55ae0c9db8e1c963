// One colour per variant, shared by a column's header, its latency chart and every chart that
// draws the variant: keyed by the file stem, so a precision keeps its colour whatever else is
// shown beside it, and fp32's colour (the reference) is never given to another variant.

import { FP32_STEM, stemOfArg } from '../variants/table';

/** fp32's colour: the reference every other precision is read against. */
export const FP32_COLOUR = '#2f6fde';

/** The other variants' colours, none of them a blue near fp32's. */
export const OTHER_COLOURS: readonly string[] = [
  '#d9480f',
  '#2b8a3e',
  '#ae3ec9',
  '#e67700',
  '#0c8599',
  '#c2255c',
  '#5c940d',
  '#8d6e63',
  '#495057',
  '#f59f00',
  '#6741d9',
  '#e64980',
  '#087f5b',
  '#a61e4d',
  '#74b816',
];

// The precisions with a name get a fixed colour each (no two the same; the 4-bit ones, compared most,
// far apart in hue).
const FIXED: Record<string, number> = {
  model_fp16: 0,
  model_q4: 1,
  model_quantized: 2,
  model_q4f16: 11,
  model_int8: 4,
  model_uint8: 5,
  model_bnb4: 3,
  model_bf16: 7,
  model_q8nbits: 8,
  model_q8f16nbits: 9,
};

/** Index into OTHER_COLOURS a non-fp32 stem prefers: its fixed one, else a hash of the stem. */
function preferred(stem: string): number {
  if (stem in FIXED) return FIXED[stem];
  let h = 2166136261;
  for (let i = 0; i < stem.length; i++) h = Math.imul(h ^ stem.charCodeAt(i), 16777619) >>> 0;
  return h % OTHER_COLOURS.length;
}

/** The n-th colour past the palette: hues a golden angle apart, skipping the blues near fp32's. */
function extra(n: number): string {
  let hue = (30 + n * 137.508) % 360;
  if (hue > 195 && hue < 245) hue = (hue + 60) % 360;
  return `hsl(${hue.toFixed(1)} 55% ${n % 2 ? 35 : 45}%)`;
}

/** A variant's colour when shown alone (its stem's own colour). */
export function variantColour(stem: string): string {
  return stem === FP32_STEM ? FP32_COLOUR : OTHER_COLOURS[preferred(stem)];
}

/**
 * Colours for the variants shown together, by stem: each takes its own colour unless a stem
 * before it has it already, then the next free one; fp32's colour only for fp32; all distinct,
 * however many there are.
 */
export function variantColours(stems: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const taken = new Set<number>();
  let extras = 0;
  for (const stem of stems) {
    if (out.has(stem)) continue;
    if (stem === FP32_STEM) {
      out.set(stem, FP32_COLOUR);
      continue;
    }
    const n = OTHER_COLOURS.length;
    const start = preferred(stem);
    let slot = -1;
    for (let k = 0; k < n && slot < 0; k++) if (!taken.has((start + k) % n)) slot = (start + k) % n;
    if (slot >= 0) {
      taken.add(slot);
      out.set(stem, OTHER_COLOURS[slot]);
    } else out.set(stem, extra(extras++));
  }
  return out;
}

/** The same colours keyed by precision names as the lab and CLI write them ('fp32', 'q4', or a file stem). */
export function precisionColours(names: readonly string[]): Map<string, string> {
  const byStem = variantColours(names.map((n) => stemOfArg(n) ?? n));
  return new Map(names.map((n) => [n, byStem.get(stemOfArg(n) ?? n)!]));
}
