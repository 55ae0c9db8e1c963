// Captures the inputs of each linear layer on a calibration text, as the partly quantized model
// computes them (GPTQ) or as the fp32 model does (AWQ). It runs pieces of the fp32 graph in ONNX
// Runtime: for each layer input asked for, the nodes it needs that have not run yet, fed with
// the tensors earlier pieces left behind and with each weight as quantized so far. Every node
// runs once over the whole model, so the cost is about one forward pass plus the statistics.

import { create } from '@bufbuild/protobuf';
import { GraphProtoSchema, ModelProtoSchema, ValueInfoProtoSchema } from 'onnx-buf';
import { QuantlabError } from '../errors';
import {
  DataType,
  attr,
  encodeModel,
  makeNode,
  makeTensor,
  tensorToFloat32,
  valueInfo,
  valueInfoShape,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from '../onnx/proto';
import type { MakeTensor, OrtTensor } from '../onnx/session';
import { planWindows } from '../metrics/windows';
import { transpose } from '../numeric/transpose';
import type { WeightContext } from './grid';
import type { JobPool } from './jobs';
import type { WeightCalibrator } from './methods';
import { findWeightTargets, type WeightTarget } from './targets';

/** An ONNX Runtime session over model bytes (onnxruntime-node in Node, onnxruntime-web in a worker). */
export interface CalibSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release?(): Promise<void>;
}

/** The runtime the calibration runs in. */
export interface CalibRuntime {
  createSession(bytes: Uint8Array): Promise<CalibSession>;
  tensor: MakeTensor;
  /** Threads for GPTQ's and AWQ's own loops (absent: they run on this thread). */
  pool?: JobPool;
}

export interface CalibrationText {
  /** Token ids of the whole text, with the BOS the tokenizer adds. */
  tokens: number[];
  /** The tokenizer's BOS id (each window starts with it), if any. */
  bos?: number;
}

export interface CalibrationSettings {
  /** Tokens of the text to use at most (default DEFAULT_CALIB_TOKENS). */
  tokens?: number;
  /** Tokens per window (default DEFAULT_CALIB_WINDOW, or the model's positions when it has fewer). */
  window?: number;
  /** The model's positions (max_position_embeddings): no window may be longer. */
  maxPositions?: number;
}

/** Calibration tokens of GPTQ and AWQ by default. */
export const DEFAULT_CALIB_TOKENS = 512;
/** Calibration tokens of layer sensitivity by default (sensitivity, quantize --budget): its cost grows with them. */
export const DEFAULT_SENSITIVITY_CALIB_TOKENS = 256;
export const DEFAULT_CALIB_WINDOW = 128;
/** The shortest window: BOS plus two tokens, so a sensitivity window scores at least one position. */
export const MIN_CALIB_WINDOW = 3;

/** A calibration text cut for use: the ids taken, and the same ids as back-to-back windows. */
export interface CalibrationCut {
  /** The text's first `tokens` ids (with the tokenizer's BOS); leftovers past the last whole window stay in. */
  ids: number[];
  /** The tokenizer's BOS id (each window starts with it), if any. */
  bos?: number;
  /** Tokens per window. */
  window: number;
  /** Windows of `window` ids, the first of each set to BOS. */
  windows: number[][];
}

/**
 * Cuts a calibration text into back-to-back windows of `window` tokens (the first of each set to
 * BOS), using at most `tokens` tokens. Refused by name: a window that is not a whole number from
 * MIN_CALIB_WINDOW to the model's positions, fewer tokens than one window, an empty text, a text
 * shorter than one window.
 */
export function cutCalibration(text: CalibrationText, s: CalibrationSettings = {}): CalibrationCut {
  const window = s.window ?? Math.min(DEFAULT_CALIB_WINDOW, s.maxPositions ?? DEFAULT_CALIB_WINDOW);
  const budget = s.tokens ?? DEFAULT_CALIB_TOKENS;
  if (!Number.isInteger(window) || window < MIN_CALIB_WINDOW) {
    throw new QuantlabError(
      'bad-argument',
      `Calibration window ${window} is not a whole number >= ${MIN_CALIB_WINDOW}`,
      `Give a window of ${MIN_CALIB_WINDOW} to ${s.maxPositions ?? DEFAULT_CALIB_WINDOW} tokens (--calib-window).`,
    );
  }
  if (s.maxPositions !== undefined && window > s.maxPositions) {
    throw new QuantlabError(
      'bad-argument',
      `Calibration window ${window} is longer than the model's ${s.maxPositions} positions (max_position_embeddings)`,
      `Give a window of at most ${s.maxPositions} tokens (--calib-window).`,
    );
  }
  if (!Number.isInteger(budget) || budget < window) {
    throw new QuantlabError(
      'bad-argument',
      `Calibration tokens ${budget} is less than one window of ${window}`,
      'Give at least as many calibration tokens (--calib-tokens) as the window length.',
    );
  }
  const real = text.tokens.filter((t) => t !== text.bos).length;
  if (real === 0) {
    throw new QuantlabError(
      'bad-argument',
      'The calibration text is empty',
      'Give a text of ordinary prose (the built-in sample, or a file or pasted text of a few thousand characters).',
    );
  }
  const ids = text.tokens.slice(0, budget);
  const windows = planWindows(ids, window, text.bos).map((w) => w.ids);
  if (windows.length === 0) {
    throw new QuantlabError(
      'bad-argument',
      `The calibration text is too short: ${text.tokens.length} tokens, one window needs ${window}`,
      'Give a longer text, or a shorter window (--calib-window).',
    );
  }
  return { ids, bos: text.bos, window, windows };
}

