// Finds the weights a quantizer rewrites, structurally (op type + initializer input, never by
// our own tensor names): MatMul(x, W[K,N]) and Gemm(x, B) with a float32 initializer, and tells
// the lm_head and the embedding apart so they can be kept in full precision.

import { QuantlabError } from '../errors';
import { DataType, getIntAttr, tensorDims, type GraphProto, type NodeProto, type TensorProto } from '../onnx/proto';

export interface WeightTarget {
  node: NodeProto;
  nodeIndex: number;
  weight: TensorProto;
  /** Input features and output features. */
  K: number;
  N: number;
  /** 'KN': MatMul or Gemm transB=0 ([in, out]); 'NK': Gemm transB=1 ([out, in]). */
  layout: 'KN' | 'NK';
  /** lm_head: its output reaches a graph output through shape-only ops, or its weight is tied to an embedding Gather. */
  role: 'linear' | 'lm_head';
}

/** Ops that only exist in quantized graphs. */
const QUANT_OPS = new Set([
  'MatMulNBits',
  'MatMulBnb4',
  'MatMulInteger',
  'MatMulIntegerToFloat',
  'DynamicQuantizeLinear',
  'DynamicQuantizeMatMul',
  'QuantizeLinear',
  'DequantizeLinear',
  'GatherBlockQuantized',
  'QGemm',
  'QLinearMatMul',
  'MatMulFpQ4',
  'QAttention',
  'ConvInteger',
  'QLinearConv',
  'DequantizeBFP',
  'QuantizeBFP',
]);
const SHAPE_ONLY = new Set(['Reshape', 'Identity', 'Squeeze', 'Unsqueeze', 'Flatten', 'Cast']);

/** Names the first sign that a graph is already quantized or reduced-precision, or undefined. */
export function findQuantizedSign(graph: GraphProto): string | undefined {
  const inits = new Map(graph.initializer.map((t) => [t.name, t]));
  for (const node of graph.node) {
    if (QUANT_OPS.has(node.opType)) return `node ${node.name || node.output[0]} is a ${node.opType}`;
    if (node.opType === 'MatMul' || node.opType === 'Gemm') {
      const w = inits.get(node.input[1]);
      if (w && w.dataType !== DataType.FLOAT && w.dataType !== DataType.DOUBLE) {
        return `weight ${w.name} of ${node.opType} ${node.name} is ${DataType[w.dataType]}, not float32`;
      }
    }
  }
  return undefined;
}

/**
 * The graph of an fp32 model, or a named error: no graph ('bad-onnx'), or already quantized
 * ('already-quantized', with what to `verb` instead).
 */
export function fp32Graph(model: { graph?: GraphProto }, verb: 'Quantize' | 'Measure'): GraphProto {
  const graph = model.graph;
  if (!graph) throw new QuantlabError('bad-onnx', 'The model has no graph');
  const sign = findQuantizedSign(graph);
  if (sign) {
    throw new QuantlabError(
      'already-quantized',
      `The model is already quantized: ${sign}`,
      `${verb} the fp32 model (onnx/model.onnx) instead.`,
    );
  }
  return graph;
}

function reachesGraphOutput(name: string, outputs: Set<string>, consumers: Map<string, NodeProto[]>): boolean {
  let cur = [name];
  for (let depth = 0; depth < 6 && cur.length > 0; depth++) {
    if (cur.some((t) => outputs.has(t))) return true;
    cur = cur.flatMap((t) => (consumers.get(t) ?? []).filter((n) => SHAPE_ONLY.has(n.opType)).map((n) => n.output[0]));
  }
  return false;
}

/** Every MatMul/Gemm whose weight operand is a 2-D float32 initializer, in graph order. */
export function findWeightTargets(graph: GraphProto): WeightTarget[] {
  const inits = new Map(graph.initializer.map((t) => [t.name, t]));
  const consumers = new Map<string, NodeProto[]>();
  for (const n of graph.node) {
    for (const x of n.input) {
      const list = consumers.get(x);
      if (list) list.push(n);
      else consumers.set(x, [n]);
    }
  }
  const outputs = new Set(graph.output.map((o) => o.name));
  const gathered = new Set(graph.node.filter((n) => n.opType === 'Gather').map((n) => n.input[0]));
  const targets: WeightTarget[] = [];
  graph.node.forEach((node, nodeIndex) => {
    if (node.opType !== 'MatMul' && node.opType !== 'Gemm') return;
    const weight = inits.get(node.input[1]);
    if (!weight || weight.dataType !== DataType.FLOAT || inits.has(node.input[0])) return;
    const dims = tensorDims(weight);
    if (dims.length !== 2) return;
    let layout: 'KN' | 'NK' = 'KN';
    if (node.opType === 'Gemm') {
      // Only the plain product: a bias, alpha or transposed A would need more than a weight swap.
      const plain =
        (node.input.length < 3 || !node.input[2]) &&
        getIntAttr(node, 'transA', 0) === 0 &&
        (node.attribute.find((a) => a.name === 'alpha')?.f ?? 1) === 1;
      if (!plain) return;
      if (getIntAttr(node, 'transB', 0) === 1) layout = 'NK';
    }
    const [K, N] = layout === 'KN' ? dims : [dims[1], dims[0]];
    const role =
      gathered.has(weight.name) || reachesGraphOutput(node.output[0], outputs, consumers) ? 'lm_head' : 'linear';
    targets.push({ node, nodeIndex, weight, K, N, layout, role });
  });
  return targets;
}
