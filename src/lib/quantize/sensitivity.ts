// Layer sensitivity: for each linear weight, the KL divergence from the fp32 model on a
// calibration text when only that weight is quantized (at each asked bit width, with the asked
// method from WEIGHT_METHODS), as llama.cpp's KL-divergence report computes it. One fp32 session
// with the weights as graph inputs (weight-swap.ts) serves every run; mixed.ts reads the result.

import { QuantlabError, throwIfAborted } from '../errors';
import { toCsv, toJson, type Cell, type CsvOptions } from '../eval/export';
import { QualityAccumulator, argmax64, compareLogProbs, logSoftmax64, type PositionStats } from '../metrics/divergence';
import { planWindows, type Window } from '../metrics/windows';
import { transpose } from '../numeric/transpose';
import { tensorToFloat32, type ModelProto } from '../onnx/proto';
import { BLOCK_SIZES, CALIBRATED_METHODS, METHODS, type Method } from '../variants/options';
import { dequantizeGrid, type GridBits, type GridSpec, type WeightContext } from './grid';
import { WEIGHT_METHODS, storageBitsFor } from './methods';
import { findWeightTargets, fp32Graph, type WeightTarget } from './targets';
import { WeightSwap, type OrtRuntime } from './weight-swap';

/** Bit widths a weight can be measured and stored at. */
export const GRID_BITS: readonly GridBits[] = [2, 3, 4, 8];

/** How the weights are quantized while measuring (one method, one or more widths). */
export interface SensitivitySpec {
  method: Method;
  bits: GridBits[];
  blockSize: number;
  symmetric: boolean;
  scaleType: 'float32' | 'float16';
  /** Leave the lm_head out (it stays fp32 in the variants by default). */
  keepLmHead: boolean;
}

export interface SensitivityProgress {
  status: 'sensitivity';
  /** Runs done (one run = one weight at one width over every window) and the total. */
  done: number;
  total: number;
  weight: string;
  bits: GridBits;
}

export interface SensitivityOptions extends Partial<SensitivitySpec> {
  /** The fp32 decoder (external data already loaded). */
  model: ModelProto;
  /** The calibration text's token ids (with the tokenizer's BOS, if it adds one). */
  ids: number[];
  /** BOS id written at the start of every window, as in the quality report. */
  bos?: number;
  /** Window length in tokens; the second half of each window is scored. */
  ctx: number;
  maxWindows?: number;
  runtime: OrtRuntime;
  signal?: AbortSignal;
  onProgress?: (p: SensitivityProgress) => void;
}

/** One weight quantized alone at one width. */
export interface SensitivityEntry {
  weight: string;
  /** Decoder layer index read from the weight's name, or null (no "layers.N." in it). */
  layer: number | null;
  /** Module name: q_proj, down_proj, ... (the last part of the name before ".weight"). */
  module: string;
  K: number;
  N: number;
  bits: GridBits;
  method: Method;
  /** Bytes of the weight's MatMulNBits tensors (levels, scales, zero points) at this width. */
  bytes: number;
  /** 8 * bytes / (K * N). */
  bits_per_weight: number;
  kld_mean: number;
  kld_p99: number;
  same_top_pct: number;
  ppl: number;
}

export interface SensitivityReport extends SensitivitySpec {
  ctx: number;
  /** Tokens of the calibration text; windows scored; positions scored per run. */
  tokens: number;
  windows: number;
  positions: number;
  /** Perplexity of the fp32 model on the scored positions. */
  ppl_base: number;
  entries: SensitivityEntry[];
  seconds: number;
}

const bad = (msg: string, detail?: string) => new QuantlabError('bad-argument', msg, detail);

/** Bytes MatMulNBits stores for a [K, N] weight at `bits` levels (in storageBitsFor(bits) storage). */
export function nbitsBytes(
  K: number,
  N: number,
  bits: GridBits,
  spec: Pick<GridSpec, 'blockSize' | 'symmetric' | 'scaleType'>,
): number {
  const storage = storageBitsFor(bits);
  const kBlocks = Math.ceil(K / spec.blockSize);
  const levels = N * kBlocks * ((spec.blockSize * storage) / 8);
  const scales = N * kBlocks * (spec.scaleType === 'float16' ? 2 : 4);
  const zeros = spec.symmetric ? 0 : N * Math.ceil(kBlocks / (8 / storage));
  return levels + scales + zeros;
}

/** Layer index and module of a weight name such as model.layers.3.mlp.down_proj.weight. */
export function layerModule(name: string): { layer: number | null; module: string } {
  const bare = name.replace(/(\.weight)?(_T)?$/, '');
  const m = /(?:^|[./])(?:layers|layer|h|blocks)[./](\d+)[./](.+)$/.exec(bare);
  if (!m) return { layer: null, module: bare };
  return { layer: Number(m[1]), module: m[2].split(/[./]/).pop()! };
}