/** The windows of cutCalibration. */
export function calibrationWindows(text: CalibrationText, s: CalibrationSettings = {}): number[][] {
  return cutCalibration(text, s).windows;
}

/**
 * GPTQ's warning when its Hessians see fewer calibration tokens than the widest layer input has
 * channels: H = 2XXᵀ then has rank at most `tokens`, and the error feedback moves rounding error
 * into input directions the text never showed, unchecked (only the dampening holds it). On the
 * SmolLM2-135M-shaped fixture at 2 bits, 512 tokens (down_proj has 1,536 inputs) gave 3.5x RTN's
 * mean KLD and 4,096 tokens 0.67x. Undefined when there are enough.
 */
export function thinHessianWarning(tokens: number, widestInput: number): string | undefined {
  if (!(tokens > 0) || tokens >= widestInput) return undefined;
  const n = (x: number) => x.toLocaleString('en-US');
  return (
    `GPTQ sees ${n(tokens)} calibration tokens, fewer than the ${n(widestInput)} inputs of the widest layer: ` +
    'its correction is fitted to part of the input space and can make the model worse than rtn on other text. ' +
    `Use at least ${n(widestInput)} tokens (a longer text), or awq or hqq.`
  );
}

/** Seconds left at `fraction` done of a task started at `startedMs` (performance.now()); undefined before 2 % is done. */
export function timeLeft(startedMs: number, fraction: number, nowMs = performance.now()): number | undefined {
  if (!(fraction >= 0.02)) return undefined;
  return ((nowMs - startedMs) / 1000) * ((1 - Math.min(1, fraction)) / fraction);
}

/** Whether two texts are the same once whitespace runs are collapsed (calibrating on the evaluation text). */
export function sameText(a: string, b: string): boolean {
  const norm = (t: string) => t.replace(/\s+/g, ' ').trim();
  return norm(a) !== '' && norm(a) === norm(b);
}

const ELEM_TYPES: Record<string, DataType> = {
  float32: DataType.FLOAT,
  float16: DataType.FLOAT16,
  int64: DataType.INT64,
  int32: DataType.INT32,
  bool: DataType.BOOL,
  uint8: DataType.UINT8,
  int8: DataType.INT8,
};

/** What to capture for each layer input. */
export interface CaptureKinds {
  /** H = (2/T) XᵀX, [K, K] float64 (GPTQ). */
  hessian?: boolean;
  /** The inputs themselves, X [T, K] row per token, and mean |x| per channel (AWQ). */
  inputs?: boolean;
}

/** Inputs of one layer: H and/or X, as asked. */
export interface CapturedInput {
  K: number;
  tokens: number;
  hessian?: Float64Array;
  inputs?: Float32Array;
  meanAbs?: Float64Array;
}

/**
 * Runs a decoder graph piece by piece on calibration windows and returns the inputs of its
 * linear layers, with the weights as set so far (setWeight). Pieces reuse what earlier ones
 * computed, so inputs must be asked for in graph order; a weight set after a piece ran does not
 * change what that piece computed (GPTQ sets a weight only after its inputs were taken).
 */
export class GraphCapture {
  readonly #model: ModelProto;
  readonly #runtime: CalibRuntime;
  readonly #windows: number[][];
  readonly #kinds: CaptureKinds;
  readonly #producer = new Map<string, number>();
  readonly #consumers = new Map<string, number[]>();
  readonly #inits = new Map<string, TensorProto>();
  readonly #graphInputs = new Map<string, { elemType: number; dims: (number | string)[] }>();
  readonly #weights = new Map<string, { data: Float32Array; dims: number[] }>();
  readonly #cache = new Map<string, OrtTensor>();
  readonly #ran = new Set<number>();
  readonly #captured = new Map<string, CapturedInput>();
  /** Seconds spent in ONNX Runtime and building pieces (for reports). */
  seconds = 0;

