// How much work a quantization is before it starts, from config.json alone (the weights are not
// read yet): weights, weight elements, calibration tokens, AWQ's α grid, a budget run's sensitivity
// passes, and a time range for the page's one builder thread; and the bound past which the page
// refuses it, saying what to shrink (as checkSensitivityPlan does for a measurement).

import { QuantlabError } from '../errors';
import { count } from '../eval/plan';
import { CALIBRATED_METHODS, NBITS_DTYPES, type Method } from '../variants/options';
import { SMOLLM2_135M_SHAPE } from '../model/tiny';
import { thinHessianWarning } from './calibration';
import { AWQ_ALPHA_GRID, AWQ_CLIP_RATIOS, AWQ_SEARCH_TOKENS } from './awq';
import type { GridBits } from './grid';
import { LINEARS_PER_LAYER, planSensitivity, type SensitivityPlan } from './sensitivity-plan';

/** A llama-shaped decoder, as config.json gives it. */
export interface ModelShape {
  layers: number;
  hidden: number;
  intermediate: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
}

/** Reads the shape from config.json (undefined when a field the plan needs is missing). */
export function modelShape(config: Record<string, unknown> | undefined): ModelShape | undefined {
  const int = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined);
  const layers = int(config?.num_hidden_layers);
  const hidden = int(config?.hidden_size);
  const intermediate = int(config?.intermediate_size);
  const heads = int(config?.num_attention_heads);
  const vocab = int(config?.vocab_size);
  if (!layers || !hidden || !intermediate || !heads || !vocab) return undefined;
  const kvHeads = int(config?.num_key_value_heads) ?? heads;
  const headDim = int(config?.head_dim) ?? Math.floor(hidden / heads);
  return { layers, hidden, intermediate, heads, kvHeads, headDim, vocab };
}

/** What the quantized linears of a shape are (the lm_head is kept, so not counted). */
export interface ShapeWork {
  weights: number;
  /** Σ K·N over the quantized linears. */
  elements: number;
  /** Distinct layer inputs (q/k/v, o, gate/up, down): one calibration piece each. */
  groups: number;
  /** GPTQ's solve: Σ N·K² (column loop) + Σ over inputs K³ (Cholesky of each shared Hessian). */
  gptqUnits: number;
  /** Elements of one forward pass per token: the linears and the lm_head. */
  params: number;
}

export function shapeWork(s: ModelShape): ShapeWork {
  const q = s.heads * s.headDim;
  const kv = s.kvHeads * s.headDim;
  // [K, N] of q, k, v, o, gate, up, down.
  const linears: [number, number][] = [
    [s.hidden, q],
    [s.hidden, kv],
    [s.hidden, kv],
    [q, s.hidden],
    [s.hidden, s.intermediate],
    [s.hidden, s.intermediate],
    [s.intermediate, s.hidden],
  ];
  const inputs = [s.hidden, q, s.hidden, s.intermediate];
  const perLayer = linears.reduce((a, [K, N]) => a + K * N, 0);
  const solve = linears.reduce((a, [K, N]) => a + N * K * K, 0) + inputs.reduce((a, K) => a + K ** 3, 0);
  return {
    weights: s.layers * LINEARS_PER_LAYER,
    elements: s.layers * perLayer,
    groups: s.layers * inputs.length,
    gptqUnits: s.layers * solve,
    params: s.layers * perLayer + s.vocab * s.hidden,
  };
}

/** The SmolLM2-135M-shaped fixture (`quantlab tiny --smollm2-135m`) README's Node figures were measured on. */
const SMOLLM2_135M = shapeWork({
  layers: SMOLLM2_135M_SHAPE.layers,
  hidden: SMOLLM2_135M_SHAPE.dim,
  intermediate: SMOLLM2_135M_SHAPE.hidden,
  heads: SMOLLM2_135M_SHAPE.heads,
  kvHeads: SMOLLM2_135M_SHAPE.kvHeads,
  headDim: SMOLLM2_135M_SHAPE.dim / SMOLLM2_135M_SHAPE.heads,
  vocab: SMOLLM2_135M_SHAPE.vocab,
});