/** Fills in defaults and rejects what cannot be measured, naming the valid values. */
export function resolveSensitivitySpec(o: Partial<SensitivitySpec>): SensitivitySpec {
  const method = o.method ?? 'rtn';
  if (!METHODS.includes(method))
    throw bad(`Unknown method "${String(method)}"`, `Valid methods: ${METHODS.join(', ')}.`);
  if (!WEIGHT_METHODS[method]) {
    const have = Object.keys(WEIGHT_METHODS).join(', ');
    throw bad(`Method "${method}" is not available in this build`, `Available: ${have}.`);
  }
  const asked: number[] = o.bits && o.bits.length > 0 ? [...new Set(o.bits)].sort((a, b) => a - b) : [4];
  const wrong = asked.find((b) => !(GRID_BITS as readonly number[]).includes(b));
  if (wrong !== undefined) throw bad(`Unsupported bits ${String(wrong)}`, `Use ${GRID_BITS.join(', ')}.`);
  const bits = asked as GridBits[];
  const blockSize = o.blockSize ?? 32;
  if (!BLOCK_SIZES.includes(blockSize)) {
    throw bad(
      `Block size ${String(blockSize)} is not a power of two between 16 and 256`,
      `Use one of ${BLOCK_SIZES.join(', ')}.`,
    );
  }
  return {
    method,
    bits,
    blockSize,
    symmetric: o.symmetric ?? true,
    scaleType: o.scaleType ?? 'float32',
    keepLmHead: o.keepLmHead ?? true,
  };
}

/** The weights a variant with these settings quantizes, in graph order (named errors otherwise). */
export function measuredTargets(model: ModelProto, keepLmHead: boolean): WeightTarget[] {
  const graph = fp32Graph(model, 'Measure');
  const targets = findWeightTargets(graph).filter((t) => !(keepLmHead && t.role === 'lm_head'));
  if (targets.length === 0) {
    throw new QuantlabError(
      'no-weights',
      'The model has no float32 MatMul or Gemm weights to measure',
      'Use an fp32 export whose linear layers are MatMul nodes with initializer weights.',
    );
  }
  return targets;
}

/** Calibration statistics of one weight's inputs X [T, K]: H = (2/T) XᵀX (GPTQ) and mean |x| (AWQ). */
export function inputContext(x: Float32Array, K: number): WeightContext {
  const T = x.length / K;
  const hessian = new Float64Array(K * K);
  const inputMeanAbs = new Float64Array(K);
  const row = new Float64Array(K);
  for (let t = 0; t < T; t++) {
    for (let k = 0; k < K; k++) {
      row[k] = x[t * K + k];
      inputMeanAbs[k] += Math.abs(row[k]);
    }
    for (let i = 0; i < K; i++) {
      const xi = row[i];
      if (xi === 0) continue;
      const base = i * K;
      for (let j = i; j < K; j++) hessian[base + j] += xi * row[j];
    }
  }
  const f = T > 0 ? 2 / T : 0;
  for (let i = 0; i < K; i++) {
    inputMeanAbs[i] = T > 0 ? inputMeanAbs[i] / T : 0;
    for (let j = i; j < K; j++) {
      const v = hessian[i * K + j] * f;
      hessian[i * K + j] = v;
      hessian[j * K + i] = v;
    }
  }
  return { hessian, inputMeanAbs };
}

/**
 * Measures every quantizable weight alone at every asked width. Throws a named error for a text
 * too short for one window, a method this build lacks, or a model without linear weights;
 * honours `signal` between runs.
 */