  constructor(
    model: ModelProto,
    targets: WeightTarget[],
    runtime: CalibRuntime,
    windows: number[][],
    kinds: CaptureKinds,
  ) {
    const graph = model.graph;
    if (!graph) throw new QuantlabError('bad-onnx', 'The model has no graph');
    if (windows.length === 0) throw new QuantlabError('bad-argument', 'No calibration windows');
    this.#model = model;
    this.#runtime = runtime;
    this.#windows = windows;
    this.#kinds = kinds;
    graph.initializer.forEach((t) => this.#inits.set(t.name, t));
    graph.node.forEach((n, i) => {
      n.output.forEach((o) => this.#producer.set(o, i));
      for (const x of n.input) {
        if (!x) continue;
        const list = this.#consumers.get(x);
        if (list) list.push(i);
        else this.#consumers.set(x, [i]);
      }
    });
    for (const v of graph.input) {
      const s = valueInfoShape(v);
      if (s && !this.#inits.has(v.name)) this.#graphInputs.set(v.name, s);
    }
    for (const t of targets) {
      const dims = t.layout === 'KN' ? [t.K, t.N] : [t.N, t.K];
      this.#weights.set(t.weight.name, { data: tensorToFloat32(t.weight), dims });
    }
  }

  /** Sets a weight (in its initializer's layout) for every piece that runs from now on. */
  setWeight(t: WeightTarget, rowsNK: Float32Array): void {
    const data = t.layout === 'NK' ? rowsNK : transpose(rowsNK, t.N, t.K);
    this.#weights.set(t.weight.name, { data, dims: t.layout === 'KN' ? [t.K, t.N] : [t.N, t.K] });
  }

  /** Forgets what was captured for `x` (its Hessian and inputs can be collected once the caller is done). */
  release(x: string): void {
    this.#captured.delete(x);
  }

  /** The inputs of layer input tensor `x` (K features), running the piece of graph it needs. */
  async capture(x: string, K: number): Promise<CapturedInput> {
    const have = this.#captured.get(x);
    if (have) return have;
    const started = performance.now();
    const B = this.#windows.length;
    const S = this.#windows[0].length;
    const nodes = new Set<number>();
    const feeds: Record<string, OrtTensor> = {};
    const inputInfos = [];
    const inits: TensorProto[] = [];
    const seen = new Set<string>();
    const stack = [x];
    while (stack.length > 0) {
      const name = stack.pop()!;
      if (!name || seen.has(name)) continue;
      seen.add(name);
      const cached = this.#cache.get(name);
      const weight = this.#weights.get(name);
      let fed: OrtTensor | undefined;
      if (cached) fed = cached;
      else if (weight) fed = this.#runtime.tensor('float32', weight.data, weight.dims);
      else if (this.#inits.has(name)) {
        inits.push(this.#inits.get(name)!);
        continue;
      } else if (this.#graphInputs.has(name)) fed = this.#graphFeed(name, B, S);
      if (fed) {
        feeds[name] = fed;
        const type = ELEM_TYPES[fed.type];
        if (type === undefined) throw new QuantlabError('internal', `Cannot feed a ${fed.type} tensor (${name})`);
        inputInfos.push(valueInfo(name, type, [...fed.dims]));
        continue;
      }
      const p = this.#producer.get(name);
      if (p === undefined) throw new QuantlabError('bad-onnx', `Tensor ${name} has no producer in the graph`);
      if (nodes.has(p)) continue;
      nodes.add(p);
      stack.push(...this.#model.graph!.node[p].input);
    }
    const order = [...nodes].sort((a, b) => a - b);
    const graphNodes: NodeProto[] = order.map((i) => this.#model.graph!.node[i]);
    // What later pieces will need: outputs of these nodes read by nodes that have not run.
    const keep: string[] = [];
    for (const i of order) {
      for (const o of this.#model.graph!.node[i].output) {
        if ((this.#consumers.get(o) ?? []).some((c) => !nodes.has(c) && !this.#ran.has(c))) keep.push(o);
      }
    }
    const outputs = keep.filter((o) => o !== x);
    const X2 = `quantlab.calib.x`;
    const shape = 'quantlab.calib.shape';
    inits.push(makeTensor(shape, DataType.INT64, [2], new BigInt64Array([-1n, BigInt(K)])));
    graphNodes.push(makeNode('Reshape', [x, shape], [X2], 'quantlab.calib.reshape'));
    const statOutputs: string[] = [];
    if (this.#kinds.hessian) {
      graphNodes.push(
        makeNode('Transpose', [X2], ['quantlab.calib.xt'], 'quantlab.calib.t', [attr.ints('perm', [1, 0])]),
      );
      graphNodes.push(makeNode('MatMul', ['quantlab.calib.xt', X2], ['quantlab.calib.xtx'], 'quantlab.calib.xtx'));
      statOutputs.push('quantlab.calib.xtx');
    }
    if (this.#kinds.inputs) statOutputs.push(X2);
    const sub = create(ModelProtoSchema, {
      ...this.#model,
      metadataProps: [],
      graph: create(GraphProtoSchema, {
        name: 'quantlab_calibration_piece',
        node: graphNodes,
        initializer: inits,
        input: inputInfos,
        output: [...new Set([...outputs, x, ...statOutputs])].map((name) => create(ValueInfoProtoSchema, { name })),
      }),
    });
    const session = await this.#runtime.createSession(encodeModel(sub));
    let out: Record<string, OrtTensor>;
    try {
      out = await session.run(feeds);
    } finally {
      await session.release?.();
    }
    order.forEach((i) => this.#ran.add(i));
    for (const o of [...outputs, x]) if (out[o]) this.#cache.set(o, out[o]);
    // Drop what no node left to run reads (a weight set by GPTQ is a copy of its own).
    const needed = (name: string) => (this.#consumers.get(name) ?? []).some((c) => !this.#ran.has(c));
    for (const name of [...this.#cache.keys()]) if (!needed(name)) this.#cache.delete(name);
    for (const name of [...this.#weights.keys()]) if (!needed(name)) this.#weights.delete(name);
    const T = B * S;
    const result: CapturedInput = { K, tokens: T };
    if (this.#kinds.hessian) {
      const xtx = out['quantlab.calib.xtx'].data as Float32Array;
      const H = new Float64Array(K * K);
      for (let i = 0; i < K * K; i++) H[i] = (2 / T) * xtx[i];
      result.hessian = H;
    }
    if (this.#kinds.inputs) {
      const X = out[X2].data as Float32Array;
      const meanAbs = new Float64Array(K);
      for (let t = 0; t < T; t++) for (let k = 0; k < K; k++) meanAbs[k] += Math.abs(X[t * K + k]);
      for (let k = 0; k < K; k++) meanAbs[k] /= T;
      result.inputs = X;
      result.meanAbs = meanAbs;
    }
    this.#captured.set(x, result);
    this.seconds += (performance.now() - started) / 1000;
    return result;
  }

  #graphFeed(name: string, B: number, S: number): OrtTensor {
    const t = this.#runtime.tensor;
    if (name === 'input_ids') {
      return t(
        'int64',
        BigInt64Array.from(this.#windows.flat(), (v) => BigInt(v)),
        [B, S],
      );
    }
    if (name === 'attention_mask') return t('int64', new BigInt64Array(B * S).fill(1n), [B, S]);
    if (name === 'position_ids') {
      return t(
        'int64',
        BigInt64Array.from({ length: B * S }, (_, i) => BigInt(i % S)),
        [B, S],
      );
    }
    const info = this.#graphInputs.get(name)!;
    if (name.startsWith('past_key_values.') && info.dims.length === 4) {
      const [, heads, , hd] = info.dims;
      if (typeof heads === 'number' && typeof hd === 'number') {
        const type = info.elemType === DataType.FLOAT16 ? 'float16' : 'float32';
        return t(type, type === 'float16' ? new Uint16Array(0) : new Float32Array(0), [B, heads, 0, hd]);
      }
    }
    throw new QuantlabError(
      'unsupported-model',
      `The calibration cannot feed the model's input "${name}"`,
      'Calibrated methods (gptq, awq) run decoders whose inputs are input_ids, attention_mask, position_ids and past_key_values.* with fixed heads and head size.',
    );
  }
}

/**
 * The calibrator GPTQ uses: each weight's Hessian from its inputs in the partly quantized model
 * (every weight before it in graph order already quantized), as quantizeModel asks for them.
 */
export function hessianCalibrator(
  model: ModelProto,
  runtime: CalibRuntime,
  windows: number[][],
): WeightCalibrator & { capture: GraphCapture } {
  const targets = findWeightTargets(model.graph!);
  const capture = new GraphCapture(model, targets, runtime, windows, { hessian: true });
  // Weights left to quantize per input: the input's Hessian goes once the last is done.
  const left = new Map<string, number>();
  for (const t of targets) left.set(t.node.input[0], (left.get(t.node.input[0]) ?? 0) + 1);
  return {
    capture,
    async contextFor(t: WeightTarget): Promise<WeightContext> {
      const c = await capture.capture(t.node.input[0], t.K);
      return { hessian: c.hessian };
    },
    quantized(t: WeightTarget, dequantized: Float32Array) {
      capture.setWeight(t, dequantized);
      const x = t.node.input[0];
      const n = (left.get(x) ?? 1) - 1;
      left.set(x, n);
      if (n === 0) capture.release(x);
    },
  };
}
