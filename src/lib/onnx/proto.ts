// ONNX ModelProto read/write on top of @bufbuild/protobuf and the compiled official onnx.proto
// (package onnx-buf). Tensors stay typed arrays over the file's bytes where alignment allows.

import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  AttributeProtoSchema,
  AttributeProto_AttributeType as AttrType,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  StringStringEntryProtoSchema,
  TensorProtoSchema,
  TensorProto_DataType as DataType,
  TensorShapeProtoSchema,
  TensorShapeProto_DimensionSchema,
  TypeProtoSchema,
  TypeProto_TensorSchema,
  ValueInfoProtoSchema,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from 'onnx-buf';
import { QuantlabError } from '../errors';

export { DataType, AttrType };
export type { AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto };

/** Parses an ONNX file; a corrupt or non-ONNX file gets a 'bad-onnx' error naming the file. */
export function decodeModel(bytes: Uint8Array, fileName = 'model.onnx'): ModelProto {
  let model: ModelProto;
  try {
    model = fromBinary(ModelProtoSchema, bytes, { readUnknownFields: true });
  } catch {
    // The parser's own words ("cant skip wire type 4") mean nothing to a reader: say what it means.
    throw new QuantlabError(
      'bad-onnx',
      `${fileName} is not a valid ONNX file: its bytes do not read as an ONNX model (it is cut short, or another kind of file such as text).`,
      'Download or export the model again.',
    );
  }
  if (!model.graph || model.graph.node.length === 0 || model.opsetImport.length === 0) {
    throw new QuantlabError(
      'bad-onnx',
      `${fileName} is not a valid ONNX model: it has no graph nodes or no opset import.`,
      'The file may be cut short or not an ONNX model; download or export it again.',
    );
  }
  return model;
}

/** Serialises a ModelProto to bytes. */
export function encodeModel(model: ModelProto): Uint8Array {
  return toBinary(ModelProtoSchema, model, { writeUnknownFields: true });
}

export interface ModelInit {
  graph: GraphProto;
  opsets: Record<string, number>;
  producer?: string;
  metadata?: Record<string, string>;
  irVersion?: number;
}

export function makeModel(init: ModelInit): ModelProto {
  return create(ModelProtoSchema, {
    irVersion: BigInt(init.irVersion ?? 8),
    producerName: init.producer ?? 'quantlab',
    producerVersion: '0.1.0',
    opsetImport: Object.entries(init.opsets).map(([domain, version]) =>
      create(OperatorSetIdProtoSchema, { domain, version: BigInt(version) }),
    ),
    metadataProps: Object.entries(init.metadata ?? {}).map(([key, value]) =>
      create(StringStringEntryProtoSchema, { key, value }),
    ),
    graph: init.graph,
  });
}

export function makeGraph(init: {
  name: string;
  nodes: NodeProto[];
  initializers: TensorProto[];
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
}): GraphProto {
  return create(GraphProtoSchema, {
    name: init.name,
    node: init.nodes,
    initializer: init.initializers,
    input: init.inputs,
    output: init.outputs,
  });
}

/** A dimension is a fixed size or a symbolic name such as 'batch_size'. */
export type Dim = number | string;

export function valueInfo(name: string, elemType: DataType, dims: Dim[]): ValueInfoProto {
  return create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, {
      value: {
        case: 'tensorType',
        value: create(TypeProto_TensorSchema, {
          elemType,
          shape: create(TensorShapeProtoSchema, {
            dim: dims.map((d) =>
              create(TensorShapeProto_DimensionSchema, {
                value: typeof d === 'number' ? { case: 'dimValue', value: BigInt(d) } : { case: 'dimParam', value: d },
              }),
            ),
          }),
        }),
      },
    }),
  });
}

/** The element type and dims of a tensor-typed ValueInfoProto. */
export function valueInfoShape(v: ValueInfoProto): { elemType: number; dims: Dim[] } | undefined {
  if (v.type?.value.case !== 'tensorType') return undefined;
  const t = v.type.value.value;
  return {
    elemType: t.elemType,
    dims: (t.shape?.dim ?? []).map((d) =>
      d.value.case === 'dimValue' ? Number(d.value.value) : d.value.case === 'dimParam' ? d.value.value : '?',
    ),
  };
}

export function makeNode(
  opType: string,
  inputs: string[],
  outputs: string[],
  name: string,
  attributes: AttributeProto[] = [],
  domain = '',
): NodeProto {
  return create(NodeProtoSchema, { opType, input: inputs, output: outputs, name, attribute: attributes, domain });
}

