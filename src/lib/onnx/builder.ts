// A small imperative ONNX graph builder: each call appends one node and returns its output
// name, so model code reads like the forward pass it describes.

import {
  DataType,
  makeGraph,
  makeModel,
  makeNode,
  makeTensor,
  valueInfo,
  type AttributeProto,
  type Dim,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './proto';

export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly inputs: ValueInfoProto[] = [];
  readonly outputs: ValueInfoProto[] = [];
  #counter = 0;
  #constCache = new Map<string, string>();
  #scope: string[] = [];

  /** Runs fn with node names prefixed by scope (for readable graphs: /model/layers.0/attn/...). */
  scoped<T>(scope: string, fn: () => T): T {
    this.#scope.push(scope);
    try {
      return fn();
    } finally {
      this.#scope.pop();
    }
  }

  #name(op: string): string {
    return `/${[...this.#scope, `${op}_${this.#counter++}`].join('/')}`;
  }

  /** Appends a node with one output and returns that output's name. */
  op(
    opType: string,
    inputs: string[],
    attributes: AttributeProto[] = [],
    opts: { domain?: string; output?: string } = {},
  ): string {
    const name = this.#name(opType);
    const out = opts.output ?? `${name}/out`;
    this.nodes.push(makeNode(opType, inputs, [out], name, attributes, opts.domain ?? ''));
    return out;
  }

  /** Appends a node with several outputs (named in `names` where given and not empty). */
  opN(
    opType: string,
    inputs: string[],
    nOutputs: number,
    attributes: AttributeProto[] = [],
    domain = '',
    names: string[] = [],
  ): string[] {
    const name = this.#name(opType);
    const outs = Array.from({ length: nOutputs }, (_, i) => names[i] || `${name}/out${i}`);
    this.nodes.push(makeNode(opType, inputs, outs, name, attributes, domain));
    return outs;
  }

  /** Adds a named initializer; returns its name. */
  initializer(
    name: string,
    dataType: DataType,
    dims: number[],
    data: Float32Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array,
  ): string {
    this.initializers.push(makeTensor(name, dataType, dims, data));
    return name;
  }

  /** A shared int64 constant initializer (deduplicated by value). */
  int64(values: number[], dims: number[] = [values.length]): string {
    return this.#constant('i64', DataType.INT64, values, dims, () => BigInt64Array.from(values.map((v) => BigInt(v))));
  }

  /** A shared float32 constant initializer (deduplicated by value). */
  float(values: number[], dims: number[] = [values.length]): string {
    return this.#constant('f32', DataType.FLOAT, values, dims, () => Float32Array.from(values));
  }

  /** The initializer named const_<tag>_<n> holding these values, added the first time they are asked for. */
  #constant(
    tag: string,
    dataType: DataType,
    values: number[],
    dims: number[],
    data: () => Float32Array | BigInt64Array,
  ): string {
    const key = `${tag}:${dims.join('x')}:${values.join(',')}`;
    let name = this.#constCache.get(key);
    if (!name) {
      name = `const_${tag}_${this.#constCache.size}`;
      this.initializer(name, dataType, dims, data());
      this.#constCache.set(key, name);
    }
    return name;
  }

  input(name: string, elemType: DataType, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  output(name: string, elemType: DataType, dims: Dim[]): void {
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  build(name: string, opsets: Record<string, number>, metadata?: Record<string, string>): ModelProto {
    return makeModel({
      graph: makeGraph({
        name,
        nodes: this.nodes,
        initializers: this.initializers,
        inputs: this.inputs,
        outputs: this.outputs,
      }),
      opsets,
      metadata,
    });
  }
}
