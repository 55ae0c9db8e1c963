// Turns one quantized weight into the ONNX nodes and initializers that replace its MatMul/Gemm:
// com.microsoft MatMulNBits or MatMulBnb4, or the DynamicQuantizeLinear + MatMulInteger chain.

import { DataType, attr, makeNode, makeTensor, type NodeProto, type TensorProto } from '../onnx/proto';
import { BNB4_QUANT_TYPE, type Bnb4Tensor, type Bnb4Type, type DoubleQuantized } from './bnb4';
import type { Int8Tensor } from './int8';
import type { NBitsTensor } from './nbits';

export const MS_DOMAIN = 'com.microsoft';

export interface Emitted {
  nodes: NodeProto[];
  initializers: TensorProto[];
}

/** Total bytes of the data of some initializers. */
export function initializerBytes(ts: TensorProto[]): number {
  return ts.reduce((a, t) => a + t.rawData.byteLength, 0);
}

/** MatMulNBits(A, B, scales[, zero_points]) with the original output name. */
export function emitNBits(
  node: NodeProto,
  activation: string,
  weightName: string,
  q: NBitsTensor,
  bits: number,
  blockSize: number,
): Emitted {
  const base = `${weightName}_Q${bits}`;
  const inits = [makeTensor(base, DataType.UINT8, [q.N, q.kBlocks, q.blobSize], q.packed)];
  if (q.scalesF16) inits.push(makeTensor(`${base}_scales`, DataType.FLOAT16, [q.N, q.kBlocks], q.scalesF16));
  else inits.push(makeTensor(`${base}_scales`, DataType.FLOAT, [q.N, q.kBlocks], q.scales));
  const inputs = [activation, base, `${base}_scales`];
  if (q.zeroPoints) {
    inits.push(makeTensor(`${base}_zero_points`, DataType.UINT8, [q.zeroPoints.length], q.zeroPoints));
    inputs.push(`${base}_zero_points`);
  }
  const attrs = [attr.int('K', q.K), attr.int('N', q.N), attr.int('bits', bits), attr.int('block_size', blockSize)];
  return {
    nodes: [makeNode('MatMulNBits', inputs, [node.output[0]], `${node.name || base}_Q${bits}`, attrs, MS_DOMAIN)],
    initializers: inits,
  };
}

/**
 * MatMulBnb4(A, B, absmax). Without double quantization absmax is a float32 initializer; with
 * it, absmax is an output of the model-wide decode subgraph emitDoubleQuantAbsmax builds.
 */
export function emitBnb4(
  node: NodeProto,
  activation: string,
  weightName: string,
  q: Bnb4Tensor,
  type: Bnb4Type,
): Emitted & { absmax: string } {
  const base = `${weightName}_Bnb4`;
  const absmax = `${base}_absmax`;
  const inits = [makeTensor(base, DataType.UINT8, [q.packed.length], q.packed)];
  if (!q.dq) inits.push(makeTensor(absmax, DataType.FLOAT, [q.absmax.length], q.absmax));
  const attrs = [
    attr.int('K', q.K),
    attr.int('N', q.N),
    attr.int('block_size', q.blockSize),
    attr.int('quant_type', BNB4_QUANT_TYPE[type]),
  ];
  const nodes = [
    makeNode('MatMulBnb4', [activation, base, absmax], [node.output[0]], `${node.name || base}_Bnb4`, attrs, MS_DOMAIN),
  ];
  return { nodes, initializers: inits, absmax };
}

/** One double-quantized absmax vector and the tensor name MatMulBnb4 reads it from. */
export interface DqEntry {
  absmax: string;
  count: number;
  dq: DoubleQuantized;
}

/** Bytes a tensor's double-quantized absmax adds to the file: its codes and one scale and offset per block. */
export function dqBytes(e: DqEntry): number {
  return e.dq.codes.length + 8 * e.dq.scales.length;
}

/**
 * The absmax of every double-quantized MatMulBnb4, rebuilt at load time by one subgraph:
 * absmax = code[codes] * scale + offset per block of 256 (each tensor's blocks padded to whole
 * blocks, offsets repeated per block, so the values are exactly bitsandbytes' per-tensor double
 * quantization), flattened and split into one output per tensor. ONNX Runtime folds it once when
 * the session is created; the file stores 1 byte per absmax instead of 4, and a handful of nodes
 * for the whole model, so even tiny models get smaller.
 */
