// One ONNX Runtime session of an fp32 decoder whose linear weights are graph inputs, so a
// measurement can run the model with any one weight swapped for its quantized-then-dequantized
// copy without building a new file: layer sensitivity runs it once per weight and bit width.

import { create } from '@bufbuild/protobuf';
import {
  GraphProtoSchema,
  ModelProtoSchema,
  TypeProtoSchema,
  TypeProto_TensorSchema,
  ValueInfoProtoSchema,
} from 'onnx-buf';
import { QuantlabError } from '../errors';
import { DataType, encodeModel, tensorToFloat32, valueInfo, type ModelProto, type ValueInfoProto } from '../onnx/proto';
import { emptyPast, kvCacheLayout, type OrtSession, type OrtTensor, type TensorCtor } from '../onnx/session';
import type { WeightTarget } from './targets';

/** The ONNX Runtime a measurement runs on: onnxruntime-node in the CLI, onnxruntime-web in a worker. */
export interface OrtRuntime {
  Tensor: TensorCtor;
  createSession(bytes: Uint8Array): Promise<OrtSession & { release?(): Promise<void> }>;
}

/** A float32 tensor value info with no shape (ONNX Runtime infers it). */
function floatOutput(name: string): ValueInfoProto {
  const tensorType = create(TypeProto_TensorSchema, { elemType: DataType.FLOAT });
  return create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, { value: { case: 'tensorType', value: tensorType } }),
  });
}

/**
 * A copy of `model` whose `targets`' weights are graph inputs (same names and shapes, float32)
 * instead of initializers, with `logits` (and the `extraOutputs` named, float32) as its only
 * outputs: the KV cache outputs are dropped, its inputs stay (fed empty).
 */
export function weightInputModel(model: ModelProto, targets: WeightTarget[], extraOutputs: string[] = []): ModelProto {
  const graph = model.graph;
  if (!graph) throw new QuantlabError('bad-onnx', 'The model has no graph');
  const names = new Set(targets.map((t) => t.weight.name));
  const inputs: ValueInfoProto[] = graph.input.filter((v) => !names.has(v.name));
  for (const t of targets)
    inputs.push(valueInfo(t.weight.name, DataType.FLOAT, t.layout === 'KN' ? [t.K, t.N] : [t.N, t.K]));
  const logits = graph.output.find((o) => o.name === 'logits');
  if (!logits) throw new QuantlabError('bad-onnx', 'The model has no logits output');
  const known = new Set(graph.output.map((o) => o.name));
  const outputs = [
    logits,
    ...extraOutputs
      .filter((n) => n !== 'logits')
      .map((n) => (known.has(n) ? graph.output.find((o) => o.name === n)! : floatOutput(n))),
  ];
  const newGraph = create(GraphProtoSchema, {
    ...graph,
    initializer: graph.initializer.filter((t) => !names.has(t.name)),
    input: inputs,
    output: outputs,
  });
  return create(ModelProtoSchema, { ...model, graph: newGraph });
}

/** Logits [ids.length x vocab] of one run, and the extra outputs asked for. */
export interface SwapRun {
  logits: Float32Array;
  vocab: number;
  outputs: Map<string, Float32Array>;
}

/**
 * Runs an fp32 decoder with its weights fed per run: every target weight is its fp32 value
 * unless `overrides` gives another (same layout as the initializer). Release it when done.
 */
export class WeightSwap {
  readonly #runtime: OrtRuntime;
  readonly #session: OrtSession & { release?(): Promise<void> };
  readonly #weights = new Map<string, OrtTensor>();
  readonly #dims = new Map<string, number[]>();
  readonly #extra: string[];

  private constructor(runtime: OrtRuntime, session: OrtSession & { release?(): Promise<void> }, extra: string[]) {
    this.#runtime = runtime;
    this.#session = session;
    this.#extra = extra;
  }

  /** Builds the session; `extraOutputs` are tensor names (a MatMul's input, say) returned by every run. */
  static async open(
    runtime: OrtRuntime,
    model: ModelProto,
    targets: WeightTarget[],
    extraOutputs: string[] = [],
  ): Promise<WeightSwap> {
    const bytes = encodeModel(weightInputModel(model, targets, extraOutputs));
    const session = await runtime.createSession(bytes);
    const swap = new WeightSwap(runtime, session, extraOutputs);
    for (const t of targets) {
      const dims = t.layout === 'KN' ? [t.K, t.N] : [t.N, t.K];
      swap.#dims.set(t.weight.name, dims);
      swap.#weights.set(t.weight.name, new runtime.Tensor('float32', tensorToFloat32(t.weight), dims));
    }
    return swap;
  }

  /** Teacher-forced logits of `ids` from position 0, with `overrides` in place of those weights. */
  async run(ids: number[], overrides?: ReadonlyMap<string, Float32Array>): Promise<SwapRun> {
    const T = this.#runtime.Tensor;
    const n = ids.length;
    const feeds: Record<string, OrtTensor> = {
      input_ids: new T('int64', BigInt64Array.from(ids.map(BigInt)), [1, n]),
      attention_mask: new T('int64', new BigInt64Array(n).fill(1n), [1, n]),
    };
    const inputs = this.#session.inputNames;
    if (inputs.includes('position_ids')) {
      feeds.position_ids = new T('int64', BigInt64Array.from(ids.map((_, i) => BigInt(i))), [1, n]);
    }
    if (inputs.some((i) => i.startsWith('past_key_values.'))) {
      Object.assign(
        feeds,
        emptyPast(kvCacheLayout(this.#session), (type, data, dims) => new T(type, data, dims)),
      );
    }
    for (const [name, tensor] of this.#weights) {
      const o = overrides?.get(name);
      feeds[name] = o ? new T('float32', o, this.#dims.get(name)!) : tensor;
    }
    const out = await this.#session.run(feeds);
    const logits = out.logits;
    const outputs = new Map<string, Float32Array>();
    for (const name of this.#extra) outputs.set(name, out[name].data as Float32Array);
    return { logits: logits.data as Float32Array, vocab: logits.dims[logits.dims.length - 1], outputs };
  }

  async release(): Promise<void> {
    await this.#session.release?.();
  }
}