/**
 * Seconds per unit of work, one thread. Compute rates come from README's CPU seconds on the
 * SmolLM2-135M-shaped fixture in Node (CPU seconds ~ one thread's wall time; same V8 as the
 * page): GPTQ 4-bit 76.6 s at 512 tokens, of which ONNX Runtime's capture 5.7 s (the CPU
 * profile); AWQ 4-bit 117.4 s, of which the α grid and clip search 46.9 s; HQQ 10.5 / 14.7 / 19.0 s
 * at 4 / 3 / 2 bits; sensitivity 224 s for 422 passes of 128 tokens. A job's reading, rounding
 * and writing at rtn's rate, measured here: `quantlab quantize DIR --dtype q4` on `quantlab tiny
 * --smollm2-135m`, 13.8 CPU s for the whole process (18.3 s wall, load 6; 2026-12-02). The page's own costs were
 * measured in headless Chromium on aidreams260K (builder worker, 2026-12-02, load 5-10): a job's
 * read and write 0.64-1.7 s (rtn), a sensitivity pass 60-68 ms, a calibration piece (one ONNX
 * Runtime session per layer input) 0.08-0.27 s. The page's WASM ONNX Runtime is not the Node
 * one: its capture and passes were not measured on a large model, hence the wide range.
 */
export const RATES = {
  /** A job's read, session and write in the page. */
  job: 0.7,
  /** One calibration piece in the page: a session over one layer input's part of the graph. */
  piece: 0.2,
  /**
   * The builder's first ONNX Runtime session compiles its WASM (counted once for gptq, awq or a
   * measurement): the page's first gptq run of aidreams260K took 12.5 s and 30 s, the next 5.0 s and 13.6 s.
   */
  runtime: 5,
  /** One sensitivity pass's fixed cost in the page. */
  pass: 0.06,
  /** Per element: read, round to nearest, write (every job; the methods add their own work). */
  rtn: 13.8 / SMOLLM2_135M.elements,
  hqq: { 2: 19.0, 3: 14.7, 4: 10.5, 8: 10.5 } as Record<GridBits, number>,
  gptqSolve: (76.6 - 5.7) / SMOLLM2_135M.gptqUnits,
  /** Per calibration token through the linears (capture and Hessian). */
  gptqCapture: 5.7 / (512 * SMOLLM2_135M.elements),
  /** Per element per α and clip ratio (rounding in JavaScript). */
  awqSearch: 46.9 / ((AWQ_ALPHA_GRID + AWQ_CLIP_RATIOS.length) * SMOLLM2_135M.elements),
  /** Per token through the linears: the capture plus 20 products of the α grid over the searched tokens. */
  awqProducts: (117.4 - 46.9) / ((512 + AWQ_ALPHA_GRID * AWQ_SEARCH_TOKENS) * SMOLLM2_135M.elements),
  /** Per token through one forward pass (linears and lm_head). */
  forward: 224 / (422 * 128 * SMOLLM2_135M.params),
} as const;

/** The range shown around the estimate: load on a shared machine moves times 2-4x (README). */
export const RANGE = { low: 0.5, high: 2 } as const;

/** The page's bound on one plan. */
export const QUANTIZE_LIMITS = {
  /** The estimate's upper end. */
  seconds: 3600,
  /**
   * Bytes a calibration capture holds at once: ONNX Runtime runs every window of a layer input in
   * one batch, so attention scores (heads x window floats a token) and the MLP's products (2 x
   * intermediate) are held for all tokens together, in a WASM heap of at most 4 GB. A bound, not a
   * measured failure point.
   */
  captureBytes: 1024 ** 3,
} as const;

export interface QuantizeRequestShape {
  /** Precisions chosen; the method applies to the MatMulNBits ones (q4, q4f16). */
  dtypes: readonly string[];
  method: Method;
  bits: GridBits;
  /** gptq and awq (and a budget run): tokens asked, window, and the text's UTF-8 bytes. */
  calibration?: { tokens: number; window: number; textBytes: number };
  /** A budget run measures first at this many widths (0 or absent: a report in hand plans it). */
  sensitivityWidths?: number;
}