/** Attribute constructors; ONNX needs the type spelled out (1 may be an int or a float). */
export const attr = {
  int: (name: string, i: number | bigint): AttributeProto =>
    create(AttributeProtoSchema, { name, type: AttrType.INT, i: BigInt(i) }),
  float: (name: string, f: number): AttributeProto => create(AttributeProtoSchema, { name, type: AttrType.FLOAT, f }),
  ints: (name: string, ints: (number | bigint)[]): AttributeProto =>
    create(AttributeProtoSchema, { name, type: AttrType.INTS, ints: ints.map((v) => BigInt(v)) }),
  string: (name: string, s: string): AttributeProto =>
    create(AttributeProtoSchema, { name, type: AttrType.STRING, s: new TextEncoder().encode(s) }),
  tensor: (name: string, t: TensorProto): AttributeProto =>
    create(AttributeProtoSchema, { name, type: AttrType.TENSOR, t }),
};

export function getAttr(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute.find((a) => a.name === name);
}

export function getIntAttr(node: NodeProto, name: string, fallback: number): number {
  const a = getAttr(node, name);
  return a ? Number(a.i) : fallback;
}

/** Bytes per element of the fixed-width data types this project writes. */
export function bytesPerElement(t: DataType): number {
  switch (t) {
    case DataType.FLOAT:
    case DataType.INT32:
    case DataType.UINT32:
      return 4;
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
    case DataType.INT16:
    case DataType.UINT16:
      return 2;
    case DataType.INT8:
    case DataType.UINT8:
    case DataType.BOOL:
      return 1;
    case DataType.INT64:
    case DataType.UINT64:
    case DataType.DOUBLE:
      return 8;
    default:
      throw new QuantlabError('bad-onnx', `Unsupported tensor data type ${DataType[t] ?? t}`);
  }
}

type Raw = Float32Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Uint16Array | Float64Array;

/** Makes an initializer tensor whose raw_data views the given typed array's bytes (no copy). */
export function makeTensor(name: string, dataType: DataType, dims: number[], data: Raw): TensorProto {
  const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  const expected = dims.reduce((a, b) => a * b, 1) * bytesPerElement(dataType);
  if (bytes.byteLength !== expected) {
    throw new QuantlabError(
      'internal',
      `Tensor ${name}: ${bytes.byteLength} bytes for dims [${dims}] (${expected} expected)`,
    );
  }
  return create(TensorProtoSchema, { name, dataType, dims: dims.map((d) => BigInt(d)), rawData: bytes });
}

export function tensorDims(t: TensorProto): number[] {
  return t.dims.map((d) => Number(d));
}

export function tensorSize(t: TensorProto): number {
  return t.dims.reduce((a, d) => a * Number(d), 1);
}

function aligned<T>(bytes: Uint8Array, size: number, ctor: new (b: ArrayBufferLike, off: number, len: number) => T): T {
  const src = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  return new ctor(src.buffer, src.byteOffset, src.byteLength / size);
}

/** The values of a FLOAT tensor as a Float32Array (a view of the file's bytes when aligned). */
export function tensorToFloat32(t: TensorProto): Float32Array {
  if (t.dataType !== DataType.FLOAT) {
    throw new QuantlabError('bad-onnx', `Tensor ${t.name} is ${DataType[t.dataType]}, not FLOAT`);
  }
  if (t.dataLocation === 1) {
    throw new QuantlabError('bad-onnx', `Tensor ${t.name} uses external data, which is not supported`);
  }
  const n = tensorSize(t);
  if (t.rawData.byteLength > 0) {
    if (t.rawData.byteLength !== n * 4) {
      throw new QuantlabError('bad-onnx', `Tensor ${t.name} has ${t.rawData.byteLength} bytes for ${n} floats`);
    }
    return aligned(t.rawData, 4, Float32Array);
  }
  if (t.floatData.length !== n) {
    throw new QuantlabError('bad-onnx', `Tensor ${t.name} has ${t.floatData.length} values for ${n} elements`);
  }
  return Float32Array.from(t.floatData);
}

/** The values of an INT64 tensor as numbers. */
export function tensorToInt64(t: TensorProto): bigint[] {
  if (t.rawData.byteLength > 0) return Array.from(aligned(t.rawData, 8, BigInt64Array));
  return t.int64Data.slice();
}

/** Reads any tensor's raw bytes (raw_data only). */
export function tensorBytes(t: TensorProto): Uint8Array {
  return t.rawData;
}
