// Rewrites an fp32 graph to compute in float16 with float16 I/O (as transformers.js's
// model_fp16.onnx files are), keeping the few numerically fragile parts in float32: constant
// islands (rotary angles from position_ids), softmax and RMSNorm statistics, as Hugging Face does.

import { create } from '@bufbuild/protobuf';
import {
  GraphProtoSchema,
  NodeProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
} from 'onnx-buf';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../numeric/half';
import {
  DataType,
  attr,
  makeNode,
  makeTensor,
  tensorDims,
  tensorToFloat32,
  type GraphProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from '../onnx/proto';
import { analyzeGraph, type GraphInfo } from './graph-info';
import { ErrorStats } from './weight-error';

export interface ConvertedTensor {
  name: string;
  shape: number[];
  error: ErrorStats;
}

export interface Float16Conversion {
  graph: GraphProto;
  /** One message per tensor whose values had to be clamped to the float16 range. */
  warnings: string[];
  /** Every initializer converted to float16, with its rounding error. */
  converted: ConvertedTensor[];
}

let halfTable: Float32Array | undefined;

/**
 * Float32 values as float16 bits (round to nearest even), clamping to +-65504 (with a count of
 * clamped values). Bit manipulation inlined over the whole array: this runs over every weight.
 */
export function toFloat16Clamped(
  src: Float32Array,
  error?: ErrorStats,
): { bits: Uint16Array; clamped: number; maxAbs: number } {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = float16BitsToFloat32(h);
  }
  const table = halfTable;
  const words = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const bits = new Uint16Array(src.length);
  let clamped = 0;
  let maxAbsBits = 0;
  let sumSq = 0;
  let maxErr = 0;
  for (let i = 0; i < src.length; i++) {
    const b = words[i];
    const abs = b & 0x7fffffff;
    const sign = (b >>> 16) & 0x8000;
    let h: number;
    if (abs > maxAbsBits && abs <= 0x7f800000) maxAbsBits = abs;
    if (abs > 0x7f800000)
      h = 0x7e00; // NaN
    else if (abs > 0x477fe000) {
      h = sign | 0x7bff; // beyond 65504 (0x477fe000), the largest float16: clamp
      clamped++;
    } else if (abs < 0x38800000)
      h = float32ToFloat16Bits(src[i]); // float16 subnormal or zero
    else {
      const m = abs & 0x7fffff;
      h = (((abs >>> 23) - 112) << 10) | (m >>> 13);
      const rem = m & 0x1fff;
      if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
      h |= sign;
    }
    bits[i] = h;
    const d = table[h] - src[i];
    sumSq += d * d;
    if (d > maxErr) maxErr = d;
    else if (-d > maxErr) maxErr = -d;
  }
  error?.addBatch(src.length, sumSq, maxErr);
  const f = new Float32Array(new Uint32Array([maxAbsBits]).buffer);
  return { bits, clamped, maxAbs: f[0] };
}

/**
 * Nodes kept in float32: Softmax, and each RMSNorm's statistics (x*x or x^2, ReduceMean, then
 * the chain of Add/Sqrt/Reciprocal/Div/Mul up to the node that divides x by the RMS), because a
 * square of a large hidden state overflows float16.
 */
export function float32Nodes(graph: GraphProto, info: GraphInfo): Set<number> {
  const keep = new Set<number>();
  graph.node.forEach((node, i) => {
    if (node.opType === 'Softmax') keep.add(i);
    if (node.opType !== 'ReduceMean') return;
    const sqIdx = info.producer.get(node.input[0]);
    if (sqIdx === undefined) return;
    const sq = graph.node[sqIdx];
    const isSquare =
      (sq.opType === 'Mul' && sq.input[0] === sq.input[1]) ||
      (sq.opType === 'Pow' &&
        info.initializers.has(sq.input[1]) &&
        tensorToFloat32(info.initializers.get(sq.input[1])!)[0] === 2);
    if (!isSquare) return;
    const x = sq.input[0];
    keep.add(sqIdx).add(i);
    let cur = node.output[0];
    for (let step = 0; step < 5; step++) {
      const next = info.consumers.get(cur) ?? [];
      if (next.length !== 1) break;
      const n = graph.node[next[0]];
      if (!['Add', 'Sqrt', 'Reciprocal', 'Div', 'Mul'].includes(n.opType)) break;
      keep.add(next[0]);
      if (n.input.includes(x)) break;
      cur = n.output[0];
    }
  });
  return keep;
}

function retype(v: ValueInfoProto, elemType: number): ValueInfoProto {
  if (v.type?.value.case !== 'tensorType') return v;
  const tt = create(TypeProto_TensorSchema, { ...v.type.value.value, elemType });
  return create(ValueInfoProtoSchema, {
    ...v,
    type: create(TypeProtoSchema, { value: { case: 'tensorType', value: tt } }),
  });
}

/** Called between converted tensors so a caller can report progress and yield to cancellation. */
export type TensorHook = (name: string, done: number, total: number) => Promise<void>;

