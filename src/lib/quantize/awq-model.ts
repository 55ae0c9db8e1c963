// AWQ over a whole decoder graph: groups the linears by shared input, searches each group's
// input-channel scales on the fp32 model's calibration inputs (scaling leaves the function
// unchanged, so every group sees the same inputs it would in the scaled model), folds 1/s into
// what produces the input (an RMSNorm's weight, or the linear before an elementwise product, as
// up_proj before down_proj), and hands quantizeModel the scaled model plus each weight's Hessian
// of its scaled inputs for the clip search.

import { create } from '@bufbuild/protobuf';
import { GraphProtoSchema, ModelProtoSchema } from 'onnx-buf';
import { throwIfAborted } from '../errors';
import {
  DataType,
  attr,
  encodeModel,
  makeGraph,
  makeModel,
  makeNode,
  makeTensor,
  valueInfo,
  tensorDims,
  tensorToFloat32,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from '../onnx/proto';
import { transpose } from '../numeric/transpose';
import { AWQ_SEARCH_TOKENS, awqSearchScaleWith, type AwqProduct } from './awq';
import { GraphCapture, type CalibRuntime } from './calibration';
import type { GridSpec } from './grid';
import type { WeightCalibrator } from './methods';
import { findWeightTargets, type WeightTarget } from './targets';

/** What AWQ did to one group of linears sharing an input. */
export interface AwqGroupReport {
  input: string;
  weights: string[];
  /** Where 1/s went: the RMSNorm weight, the linear before, or nowhere (no scaling: clip search only). */
  folded: 'norm' | 'linear' | 'none';
  alpha?: number;
}

export interface AwqPrepared {
  model: ModelProto;
  calibrator: WeightCalibrator;
  groups: AwqGroupReport[];
}

export interface AwqHooks {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, input: string) => void;
  /** Weights left in full precision (the lm_head, a keep-list): not searched for, but scaled with their group. */
  kept?: (t: WeightTarget) => boolean;
  /** Tokens of the calibration inputs the α search measures on (evenly spaced; default AWQ_SEARCH_TOKENS). */
  searchTokens?: number;
}

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** One ONNX Runtime session computing X [T, K] · Dᵀ for D [N, K], for the α search (any T, K, N). */
async function productSession(
  runtime: CalibRuntime,
): Promise<{ bind(X: Float32Array, K: number): AwqProduct; release(): Promise<void> }> {
  const graph = makeGraph({
    name: 'quantlab_awq_product',
    nodes: [makeNode('Gemm', ['x', 'd'], ['y'], 'product', [attr.int('transB', 1)])],
    initializers: [],
    inputs: [valueInfo('x', DataType.FLOAT, ['T', 'K']), valueInfo('d', DataType.FLOAT, ['N', 'K'])],
    outputs: [valueInfo('y', DataType.FLOAT, ['T', 'N'])],
  });
  const session = await runtime.createSession(encodeModel(makeModel({ graph, opsets: { '': 17 } })));
  return {
    bind(X, K) {
      const x = runtime.tensor('float32', X, [X.length / K, K]);
      return async (d, N) => {
        const out = await session.run({ x, d: runtime.tensor('float32', d, [N, K]) });
        return out.y.data as Float32Array;
      };
    },
    release: async () => session.release?.(),
  };
}

