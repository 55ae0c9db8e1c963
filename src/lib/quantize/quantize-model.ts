// Rewrites an fp32 decoder ONNX model into one precision variant, tensor by tensor, with progress,
// cancellation between tensors, and a report (bytes, bits per weight, weight error per tensor).

import { create } from '@bufbuild/protobuf';
import { GraphProtoSchema, ModelProtoSchema, OperatorSetIdProtoSchema, StringStringEntryProtoSchema } from 'onnx-buf';
import { QuantlabError, throwIfAborted } from '../errors';
import { encodeModelFiles, type ExternalDataOptions } from '../onnx/external-data';
import {
  DataType,
  tensorSize,
  tensorToFloat32,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from '../onnx/proto';
import { roundGraphToBfloat16 } from './bfloat16';
import { quantizeBnb4 } from './bnb4';
import { createDynamicMap } from './codebooks';
import {
  MS_DOMAIN,
  dqBytes,
  emitBnb4,
  emitDoubleQuantAbsmax,
  emitInteger,
  emitNBits,
  initializerBytes,
  type DqEntry,
  type Emitted,
} from './emit';
import { convertGraphToFloat16, type ConvertedTensor } from './float16';
import { quantizeInt8 } from './int8';
import { packNBits } from './nbits';
import { dequantizeGrid, type WeightContext } from './grid';
import { POOLED_METHODS, WEIGHT_METHODS, storageBitsFor, type WeightCalibrator } from './methods';
import type { JobPool } from './jobs';
import { transpose } from '../numeric/transpose';
import type { ErrorStats } from './weight-error';
import { findWeightTargets, fp32Graph, type WeightTarget } from './targets';
import {
  describeFormat,
  resolveOptions,
  type Dtype,
  type QuantizeOptions,
  type ResolvedOptions,
} from '../variants/options';
import { variantFileName } from '../variants/table';

/** Progress of one variant: `done` of `total` tensors, monotone, ending with done === total. */
export interface QuantizeProgress {
  status: 'quantize';
  dtype: Dtype;
  file: string;
  tensor: string;
  done: number;
  total: number;
}

export interface TensorReport {
  name: string;
  shape: number[];
  format: string;
  bytes: number;
  bitsPerWeight: number;
  rmsError: number;
  maxError: number;
}

export interface VariantReport {
  dtype: Dtype;
  file: string;
  format: string;
  options: ResolvedOptions;
  /** Bytes of the .onnx file and its .onnx_data files together. */
  fileBytes: number;
  /** The .onnx_data files holding its weights, when it is too large for one file (or was asked to). */
  externalData?: string[];
  /** Float parameters of the source model (initializers with more than one element). */
  weightCount: number;
  quantizedWeightCount: number;
  /** Storage bits per weight of the rewritten tensors, scales and zero points included. */
  bitsPerWeightQuantized: number;
  /** 8 * file bytes (data files included) / weightCount. */
  bitsPerWeightOverall: number;
  tensors: TensorReport[];
  /** Weights left in full precision (lm_head, user keep-list). */
  kept: string[];
  warnings: string[];
  seconds: number;
}

export interface QuantizeHooks {
  onProgress?: (p: QuantizeProgress) => void;
  signal?: AbortSignal;
  /** When the output keeps its weights in .onnx_data files (default: only past protobuf's 2 GB limit). */
  write?: ExternalDataOptions;
  /** Inputs of each weight, for methods that need a calibration text (GPTQ, AWQ). */
  calibrator?: WeightCalibrator;
  /** Threads for the methods that can use them (GPTQ, AWQ); without it they run on this thread. */
  pool?: JobPool;
}

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

function tensorReport(name: string, shape: number[], format: string, bytes: number, error: ErrorStats): TensorReport {
  const count = shape.reduce((a, b) => a * b, 1);
  return { name, shape, format, bytes, bitsPerWeight: (8 * bytes) / count, rmsError: error.rms, maxError: error.max };
}

/** The weight as rows [N, K] (for MatMulNBits / MatMulBnb4) or as [K, N] (for MatMulInteger). */
function weightAs(t: WeightTarget, layout: 'NK' | 'KN'): Float32Array {
  const data = tensorToFloat32(t.weight);
  if (t.layout === layout) return data;
  return t.layout === 'KN' ? transpose(data, t.K, t.N) : transpose(data, t.N, t.K);
}

/**
 * Quantizes one MatMul/Gemm weight; returns replacement nodes and initializers. `dql` shares
 * DynamicQuantizeLinear nodes between MatMuls reading the same activation.
 */
async function quantizeTarget(
  t: WeightTarget,
  o: ResolvedOptions,
  dql: Map<string, string[]>,
  ctx?: WeightContext,
  wantDequantized = false,
  pool?: JobPool,
): Promise<{ emitted: Emitted; error: ErrorStats; format: string; dq?: DqEntry; dequantized?: Float32Array }> {
  const x = t.node.input[0];
  const name = t.weight.name;
  switch (o.dtype) {
    case 'q4':
    case 'q4f16': {
      // A mixed-precision plan gives this weight its own width and method.
      const choice = o.plan?.find((c) => c.weight === name);
      const bits = choice?.bits ?? o.bits;
      const methodName = choice?.method ?? o.method;
      const method = WEIGHT_METHODS[methodName];
      const pooled = pool && POOLED_METHODS[methodName];
      if (!method)
        throw new QuantlabError(
          'bad-argument',
          `Method "${choice?.method ?? o.method}" is not available in this build`,
        );
      const rows = weightAs(t, 'NK');
      const spec = {
        bits,
        blockSize: o.blockSize,
        symmetric: o.symmetric,
        scaleType: o.dtype === 'q4f16' ? ('float16' as const) : ('float32' as const),
      };
      const grid = pooled ? await pooled(pool, rows, t.N, t.K, spec, ctx) : method(rows, t.N, t.K, spec, ctx);
      const storage = storageBitsFor(bits);
      const q = packNBits(grid, storage, rows);
      return {
        emitted: emitNBits(t.node, x, name, q, storage, o.blockSize),
        error: q.error,
        format: 'MatMulNBits',
        dequantized: wantDequantized ? dequantizeGrid(grid) : undefined,
      };
    }
    case 'bnb4': {
      const q = quantizeBnb4(weightAs(t, 'NK'), t.N, t.K, o.quantType, o.blockSize, o.doubleQuant);
      const emitted = emitBnb4(t.node, x, name, q, o.quantType);
      const dq = q.dq && { absmax: emitted.absmax, count: q.absmax.length, dq: q.dq };
      return { emitted, error: q.error, format: 'MatMulBnb4', dq };
    }
    case 'q8':
    case 'int8':
    case 'uint8': {
      const q = quantizeInt8(weightAs(t, 'KN'), t.K, t.N, o.dtype === 'int8' ? 'int8' : 'uint8', o.perChannel);
      return { emitted: emitInteger(t.node, x, name, q, dql), error: q.error, format: 'MatMulInteger' };
    }
    default:
      throw new QuantlabError('internal', `dtype ${o.dtype} has no per-weight quantizer`);
  }
}

/**
 * Rewrites an fp32 decoder into the variant `options` describes. The input model is not
 * modified. `bytes` is the .onnx file; `files` maps it and any .onnx_data files (hooks.write) to
 * their bytes by name. Throws QuantlabError ('bad-argument', 'already-quantized', 'no-weights',
 * 'cancelled') before producing anything.
 */
export async function quantizeModel(
  model: ModelProto,
  options: QuantizeOptions,
  hooks: QuantizeHooks = {},
): Promise<{ model: ModelProto; bytes: Uint8Array; files: Map<string, Uint8Array>; report: VariantReport }> {
  const started = performance.now();
  const o = resolveOptions(options);
  const file = variantFileName(o);
  const graph = fp32Graph(model, 'Quantize');
  const targets = findWeightTargets(graph);
  if (targets.length === 0) {
    throw new QuantlabError(
      'no-weights',
      'The model has no float32 MatMul or Gemm weights to quantize',
      'Use an fp32 export whose linear layers are MatMul nodes with initializer weights.',
    );
  }
  const keep = new Set(o.keep);
  const converting = o.dtype === 'fp16' || o.dtype === 'bf16';
  // fp16 converts the whole graph; bf16 honours only the user's keep-list; the rest also keep the lm_head.
  const isKept = (t: WeightTarget) =>
    (t.role === 'lm_head' && o.keepLmHead && !converting) || keep.has(t.node.name) || keep.has(t.weight.name);
  const kept = o.dtype === 'fp16' ? [] : targets.filter(isKept);
  const selected = converting ? [] : targets.filter((t) => !kept.includes(t));
  const unknown = o.plan?.find((c) => !selected.some((t) => t.weight.name === c.weight));
  if (unknown) {
    throw new QuantlabError(
      'no-weights',
      `The plan names ${unknown.weight}, which is not a quantized linear weight of this model`,
      'Measure this model again (quantlab sensitivity) and plan from its own weights.',
    );
  }
  if (!converting && selected.length === 0) {
    throw new QuantlabError(
      'no-weights',
      `All ${targets.length} MatMul/Gemm weights are kept in full precision`,
      'Remove names from the keep list or quantize the lm_head.',
    );
  }

  const weightCount = graph.initializer.reduce(
    (a, t) => (t.dataType === DataType.FLOAT && tensorSize(t) > 1 ? a + tensorSize(t) : a),
    0,
  );
  const report: TensorReport[] = [];
  const warnings: string[] = [];
  const total = converting ? 0 : selected.length + (o.dtype === 'q4f16' ? 1 : 0);
  const progress = (tensor: string, done: number, n: number) =>
    hooks.onProgress?.({ status: 'quantize', dtype: o.dtype, file, tensor, done, total: n });
  const step = async (tensor: string, done: number, n: number) => {
    await tick();
    throwIfAborted(hooks.signal);
    progress(tensor, done, n);
  };

  let nodes: NodeProto[] = graph.node;
  let initializers: TensorProto[] = graph.initializer;
  let dropped = new Set<string>();
  if (!converting) {
    const replaced = new Map<number, NodeProto[]>();
    const added: TensorProto[] = [];
    const addedNames = new Set<string>();
    const dql = new Map<string, string[]>();
    const dqs: DqEntry[] = [];
    for (let i = 0; i < selected.length; i++) {
      const t = selected[i];
      await step(t.weight.name, i, total);
      const ctx = await hooks.calibrator?.contextFor(t);
      throwIfAborted(hooks.signal);
      const { emitted, error, format, dq, dequantized } = await quantizeTarget(
        t,
        o,
        dql,
        ctx,
        hooks.calibrator !== undefined,
        hooks.pool,
      );
      if (dequantized) hooks.calibrator?.quantized(t, dequantized);
      const fresh = emitted.initializers.filter((x) => !addedNames.has(x.name));
      fresh.forEach((x) => addedNames.add(x.name));
      added.push(...fresh);
      replaced.set(t.nodeIndex, emitted.nodes);
      if (dq && fresh.length > 0) dqs.push(dq);
      const bytes = initializerBytes(fresh) + (dq ? dqBytes(dq) : 0);
      if (fresh.length > 0) report.push(tensorReport(t.weight.name, [t.K, t.N], format, bytes, error));
    }
    nodes = graph.node.flatMap((n, i) => replaced.get(i) ?? [n]);
    if (dqs.length > 0) {
      // The absmax decode reads only initializers, so it can lead the graph.
      const d = emitDoubleQuantAbsmax(dqs, createDynamicMap());
      nodes = [...d.nodes, ...nodes];
      added.push(...d.initializers);
    }
    const used = new Set(nodes.flatMap((n) => n.input));
    dropped = new Set(selected.map((t) => t.weight.name).filter((w) => !used.has(w)));
    initializers = [...graph.initializer.filter((t) => !dropped.has(t.name)), ...added];
  }
  // Old-IR graphs also list initializers as inputs: drop those of removed weights.
  let newGraph = create(GraphProtoSchema, {
    ...graph,
    node: nodes,
    initializer: initializers,
    input: graph.input.filter((v) => !dropped.has(v.name)),
  });

  let converted: ConvertedTensor[] = [];
  if (o.dtype === 'fp16') {
    const c = await convertGraphToFloat16(newGraph, step);
    newGraph = c.graph;
    warnings.push(...c.warnings);
    converted = c.converted;
  } else if (o.dtype === 'q4f16') {
    // The rest of the graph (activations, kept weights) goes to float16 as one final step.
    const c = await convertGraphToFloat16(newGraph, (name) => step(name, selected.length, total));
    newGraph = c.graph;
    warnings.push(...c.warnings);
  } else if (o.dtype === 'bf16') {
    const c = await roundGraphToBfloat16(newGraph, keep, step);
    newGraph = c.graph;
    converted = c.converted;
  }
  if (converting) {
    for (const c of converted) {
      if (c.shape.length < 2) continue;
      const bytes = c.shape.reduce((a, b) => a * b, 1) * (o.dtype === 'fp16' ? 2 : 4);
      report.push(
        tensorReport(c.name, c.shape, o.dtype === 'fp16' ? 'float16' : 'bfloat16-as-float32', bytes, c.error),
      );
    }
  }
  throwIfAborted(hooks.signal);

  const opsetImport = [...model.opsetImport];
  if (newGraph.node.some((n) => n.domain === MS_DOMAIN) && !opsetImport.some((x) => x.domain === MS_DOMAIN)) {
    opsetImport.push(create(OperatorSetIdProtoSchema, { domain: MS_DOMAIN, version: 1n }));
  }
  const metadataProps = [
    ...model.metadataProps.filter((p) => p.key !== 'quantlab.quantization'),
    create(StringStringEntryProtoSchema, { key: 'quantlab.quantization', value: JSON.stringify(o) }),
  ];
  const out = create(ModelProtoSchema, { ...model, graph: newGraph, opsetImport, metadataProps });
  // The .onnx first, then its data files if it needs any.
  const files = encodeModelFiles(out, file.slice(0, -'.onnx'.length), hooks.write);
  const bytes = files.get(file)!;
  const fileBytes = [...files.values()].reduce((a, b) => a + b.byteLength, 0);
  const externalData = [...files.keys()].filter((f) => f !== file);
  const finalTotal = converting ? Math.max(1, converted.length) : total;
  progress('', finalTotal, finalTotal);

  const quantizedWeightCount = report.reduce((a, r) => a + r.shape.reduce((x, y) => x * y, 1), 0);
  const quantizedBytes = report.reduce((a, r) => a + r.bytes, 0);
  return {
    model: out,
    bytes,
    files,
    report: {
      dtype: o.dtype,
      file,
      format: describeFormat(o),
      options: o,
      fileBytes,
      ...(externalData.length ? { externalData } : {}),
      weightCount,
      quantizedWeightCount,
      bitsPerWeightQuantized: quantizedWeightCount ? (8 * quantizedBytes) / quantizedWeightCount : 0,
      bitsPerWeightOverall: weightCount ? (8 * fileBytes) / weightCount : 0,
      tensors: report,
      kept: kept.map((t) => t.weight.name),
      warnings,
      seconds: (performance.now() - started) / 1000,
    },
  };
}