export function emitDoubleQuantAbsmax(entries: DqEntry[], code: Float32Array): Emitted {
  const blockSize = entries[0].dq.blockSize;
  const nb = entries.reduce((a, e) => a + e.dq.scales.length, 0);
  const codes = new Uint8Array(nb * blockSize);
  const scales = new Float32Array(nb);
  const offsets = new Float32Array(nb);
  const split: bigint[] = [];
  const outputs: string[] = [];
  let b = 0;
  for (const [i, e] of entries.entries()) {
    codes.set(e.dq.codes, b * blockSize);
    scales.set(e.dq.scales, b);
    offsets.fill(e.dq.offset, b, b + e.dq.scales.length);
    b += e.dq.scales.length;
    const pad = e.dq.codes.length - e.count;
    split.push(BigInt(e.count));
    outputs.push(e.absmax);
    if (pad > 0) {
      split.push(BigInt(pad));
      outputs.push(`bnb4_dq_pad${i}`);
    }
  }
  const p = 'bnb4_dq';
  return {
    initializers: [
      makeTensor(`${p}_code`, DataType.FLOAT, [code.length], code),
      makeTensor(`${p}_codes`, DataType.UINT8, [nb, blockSize], codes),
      makeTensor(`${p}_scales`, DataType.FLOAT, [nb, 1], scales),
      makeTensor(`${p}_offsets`, DataType.FLOAT, [nb, 1], offsets),
      makeTensor(`${p}_flat`, DataType.INT64, [1], BigInt64Array.of(-1n)),
      makeTensor(`${p}_split`, DataType.INT64, [split.length], BigInt64Array.from(split)),
    ],
    nodes: [
      makeNode('Cast', [`${p}_codes`], [`${p}_idx`], `/${p}/Cast`, [attr.int('to', DataType.INT32)]),
      makeNode('Gather', [`${p}_code`, `${p}_idx`], [`${p}_values`], `/${p}/Gather`, [attr.int('axis', 0)]),
      makeNode('Mul', [`${p}_values`, `${p}_scales`], [`${p}_scaled`], `/${p}/Mul`),
      makeNode('Add', [`${p}_scaled`, `${p}_offsets`], [`${p}_absmax`], `/${p}/Add`),
      makeNode('Reshape', [`${p}_absmax`, `${p}_flat`], [`${p}_absmax_flat`], `/${p}/Reshape`),
      makeNode('Split', [`${p}_absmax_flat`, `${p}_split`], outputs, `/${p}/Split`, [attr.int('axis', 0)]),
    ],
  };
}

/**
 * y = Cast(MatMulInteger(xq, Wq, x_zp, W_zp)) * (x_scale * W_scale), as ONNX Runtime's
 * quantize_dynamic writes it. The DynamicQuantizeLinear of an activation is shared by every
 * MatMul reading it (q/k/v, gate/up): `dql` maps activation name -> its three outputs.
 */
export function emitInteger(
  node: NodeProto,
  activation: string,
  weightName: string,
  q: Int8Tensor,
  dql: Map<string, string[]>,
): Emitted {
  const nodes: NodeProto[] = [];
  let xq = dql.get(activation);
  if (!xq) {
    const p = `${activation}_dql`;
    xq = [`${p}_quantized`, `${p}_scale`, `${p}_zero_point`];
    nodes.push(makeNode('DynamicQuantizeLinear', [activation], xq, `${p}/DynamicQuantizeLinear`));
    dql.set(activation, xq);
  }
  const base = `${weightName}_quantized`;
  const type = q.kind === 'uint8' ? DataType.UINT8 : DataType.INT8;
  const perChannel = q.scales.length > 1;
  const dims = perChannel ? [q.N] : [];
  const inits = [
    makeTensor(base, type, [q.K, q.N], q.data),
    makeTensor(`${base}_scale`, DataType.FLOAT, dims, q.scales),
    makeTensor(`${base}_zero_point`, type, dims, q.zeroPoints),
  ];
  const out = node.output[0];
  const p = node.name || base;
  nodes.push(
    makeNode('MatMulInteger', [xq[0], base, xq[2], `${base}_zero_point`], [`${out}_int32`], `${p}_MatMulInteger`),
    makeNode('Cast', [`${out}_int32`], [`${out}_int32_float`], `${p}_Cast`, [attr.int('to', DataType.FLOAT)]),
    makeNode('Mul', [xq[1], `${base}_scale`], [`${out}_scale`], `${p}_ScaleMul`),
    makeNode('Mul', [`${out}_int32_float`, `${out}_scale`], [out], `${p}_OutputMul`),
  );
  return { nodes, initializers: inits };
}
