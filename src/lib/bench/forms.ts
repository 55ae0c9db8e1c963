// The 4-bit forms table: the same model's MatMul weights stored in each form ONNX Runtime can run
// them in (MatMulNBits 4-bit at accuracy levels 0/1/4, block sizes 32/64/128, with and without
// zero points; 8-bit MatMulNBits; MatMulInteger q8), each timed with the raw floor loop on each
// backend, and the default picked per backend: the fastest accuracy level whose greedy ids equal
// level 0's on the same weights (the quantized weights, and so their quality, unchanged).

import { QuantlabError } from '../errors';
import type { AccuracyLevel } from '../forms/accuracy-level';
import type { QuantizeOptions } from '../variants/options';
import { variantFileName } from '../variants/table';
import { median, minMax } from './stats';

/** The backends a form is timed on (a subset of the bench runtimes). */
export type FormRuntime = 'node' | 'browser-wasm' | 'browser-webgpu';

export interface FormSpec {
  /** Short name, e.g. "q4 b32 sym acc4". */
  name: string;
  /** The weights: what `quantlab quantize` makes them with (the file the form's graph starts from). */
  weights: Omit<QuantizeOptions, 'keep'>;
  /** MatMulNBits accuracy_level set on the weights' graph (0: as the quantizer writes it). */
  accuracyLevel: AccuracyLevel;
}

const q4 = (blockSize: number, symmetric: boolean): FormSpec['weights'] => ({
  dtype: 'q4',
  ...(blockSize !== 32 ? { blockSize } : {}),
  ...(symmetric ? {} : { symmetric: false }),
});

/** Every form the table times; the q4 b32 sym forms share the default q4 file's weights. */
export const FORMS: readonly FormSpec[] = [
  { name: 'q8 MatMulInteger', weights: { dtype: 'q8' }, accuracyLevel: 0 },
  { name: 'q8 MatMulNBits acc0', weights: { dtype: 'q4', bits: 8 }, accuracyLevel: 0 },
  { name: 'q8 MatMulNBits acc4', weights: { dtype: 'q4', bits: 8 }, accuracyLevel: 4 },
  { name: 'q4 b32 sym acc0', weights: q4(32, true), accuracyLevel: 0 },
  { name: 'q4 b32 sym acc1', weights: q4(32, true), accuracyLevel: 1 },
  { name: 'q4 b32 sym acc4', weights: q4(32, true), accuracyLevel: 4 },
  { name: 'q4 b32 asym acc0', weights: q4(32, false), accuracyLevel: 0 },
  { name: 'q4 b32 asym acc4', weights: q4(32, false), accuracyLevel: 4 },
  { name: 'q4 b64 sym acc0', weights: q4(64, true), accuracyLevel: 0 },
  { name: 'q4 b64 sym acc4', weights: q4(64, true), accuracyLevel: 4 },
  { name: 'q4 b128 sym acc0', weights: q4(128, true), accuracyLevel: 0 },
  { name: 'q4 b128 sym acc4', weights: q4(128, true), accuracyLevel: 4 },
];

/** The form q4 files are written in today (quantlab quantize --dtype q4). */
export const DEFAULT_Q4_FORM = 'q4 b32 sym acc0';
/** The 8-bit form the 4-bit ones are compared with (what --dtype q8 writes). */
export const Q8_FORM = 'q8 MatMulInteger';

/** A form by name; unknown names are refused with the list. */
export function formByName(name: string): FormSpec {
  const f = FORMS.find((x) => x.name === name);
  if (!f)
    throw new QuantlabError('bad-argument', `Unknown form "${name}"`, `Forms: ${FORMS.map((x) => x.name).join(', ')}.`);
  return f;
}