export interface QuantizePlan {
  weights: number;
  elements: number;
  /** Precisions written (one builder job each). */
  dtypes: string[];
  /** Jobs that run the calibrated method. */
  calibratedJobs: number;
  method: Method;
  /** Calibration tokens used: whole windows of the text, at most the tokens asked (0 without calibration). */
  tokens: number;
  window: number;
  /** AWQ's α grid points (each a product over the searched tokens per layer input), else 0. */
  alphaGrid: number;
  sensitivity?: SensitivityPlan;
  /** Bytes one capture holds at once. */
  captureBytes: number;
  seconds: number;
  low: number;
  high: number;
}

const calibrated = (m: Method) => CALIBRATED_METHODS.includes(m);

/** Seconds a method adds to a job's read, rounding and write, on `w` with `tokens` calibration tokens. */
function methodSeconds(w: ShapeWork, method: Method, bits: GridBits, tokens: number): number {
  if (method === 'hqq') return RATES.hqq[bits] * (w.elements / SMOLLM2_135M.elements);
  if (method === 'gptq')
    return w.groups * RATES.piece + w.gptqUnits * RATES.gptqSolve + tokens * w.elements * RATES.gptqCapture;
  if (method === 'awq') {
    const through = tokens + AWQ_ALPHA_GRID * Math.min(tokens, AWQ_SEARCH_TOKENS);
    return (
      w.groups * RATES.piece +
      w.elements * (AWQ_ALPHA_GRID + AWQ_CLIP_RATIOS.length) * RATES.awqSearch +
      through * w.elements * RATES.awqProducts
    );
  }
  return 0;
}

/** Bytes a capture holds per calibration token: attention scores (heads x window floats) and the MLP's two products. */
function captureBytesPerToken(shape: ModelShape, window: number): number {
  return 4 * (shape.heads * window + 2 * shape.intermediate);
}

/** The plan of a request on a model of `shape`; undefined without a shape or with fewer tokens than one window. */
export function planQuantize(shape: ModelShape | undefined, r: QuantizeRequestShape): QuantizePlan | undefined {
  if (!shape) return undefined;
  const w = shapeWork(shape);
  const measuring = (r.sensitivityWidths ?? 0) > 0;
  const calibratedJobs = calibrated(r.method) ? r.dtypes.filter((d) => NBITS_DTYPES.includes(d)).length : 0;
  const c = r.calibration;
  let tokens = 0;
  let window = 0;
  if ((calibratedJobs > 0 || measuring) && c) {
    if (!(c.window >= 2) || !(c.tokens >= c.window)) return undefined;
    // A token is at least one UTF-8 byte (and the tokenizer adds BOS): at most bytes + 1 tokens.
    window = c.window;
    tokens = Math.floor(Math.min(c.tokens, c.textBytes + 1) / c.window) * c.window;
  }
  let seconds = calibratedJobs > 0 || measuring ? RATES.runtime : 0;
  for (const d of r.dtypes) {
    const method = NBITS_DTYPES.includes(d) ? r.method : 'rtn';
    seconds += RATES.job + w.elements * RATES.rtn + methodSeconds(w, method, r.bits, tokens);
  }
  let sensitivity: SensitivityPlan | undefined;
  if (measuring && window > 0) {
    sensitivity = planSensitivity(w.weights, r.sensitivityWidths!, tokens / window, window);
    // Each run quantizes one weight; all runs together quantize every weight once per width
    // (its method's solve without the capture, which the passes are).
    const quantizeAll =
      w.elements * RATES.rtn +
      methodSeconds(w, r.method, r.bits, 0) -
      (calibrated(r.method) ? w.groups * RATES.piece : 0);
    seconds +=
      sensitivity.passes * RATES.pass +
      sensitivity.tokens * w.params * RATES.forward +
      sensitivity.widths * quantizeAll;
  }
  const captureBytes = calibratedJobs > 0 ? tokens * captureBytesPerToken(shape, window) : 0;
  return {
    weights: w.weights,
    elements: w.elements,
    dtypes: [...r.dtypes],
    calibratedJobs,
    method: r.method,
    tokens,
    window,
    alphaGrid: r.method === 'awq' && calibratedJobs > 0 ? AWQ_ALPHA_GRID : 0,
    ...(sensitivity ? { sensitivity } : {}),
    captureBytes,
    seconds,
    low: seconds * RANGE.low,
    high: seconds * RANGE.high,
  };
}