export async function measureSensitivity(o: SensitivityOptions): Promise<SensitivityReport> {
  const started = performance.now();
  const spec = resolveSensitivitySpec(o);
  const quantizer = WEIGHT_METHODS[spec.method]!;
  const targets = measuredTargets(o.model, spec.keepLmHead);
  const windows = planWindows(o.ids, o.ctx, o.bos, o.maxWindows);
  if (windows.length === 0) {
    throw bad(
      `The calibration text is too short: it has ${o.ids.length} tokens and one window of ${o.ctx} needs ${o.ctx}`,
      'Use a longer calibration text or a shorter window.',
    );
  }
  const calibrated = CALIBRATED_METHODS.includes(spec.method);
  const actNames = calibrated ? [...new Set(targets.map((t) => t.node.input[0]))] : [];
  const swap = await WeightSwap.open(o.runtime, o.model, targets, actNames);
  try {
    // The fp32 model's log-probabilities (and probabilities, top token) on every scored position, computed once.
    const base: BaseRow[][] = [];
    const acts = new Map<string, Float32Array[]>();
    const baseAcc = new QualityAccumulator();
    for (const w of windows) {
      throwIfAborted(o.signal);
      const run = await swap.run(w.ids);
      const rows: BaseRow[] = [];
      for (let r = 0; r < w.scored; r++) {
        const j = w.firstRow + r;
        const lp = logSoftmax64(run.logits.subarray(j * run.vocab, (j + 1) * run.vocab));
        rows.push({ lp, p: lp.map(Math.exp), top: argmax64(lp) });
        baseAcc.add(compareLogProbs(lp, lp, w.ids[j + 1]));
      }
      base.push(rows);
      for (const [name, data] of run.outputs) acts.set(name, [...(acts.get(name) ?? []), data.slice()]);
    }
    const total = targets.length * spec.bits.length;
    let done = 0;
    const entries: SensitivityEntry[] = [];
    for (const t of targets) {
      const rows = t.layout === 'NK' ? tensorToFloat32(t.weight) : transpose(tensorToFloat32(t.weight), t.K, t.N);
      const ctx = calibrated ? inputContext(concat(acts.get(t.node.input[0])!), t.K) : undefined;
      for (const bits of spec.bits) {
        throwIfAborted(o.signal);
        o.onProgress?.({ status: 'sensitivity', done, total, weight: t.weight.name, bits });
        const gridSpec: GridSpec = {
          bits,
          blockSize: spec.blockSize,
          symmetric: spec.symmetric,
          scaleType: spec.scaleType,
        };
        const deq = dequantizeGrid(quantizer(rows, t.N, t.K, gridSpec, ctx));
        const weight = t.layout === 'NK' ? deq : transpose(deq, t.N, t.K);
        const acc = await scoreSwapped(swap, windows, base, new Map([[t.weight.name, weight]]));
        const s = acc.stats();
        const bytes = nbitsBytes(t.K, t.N, bits, spec);
        entries.push({
          weight: t.weight.name,
          ...layerModule(t.weight.name),
          K: t.K,
          N: t.N,
          bits,
          method: spec.method,
          bytes,
          bits_per_weight: (8 * bytes) / (t.K * t.N),
          kld_mean: s.kld_mean,
          kld_p99: s.kld_p99,
          same_top_pct: s.same_top_pct,
          ppl: s.ppl,
        });
        done++;
      }
    }
    o.onProgress?.({ status: 'sensitivity', done, total, weight: '', bits: spec.bits[spec.bits.length - 1] });
    return {
      ...spec,
      ctx: o.ctx,
      tokens: o.ids.length,
      windows: windows.length,
      positions: baseAcc.count,
      ppl_base: baseAcc.stats().ppl,
      entries,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await swap.release();
  }
}

/** One scored position of the fp32 run: its log-probabilities, their exp and the first top token. */
interface BaseRow {
  lp: Float64Array;
  p: Float64Array;
  top: number;
}

async function scoreSwapped(
  swap: WeightSwap,
  windows: Window[],
  base: BaseRow[][],
  overrides: Map<string, Float32Array>,
): Promise<QualityAccumulator> {
  const acc = new QualityAccumulator();
  for (const [i, w] of windows.entries()) {
    const run = await swap.run(w.ids, overrides);
    for (let r = 0; r < w.scored; r++) {
      const j = w.firstRow + r;
      acc.add(scoreRow(run.logits, j * run.vocab, run.vocab, base[i][r], w.ids[j + 1]));
    }
  }
  return acc;
}

/**
 * compareLogProbs(base.lp, logSoftmax64(logits row), token) without building the row's
 * log-probabilities or recomputing the baseline's exp and top token: the same float64 operations
 * in the same order, so the same values to the bit.
 */
function scoreRow(logits: Float32Array, off: number, vocab: number, base: BaseRow, token: number): PositionStats {
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) if (logits[off + i] > max) max = logits[off + i];
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += Math.exp(logits[off + i] - max);
  const lse = max + Math.log(sum);
  const { lp, p } = base;
  let kld = 0;
  let top = 0;
  let topValue = logits[off] - lse;
  for (let i = 0; i < vocab; i++) {
    const lq = logits[off + i] - lse;
    if (p[i] > 0) kld += p[i] * (lp[i] - lq);
    if (lq > topValue) {
      topValue = lq;
      top = i;
    }
  }
  const nll = -(logits[off + token] - lse);
  const nllBase = -lp[token];
  return { nll, nllBase, kld, pDiff: Math.exp(-nll) - Math.exp(-nllBase), sameTop: top === base.top };
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** The CSV columns of a sensitivity report, one row per weight and width. */
export const SENSITIVITY_COLUMNS = [
  'weight',
  'layer',
  'module',
  'K',
  'N',
  'method',
  'bits',
  'bytes',
  'bits_per_weight',
  'kld_mean',
  'kld_p99',
  'same_top_pct',
  'ppl',
] as const;

/** The report's entries as CSV (RFC 4180), most divergent first. */
export function sensitivityCsv(r: SensitivityReport, opts?: CsvOptions): string {
  return toCsv(SENSITIVITY_COLUMNS, sortedBySensitivity(r.entries) as unknown as Record<string, Cell>[], opts);
}

/** The report as `quantlab sensitivity --json` prints it: the model and calibration text named first. */
export function sensitivityJson(r: SensitivityReport, about: { model: string; calib_file?: string }): string {
  return toJson({ model: about.model, calib_file: about.calib_file, ...r });
}

/** Entries sorted by mean KLD, largest first (ties in graph order). */
export function sortedBySensitivity(entries: readonly SensitivityEntry[]): SensitivityEntry[] {
  return entries
    .map((e, i) => ({ e, i }))
    .sort((a, b) => b.e.kld_mean - a.e.kld_mean || a.i - b.i)
    .map(({ e }) => e);
}