/** onnx/<stem>.onnx of the weights' file as `quantlab quantize` names it. */
export function weightsStem(f: FormSpec): string {
  return variantFileName(f.weights as QuantizeOptions)
    .replace(/\.onnx$/, '')
    .replace(/^onnx\//, '');
}

/** The form's own file stem: the weights' stem, with _acc<level> when the level is set. */
export function formStem(f: FormSpec): string {
  return f.accuracyLevel === 0 ? weightsStem(f) : `${weightsStem(f)}_acc${f.accuracyLevel}`;
}

/** One timed run of a form's floor loop. */
export interface FormRun {
  ids: number[];
  prefillTokensPerS: number;
  decodeTokensPerS: number;
}

export interface FormRow {
  form: string;
  runtime: FormRuntime;
  stem: string;
  op: 'MatMulNBits' | 'MatMulInteger';
  bits: 2 | 3 | 4 | 8;
  block_size: number | null;
  zero_points: boolean;
  accuracy_level: number;
  file_bytes: number;
  /** Weight bytes one decode step reads (src/lib/bench/bandwidth.ts). */
  bytes_per_token: number;
  load_ms: number;
  runs: number;
  prefill_tokens_per_s: number;
  decode_tokens_per_s: number;
  decode_min: number;
  decode_max: number;
  /** Greedy ids equal to accuracy level 0's on the same weights and runtime, in every run. */
  token_exact: boolean;
  /** Greedy ids equal to the fp32 graph's on the same runtime (null when fp32 was not run). */
  same_ids_as_fp32: boolean | null;
  /** browser-webgpu on a software adapter: the speeds are not GPU figures (src/lib/bench/webgpu.ts). */
  correctness_only?: boolean;
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * A form's row from its runs; `level0Ids` are the greedy ids of accuracy level 0 on the same
 * weights and runtime (the form's own ids when it is level 0), `fp32Ids` the fp32 graph's.
 */
export function formRow(
  f: FormSpec,
  runtime: FormRuntime,
  sizes: { fileBytes: number; bytesPerToken: number; loadMs: number },
  runs: readonly FormRun[],
  level0Ids: readonly number[],
  fp32Ids?: readonly number[],
): FormRow {
  if (runs.length === 0) throw new QuantlabError('internal', `form ${f.name}: no runs`);
  const decode = runs.map((r) => r.decodeTokensPerS);
  const d = minMax(decode);
  const integer = f.weights.dtype === 'q8';
  return {
    form: f.name,
    runtime,
    stem: formStem(f),
    op: integer ? 'MatMulInteger' : 'MatMulNBits',
    bits: integer ? 8 : (f.weights.bits ?? 4),
    block_size: integer ? null : (f.weights.blockSize ?? 32),
    zero_points: integer ? true : f.weights.symmetric === false,
    accuracy_level: f.accuracyLevel,
    file_bytes: sizes.fileBytes,
    bytes_per_token: sizes.bytesPerToken,
    load_ms: sizes.loadMs,
    runs: runs.length,
    prefill_tokens_per_s: median(runs.map((r) => r.prefillTokensPerS)),
    decode_tokens_per_s: median(decode),
    decode_min: d.min,
    decode_max: d.max,
    token_exact: runs.every((r) => same(r.ids, level0Ids)),
    same_ids_as_fp32: fp32Ids ? runs.every((r) => same(r.ids, fp32Ids)) : null,
  };
}

/** What the table concludes for one backend. */
export interface FormDefault {
  runtime: FormRuntime;
  /** The fastest token-exact accuracy level on the default q4 weights (b32, symmetric): the default. */
  q4_form: string;
  q4_accuracy_level: number;
  q4_decode_tokens_per_s: number;
  /** Today's form (level 0) on the same weights, and the chosen form's speed over it. */
  q4_level0_decode_tokens_per_s: number;
  speedup_over_level0: number;
  /** The fastest 4-bit form of all (any weights), token-exact against its own level 0. */
  fastest_q4_form: string;
  fastest_q4_decode_tokens_per_s: number;
  /** MatMulInteger q8, and the default q4 form's speed over it (below 1: 4-bit is slower). */
  q8_decode_tokens_per_s: number | null;
  q4_over_q8: number | null;
  /** 8-bit weights in MatMulNBits (level 0) over MatMulInteger q8: whether the slowness follows the op or the bits. */
  nbits8_over_q8: number | null;
  /** Software adapter: no speed to choose by, so level 0 stays the default. */
  correctness_only?: boolean;
}

/**
 * Per backend: among the forms on the default q4 weights, the fastest whose ids are token-exact
 * (level 0 always is); ties and anything within `margin` of level 0 keep level 0, so a change of
 * default needs a clear gain, not noise.
 */
export function chooseDefaults(rows: readonly FormRow[], margin = 0.05): FormDefault[] {
  const out: FormDefault[] = [];
  for (const runtime of [...new Set(rows.map((r) => r.runtime))]) {
    const mine = rows.filter((r) => r.runtime === runtime);
    const find = (name: string) => mine.find((r) => r.form === name);
    const level0 = find(DEFAULT_Q4_FORM);
    if (!level0) continue;
    const sameWeights = mine.filter(
      (r) => (r.stem === level0.stem || r.stem.startsWith(`${level0.stem}_acc`)) && r.token_exact,
    );
    const correctnessOnly = mine.some((r) => r.correctness_only);
    let best = level0;
    if (!correctnessOnly)
      for (const r of sameWeights)
        if (
          r.decode_tokens_per_s > best.decode_tokens_per_s &&
          r.decode_tokens_per_s > level0.decode_tokens_per_s * (1 + margin)
        )
          best = r;
    const q4s = mine.filter((r) => r.bits === 4 && r.token_exact);
    const fastest = q4s.reduce((a, b) => (b.decode_tokens_per_s > a.decode_tokens_per_s ? b : a), level0);
    const q8 = find(Q8_FORM);
    const nbits8 = find('q8 MatMulNBits acc0');
    out.push({
      runtime,
      q4_form: best.form,
      q4_accuracy_level: best.accuracy_level,
      q4_decode_tokens_per_s: best.decode_tokens_per_s,
      q4_level0_decode_tokens_per_s: level0.decode_tokens_per_s,
      speedup_over_level0: best.decode_tokens_per_s / level0.decode_tokens_per_s,
      fastest_q4_form: fastest.form,
      fastest_q4_decode_tokens_per_s: fastest.decode_tokens_per_s,
      q8_decode_tokens_per_s: q8?.decode_tokens_per_s ?? null,
      q4_over_q8: q8 ? best.decode_tokens_per_s / q8.decode_tokens_per_s : null,
      nbits8_over_q8: q8 && nbits8 ? nbits8.decode_tokens_per_s / q8.decode_tokens_per_s : null,
      ...(correctnessOnly ? { correctness_only: true } : {}),
    });
  }
  return out;
}

/** The forms measurement as `quantlab bench --forms` reports it (JSON key `forms`). */
export interface FormsReport {
  /** Floor loops (raw ONNX Runtime sessions): the forms differ in their kernels only. */
  rows: FormRow[];
  defaults: FormDefault[];
  /** The machine's 1-minute load average before and after (os.loadavg), since other work slows every form. */
  load_average: { before: number; after: number };
}

const num = (x: number | null, d: number) => (x === null || !Number.isFinite(x) ? '-' : x.toFixed(d));

/** The forms table and each backend's conclusion, as the CLI prints them. */
export function formatFormsTable(r: FormsReport): string {
  const head = [
    'form',
    'runtime',
    'runs',
    'MiB',
    'MiB/token',
    'load ms',
    'prefill tok/s',
    'decode tok/s',
    'min-max',
    'token-exact',
    'as fp32',
  ];
  const rows = [head];
  for (const x of r.rows)
    rows.push([
      x.form,
      x.runtime,
      String(x.runs),
      num(x.file_bytes / 2 ** 20, 1),
      num(x.bytes_per_token / 2 ** 20, 1),
      num(x.load_ms, 0),
      num(x.prefill_tokens_per_s, 0),
      num(x.decode_tokens_per_s, 1),
      `${num(x.decode_min, 1)}-${num(x.decode_max, 1)}`,
      x.token_exact ? 'yes' : 'NO',
      x.same_ids_as_fp32 === null ? '-' : x.same_ids_as_fp32 ? 'yes' : 'no',
    ]);
  const widths = head.map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const lines = [
    `4-bit forms (raw ONNX Runtime floor loops on the same weights; load average ${r.load_average.before.toFixed(2)} before, ${r.load_average.after.toFixed(2)} after):`,
    ...rows.map((row) =>
      row
        .map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
        .join('  ')
        .trimEnd(),
    ),
  ];
  for (const d of r.defaults) {
    lines.push(
      `${d.runtime}: default q4 form ${d.q4_form} (${num(d.q4_decode_tokens_per_s, 1)} tok/s, ${num(d.speedup_over_level0, 2)}x level 0); ` +
        `fastest 4-bit ${d.fastest_q4_form} ${num(d.fastest_q4_decode_tokens_per_s, 1)} tok/s; ` +
        `q8 MatMulInteger ${num(d.q8_decode_tokens_per_s, 1)} tok/s, q4/q8 ${num(d.q4_over_q8, 2)}, 8-bit MatMulNBits/q8 ${num(d.nbits8_over_q8, 2)}` +
        (d.correctness_only
          ? ' (software adapter: correctness-only, no default chosen by speed)'
          : d.q4_over_q8 !== null && d.q4_over_q8 < 1
            ? ' (4-bit slower than 8-bit here)'
            : ''),
    );
  }
  lines.push(
    'token-exact: greedy ids equal to accuracy level 0 on the same weights and runtime; as fp32: equal to the fp32 graph (quantization may change them).',
  );
  return lines.join('\n');
}