/** "8 s", "1.5 min", "2 h". */
export function shortDuration(s: number): string {
  if (s < 60) return `${Math.max(1, Math.round(s))} s`;
  if (s < 3600) return `${Number((s / 60).toFixed(s < 600 ? 1 : 0))} min`;
  return `${Number((s / 3600).toFixed(1))} h`;
}

/** "About 5 s–18 s on this machine: 28 weights (197,632 elements) x 1 precision (gptq for q4); calibration 512 tokens (4 windows of 128)". */
export function describeQuantize(p: QuantizePlan): string {
  const how =
    p.method === 'rtn'
      ? ''
      : ` (${p.method} for ${p.dtypes.filter((d) => NBITS_DTYPES.includes(d)).join(', ') || 'q4'})`;
  const parts = [
    `${count(p.weights)} weights (${count(p.elements)} elements) x ${p.dtypes.length} ${p.dtypes.length === 1 ? 'precision' : 'precisions'}${how}`,
  ];
  if (p.tokens > 0) {
    const windows = p.tokens / p.window;
    parts.push(
      `calibration ${count(p.tokens)} tokens (${count(windows)} window${windows === 1 ? '' : 's'} of ${count(p.window)})`,
    );
  }
  if (p.alphaGrid > 0)
    parts.push(`${p.alphaGrid}-point α grid over ${count(Math.min(p.tokens, AWQ_SEARCH_TOKENS))} tokens a layer input`);
  if (p.sensitivity)
    parts.push(
      `sensitivity first: ${count(p.sensitivity.runs)} runs, ${count(p.sensitivity.passes)} passes of ${count(p.window)} tokens`,
    );
  const lo = shortDuration(p.low);
  const hi = shortDuration(p.high);
  return `About ${lo === hi ? lo : `${lo}–${hi}`} on this machine: ${parts.join('; ')}`;
}

/** What is over QUANTIZE_LIMITS and what to shrink, or undefined within them. */
export function quantizeOver(p: QuantizePlan, shape: ModelShape): { message: string; detail: string } | undefined {
  if (p.captureBytes > QUANTIZE_LIMITS.captureBytes) {
    const fit = Math.floor(QUANTIZE_LIMITS.captureBytes / captureBytesPerToken(shape, p.window) / p.window) * p.window;
    return {
      message: `Too large: the calibration capture would hold ${count(p.captureBytes / 1024 ** 2)} MiB at once, over the limit of ${count(QUANTIZE_LIMITS.captureBytes / 1024 ** 2)} MiB.`,
      detail:
        fit > 0
          ? `Use fewer calibration tokens (at most ${count(fit)}) or a shorter window.`
          : 'Use a shorter calibration window.',
    };
  }
  if (p.high > QUANTIZE_LIMITS.seconds) {
    return {
      message: `Too long: up to ${shortDuration(p.high)} estimated, over the limit of ${shortDuration(QUANTIZE_LIMITS.seconds)}.`,
      detail: p.sensitivity
        ? 'Use fewer calibration tokens, measure at fewer widths first, or choose rtn.'
        : p.calibratedJobs > 0
          ? 'Use fewer calibration tokens, fewer precisions, rtn or hqq, or a smaller model.'
          : 'Choose fewer precisions, or a smaller model.',
    };
  }
  return undefined;
}

/** The widest input of a linear layer of this shape (down_proj's intermediate size, usually). */
export function widestInput(shape: ModelShape): number {
  return Math.max(shape.hidden, shape.heads * shape.headDim, shape.intermediate);
}

/** GPTQ's warning when the plan's calibration tokens are fewer than the widest layer input (thinHessianWarning). */
export function quantizeWarning(p: QuantizePlan, shape: ModelShape): string | undefined {
  return p.method === 'gptq' && p.calibratedJobs > 0 ? thinHessianWarning(p.tokens, widestInput(shape)) : undefined;
}

/** Refuses a plan over QUANTIZE_LIMITS by name. */
export function checkQuantizePlan(p: QuantizePlan, shape: ModelShape): void {
  const over = quantizeOver(p, shape);
  if (over) throw new QuantlabError('bad-argument', over.message, over.detail);
}