/** Scales, folds and prepares the clip search; the returned model is what quantizeModel rewrites. */
export async function awqPrepare(
  model: ModelProto,
  runtime: CalibRuntime,
  windows: number[][],
  spec: GridSpec,
  hooks: AwqHooks = {},
): Promise<AwqPrepared> {
  const graph = model.graph!;
  const targets = findWeightTargets(graph);
  const inits = new Map(graph.initializer.map((t) => [t.name, t]));
  const uses = new Map<string, number>();
  const producer = new Map<string, number>();
  graph.node.forEach((n, i) => {
    n.input.forEach((x) => uses.set(x, (uses.get(x) ?? 0) + 1));
    n.output.forEach((o) => producer.set(o, i));
  });
  const groups = new Map<string, WeightTarget[]>();
  for (const t of targets) {
    const x = t.node.input[0];
    groups.set(x, [...(groups.get(x) ?? []), t]);
  }
  // Current values of every initializer AWQ changes, in the initializer's own layout.
  const changed = new Map<string, Float32Array>();
  const valueOf = (t: TensorProto) => changed.get(t.name) ?? tensorToFloat32(t);
  const rowsOf = (t: WeightTarget) => {
    const d = valueOf(t.weight);
    return t.layout === 'NK' ? d : transpose(d, t.K, t.N);
  };
  const capture = new GraphCapture(model, targets, runtime, windows, { hessian: true, inputs: true });
  // Per input, the diagonal blocks of H (of the scaled inputs): all the clip search reads.
  const hessians = new Map<string, Float64Array>();
  const bs = spec.blockSize;
  const diagonalBlocks = (K: number, h: (i: number, j: number) => number) => {
    const out = new Float64Array(Math.ceil(K / bs) * bs * bs);
    for (let k0 = 0; k0 < K; k0 += bs) {
      const len = Math.min(K, k0 + bs) - k0;
      const o = (k0 / bs) * bs * bs;
      for (let i = 0; i < len; i++) for (let j = 0; j < len; j++) out[o + i * bs + j] = h(k0 + i, k0 + j);
    }
    return out;
  };
  const reports: AwqGroupReport[] = [];
  let done = 0;
  const product = await productSession(runtime);
  try {
    for (const [x, group] of groups) {
      const searched = group.filter((t) => !hooks.kept?.(t));
      if (searched.length === 0) {
        done++;
        continue;
      }
      await tick();
      throwIfAborted(hooks.signal);
      hooks.onProgress?.(done, groups.size, x);
      const K = group[0].K;
      const c = await capture.capture(x, K);
      const report: AwqGroupReport = { input: x, weights: group.map((t) => t.weight.name), folded: 'none' };
      reports.push(report);
      done++;
      const fold = foldTarget(x, K, graph.node, producer, uses, inits, targets);
      // A weight read elsewhere too (an lm_head tied to the embedding) cannot be scaled.
      if (!fold || group.some((t) => uses.get(t.weight.name) !== 1)) {
        const H = c.hessian!;
        hessians.set(
          x,
          diagonalBlocks(K, (i, j) => H[i * K + j]),
        );
        capture.release(x);
        continue;
      }
      const T = c.tokens;
      const want = Math.min(T, hooks.searchTokens ?? AWQ_SEARCH_TOKENS);
      const step = T / want;
      const X = new Float32Array(want * K);
      for (let i = 0; i < want; i++)
        X.set(c.inputs!.subarray(Math.floor(i * step) * K, (Math.floor(i * step) + 1) * K), i * K);
      const weights = searched.map((t) => ({ rows: rowsOf(t), N: t.N }));
      const { alpha, scales: s } = await awqSearchScaleWith(
        product.bind(X, K),
        weights,
        K,
        X,
        want,
        c.meanAbs!,
        spec,
        undefined,
        runtime.pool,
      );
      report.folded = fold.kind;
      report.alpha = alpha;
      // W · diag(s) for each weight of the group.
      for (const t of group) {
        const d = Float32Array.from(valueOf(t.weight));
        for (let i = 0; i < d.length; i++) {
          const k = t.layout === 'KN' ? Math.floor(i / t.N) : i % t.K;
          d[i] *= s[k];
        }
        changed.set(t.weight.name, d);
      }
      // 1/s into the input's producer.
      if (fold.kind === 'norm') {
        changed.set(
          fold.tensor.name,
          valueOf(fold.tensor).map((v, k) => v / s[k]),
        );
      } else {
        const t2 = fold.target!;
        const d = Float32Array.from(valueOf(t2.weight));
        for (let i = 0; i < d.length; i++) {
          const n = t2.layout === 'KN' ? i % t2.N : Math.floor(i / t2.K);
          d[i] /= s[n];
        }
        changed.set(t2.weight.name, d);
      }
      const H = c.hessian!;
      hessians.set(
        x,
        diagonalBlocks(K, (i, j) => H[i * K + j] / (s[i] * s[j])),
      );
      capture.release(x);
    }
  } finally {
    await product.release();
  }
  hooks.onProgress?.(done, groups.size, '');
  const initializer = graph.initializer.map((t) =>
    changed.has(t.name) ? makeTensor(t.name, DataType.FLOAT, tensorDims(t), changed.get(t.name)!) : t,
  );
  const out = create(ModelProtoSchema, { ...model, graph: create(GraphProtoSchema, { ...graph, initializer }) });
  return {
    model: out,
    groups: reports,
    calibrator: {
      contextFor: async (t) => ({ hessianBlocks: hessians.get(t.node.input[0]) }),
      quantized: () => {},
    },
  };
}

/**
 * What 1/s can be folded into for input x: Mul(y, w) with w a [K] initializer read only there (an
 * RMSNorm's weight), or Mul(a, b) with one side the [.., K] output of a linear read only there (up_proj
 * before down_proj). Anything else (attention output before o_proj) is left unscaled.
 */
function foldTarget(
  x: string,
  K: number,
  nodes: NodeProto[],
  producer: Map<string, number>,
  uses: Map<string, number>,
  inits: Map<string, TensorProto>,
  targets: WeightTarget[],
): { kind: 'norm' | 'linear'; tensor: TensorProto; target?: WeightTarget } | undefined {
  const p = producer.get(x);
  if (p === undefined) return undefined;
  const node = nodes[p];
  if (node.opType !== 'Mul' || node.input.length !== 2) return undefined;
  for (const name of node.input) {
    const w = inits.get(name);
    if (w && w.dataType === DataType.FLOAT && tensorDims(w).join() === String(K) && uses.get(name) === 1) {
      return { kind: 'norm', tensor: w };
    }
  }
  for (const name of node.input) {
    const t = targets.find((c) => c.node.output[0] === name);
    if (t && t.N === K && uses.get(name) === 1 && uses.get(t.weight.name) === 1) {
      return { kind: 'linear', tensor: t.weight, target: t };
    }
  }
  return undefined;
}
