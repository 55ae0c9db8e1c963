// What the graph rewriters need to know about a decoder graph: the element type of every tensor
// (a small forward type inference), who consumes what, and which float tensors carry
// activations (derived from float inputs or weight tables) versus small constant islands such
// as the rotary angles computed from position_ids.

import {
  DataType,
  getAttr,
  tensorDims,
  valueInfoShape,
  type GraphProto,
  type NodeProto,
  type TensorProto,
} from '../onnx/proto';

export interface GraphInfo {
  /** Element type of every named tensor we could type (graph inputs, initializers, node outputs). */
  types: Map<string, number>;
  initializers: Map<string, TensorProto>;
  /** Node indices consuming each tensor name. */
  consumers: Map<string, number[]>;
  /** Node index producing each tensor name. */
  producer: Map<string, number>;
  /** Float tensors on the activation path. */
  activation: Set<string>;
  graphInputs: Set<string>;
  graphOutputs: Set<string>;
}

const BOOL_OPS = new Set([
  'Equal',
  'Less',
  'LessOrEqual',
  'Greater',
  'GreaterOrEqual',
  'And',
  'Or',
  'Xor',
  'Not',
  'IsNaN',
  'IsInf',
]);
const INT64_OPS = new Set(['Shape', 'Size', 'ArgMax', 'ArgMin', 'NonZero', 'NonMaxSuppression']);

/** True for the float element types a graph computes in. */
export function isFloatType(t: number | undefined): boolean {
  return t === DataType.FLOAT || t === DataType.FLOAT16 || t === DataType.BFLOAT16 || t === DataType.DOUBLE;
}

function attrTensorType(node: NodeProto): number {
  const a = node.attribute.find((x) => x.name === 'value' || x.name.startsWith('value_'));
  if (!a) return DataType.FLOAT;
  if (a.name === 'value') return a.t?.dataType ?? DataType.FLOAT;
  if (a.name === 'value_float' || a.name === 'value_floats') return DataType.FLOAT;
  if (a.name === 'value_int' || a.name === 'value_ints') return DataType.INT64;
  return DataType.UNDEFINED;
}

/** Element types of a node's outputs given its input types (undefined when unknown). */
export function inferOutputTypes(
  node: NodeProto,
  inputType: (i: number) => number | undefined,
): (number | undefined)[] {
  const n = node.output.length;
  const all = (t: number | undefined) => Array<number | undefined>(n).fill(t);
  const op = node.opType;
  if (op === 'Cast') return all(Number(getAttr(node, 'to')?.i ?? 0));
  if (BOOL_OPS.has(op)) return all(DataType.BOOL);
  if (INT64_OPS.has(op)) return all(DataType.INT64);
  if (op === 'Constant' || op === 'ConstantOfShape') return all(attrTensorType(node));
  if (op === 'Where') return all(inputType(1));
  if (op === 'TopK') return [inputType(0), DataType.INT64];
  if (op === 'DynamicQuantizeLinear') return [DataType.UINT8, DataType.FLOAT, DataType.UINT8];
  if (op === 'MatMulInteger' || op === 'ConvInteger') return all(DataType.INT32);
  if (op === 'QuantizeLinear') return all(inputType(2) ?? DataType.UINT8);
  if (op === 'DequantizeLinear') return all(inputType(1));
  return all(inputType(0));
}

function rankOf(t: TensorProto): number {
  return tensorDims(t).length;
}

/** Builds types, consumers and the activation set for a (topologically sorted) graph. */
export function analyzeGraph(graph: GraphProto): GraphInfo {
  const types = new Map<string, number>();
  const initializers = new Map<string, TensorProto>();
  const consumers = new Map<string, number[]>();
  const producer = new Map<string, number>();
  const activation = new Set<string>();
  const graphInputs = new Set<string>();
  const graphOutputs = new Set(graph.output.map((o) => o.name));

  for (const t of graph.initializer) {
    initializers.set(t.name, t);
    types.set(t.name, t.dataType);
    // Weight matrices and lookup tables seed the activation path; vectors and scalars follow it.
    if (isFloatType(t.dataType) && rankOf(t) >= 2) activation.add(t.name);
  }
  for (const v of graph.input) {
    if (initializers.has(v.name)) continue;
    graphInputs.add(v.name);
    const s = valueInfoShape(v);
    if (s) types.set(v.name, s.elemType);
    if (s && isFloatType(s.elemType)) activation.add(v.name);
  }
  for (const v of graph.valueInfo) {
    const s = valueInfoShape(v);
    if (s && s.elemType && !types.has(v.name)) types.set(v.name, s.elemType);
  }
  graph.node.forEach((node, i) => {
    node.input.forEach((name) => {
      if (!name) return;
      const list = consumers.get(name);
      if (list) list.push(i);
      else consumers.set(name, [i]);
    });
    const outTypes = inferOutputTypes(node, (k) => (node.input[k] ? types.get(node.input[k]) : undefined));
    const active = node.input.some((name) => activation.has(name));
    node.output.forEach((name, k) => {
      if (!name) return;
      producer.set(name, i);
      const t = types.get(name) ?? outTypes[k];
      if (t !== undefined) types.set(name, t);
      if (active && isFloatType(t)) activation.add(name);
    });
  });
  return { types, initializers, consumers, producer, activation, graphInputs, graphOutputs };
}