/** Converts an fp32 graph (float initializers, float I/O, Cast-to-float nodes) to float16. */
export async function convertGraphToFloat16(graph: GraphProto, between?: TensorHook): Promise<Float16Conversion> {
  const info = analyzeGraph(graph);
  const keep32 = float32Nodes(graph, info);
  const F = DataType.FLOAT;
  const H = DataType.FLOAT16;
  const isF32 = (name: string) => info.types.get(name) === F;
  // A node computes in float16 when it touches the activation path and is not kept in float32.
  const half = graph.node.map((n, i) => !keep32.has(i) && n.input.some((x) => info.activation.has(x)));

  // Initializers: convert when every float consumer is float16, else keep and add a float16 copy.
  const want16 = new Set<string>();
  const want32 = new Set<string>();
  graph.node.forEach((n, i) =>
    n.input.forEach((x) => {
      if (info.initializers.has(x) && isF32(x)) (half[i] ? want16 : want32).add(x);
    }),
  );
  const warnings: string[] = [];
  const converted: ConvertedTensor[] = [];
  const rename16 = new Map<string, string>();
  const initializers: TensorProto[] = [];
  let done = 0;
  for (const t of graph.initializer) {
    if (!want16.has(t.name)) {
      initializers.push(t);
      continue;
    }
    await between?.(t.name, done++, want16.size);
    const error = new ErrorStats();
    const { bits, clamped, maxAbs } = toFloat16Clamped(tensorToFloat32(t), error);
    if (clamped > 0) {
      warnings.push(
        `${t.name}: ${clamped} value(s) outside the float16 range (max |x| = ${maxAbs}) clamped to +-65504`,
      );
    }
    const name = want32.has(t.name) ? `${t.name}_fp16` : t.name;
    if (want32.has(t.name)) initializers.push(t);
    initializers.push(makeTensor(name, H, tensorDims(t), bits));
    rename16.set(t.name, name);
    converted.push({ name: t.name, shape: tensorDims(t), error });
  }

  // Computed tensors take their node's precision; graph float inputs become float16.
  const typeOf = new Map<string, number>();
  for (const name of info.graphInputs) if (isF32(name)) typeOf.set(name, H);
  const nodes: NodeProto[] = [];
  const casts = new Map<string, string>();
  const clip = { min: 'fp16_range_min', max: 'fp16_range_max' };
  const castTo = (name: string, to: number): string => {
    const key = `${name}|${to}`;
    let out = casts.get(key);
    if (!out) {
      out = `${name}_to_${to === H ? 'fp16' : 'fp32'}`;
      // A constant island (e.g. a mask filled with float32's lowest value) may exceed the float16
      // range: Cast would give inf, so clip it to +-65504 in float16.
      const island = to === H && !info.activation.has(name);
      const cast = island ? `${out}_unclipped` : out;
      nodes.push(makeNode('Cast', [name], [cast], `${out}_Cast`, [attr.int('to', to)]));
      if (island) {
        if (!initializers.some((t) => t.name === clip.min)) {
          initializers.push(
            makeTensor(clip.min, H, [], Uint16Array.of(0xfbff)),
            makeTensor(clip.max, H, [], Uint16Array.of(0x7bff)),
          );
        }
        nodes.push(makeNode('Clip', [cast, clip.min, clip.max], [out], `${out}_Clip`));
      }
      casts.set(key, out);
    }
    return out;
  };
  graph.node.forEach((node, i) => {
    const target = half[i] ? H : F;
    const inputs = node.input.map((x) => {
      if (!x || !isF32(x)) return x;
      if (info.initializers.has(x)) return target === H ? rename16.get(x)! : x;
      const actual = typeOf.get(x) ?? F;
      return actual === target ? x : castTo(x, target);
    });
    let attribute = node.attribute;
    if (node.opType === 'Cast' && target === H && Number(node.attribute.find((a) => a.name === 'to')?.i) === F) {
      attribute = node.attribute.map((a) => (a.name === 'to' ? attr.int('to', H) : a));
    }
    for (const o of node.output) if (o && isF32(o)) typeOf.set(o, target);
    nodes.push(create(NodeProtoSchema, { ...node, input: inputs, attribute }));
  });

  // Float outputs are float16, as transformers.js fp16 models declare them.
  const outputs = graph.output.map((o) => {
    if (!isF32(o.name)) return o;
    if ((typeOf.get(o.name) ?? F) !== H) {
      const inner = `${o.name}_fp32`;
      for (const n of nodes) n.output = n.output.map((x) => (x === o.name ? inner : x));
      for (const n of nodes) n.input = n.input.map((x) => (x === o.name ? inner : x));
      nodes.push(makeNode('Cast', [inner], [o.name], `${o.name}_Cast`, [attr.int('to', H)]));
    }
    return retype(o, H);
  });
  // Float inputs become float16, and so do old-IR inputs naming initializers converted in place.
  const inputs = graph.input.map((v) =>
    isF32(v.name) && (info.graphInputs.has(v.name) || rename16.get(v.name) === v.name) ? retype(v, H) : v,
  );
  const valueInfo = graph.valueInfo.filter((v) => !isF32(v.name));
  return {
    graph: create(GraphProtoSchema, {
      ...graph,
      node: nodes,
      initializer: initializers,
      input: inputs,
      output: outputs,
      valueInfo,
    }),
    warnings,
    converted,
  };
}
