// The bf16 variant: every weight rounded to bfloat16 (nearest even) but stored and computed as
// float32, because ONNX Runtime Web has no bfloat16 kernels and the papers' baseline is bf16.

import { create } from '@bufbuild/protobuf';
import { GraphProtoSchema } from 'onnx-buf';
import {
  DataType,
  makeTensor,
  tensorDims,
  tensorSize,
  tensorToFloat32,
  type GraphProto,
  type TensorProto,
} from '../onnx/proto';
import { analyzeGraph } from './graph-info';
import type { ConvertedTensor, TensorHook } from './float16';
import { ErrorStats } from './weight-error';

/**
 * Rounds the weights of an fp32 graph to bfloat16 values. Weights are float initializers with
 * more than one element that feed the activation path (matrices, embeddings, norm weights,
 * biases); scalar constants and constant islands (rotary inverse frequencies) stay exact, as
 * Hugging Face keeps them in float32. Names in `keep` are left untouched.
 */
export async function roundGraphToBfloat16(
  graph: GraphProto,
  keep: Set<string> = new Set(),
  between?: TensorHook,
): Promise<{ graph: GraphProto; converted: ConvertedTensor[] }> {
  const info = analyzeGraph(graph);
  const weights = new Set<string>();
  graph.node.forEach((node) => {
    const active = node.input.some((x) => info.activation.has(x));
    if (!active) return;
    for (const x of node.input) {
      const t = info.initializers.get(x);
      if (t && t.dataType === DataType.FLOAT && tensorSize(t) > 1 && !keep.has(x) && !keep.has(node.name))
        weights.add(x);
    }
  });
  const converted: ConvertedTensor[] = [];
  const initializer: TensorProto[] = [];
  for (const t of graph.initializer) {
    if (!weights.has(t.name)) {
      initializer.push(t);
      continue;
    }
    await between?.(t.name, converted.length, weights.size);
    const src = tensorToFloat32(t);
    const out = new Float32Array(src.length);
    const words = new Uint32Array(src.buffer, src.byteOffset, src.length);
    const outWords = new Uint32Array(out.buffer);
    const error = new ErrorStats();
    let sumSq = 0;
    let maxErr = 0;
    for (let i = 0; i < src.length; i++) {
      const b = words[i];
      // Round to nearest even on the top 16 bits (NaN and inf keep their class).
      outWords[i] =
        (b & 0x7f800000) === 0x7f800000
          ? (b & 0xffff0000) | (b & 0xffff ? 0x400000 : 0)
          : ((b + 0x7fff + ((b >>> 16) & 1)) & 0xffff0000) >>> 0;
      const d = out[i] - src[i];
      sumSq += d * d;
      if (d > maxErr) maxErr = d;
      else if (-d > maxErr) maxErr = -d;
    }
    error.addBatch(src.length, sumSq, maxErr);
    converted.push({ name: t.name, shape: tensorDims(t), error });
    initializer.push(makeTensor(t.name, DataType.FLOAT, tensorDims(t), out));
  }
  return { graph: create(GraphProtoSchema, { ...graph, initializer }), converted };
}
