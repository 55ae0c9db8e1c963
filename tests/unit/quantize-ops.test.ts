// Each quantized op, run in onnxruntime-node, against a float64 reference computed here from the
// packed bytes as the contrib-op spec reads them (decoded in this file, not by the quantizer).
import { describe, expect, it } from 'vitest';
import { float32ToFloat16Bits } from '../../src/lib/numeric/half';
import { GraphBuilder } from '../../src/lib/onnx/builder';
import { DataType, attr, type ModelProto, type NodeProto, type TensorProto } from '../../src/lib/onnx/proto';
import { quantizeModel } from '../../src/lib/quantize/quantize-model';
import type { QuantizeOptions } from '../../src/lib/variants/options';
import { runModelBytes, type Feed } from '../helpers/ort-node';
import { mulberry32 as rng } from '../helpers/prng';

const M = 5;
const N = 48;

function normals(n: number, seed: number, sd: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = sd * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  for (let i = 0; i < n; i += 97) out[i] *= 6; // a few outliers, as trained weights have
  return out;
}

/** y = x @ W with W [K, N] (MatMul) or y = Gemm(x, W [N, K], transB=1). */
function oneMatMul(K: number, w: Float32Array, layout: 'KN' | 'NK'): ModelProto {
  const g = new GraphBuilder();
  const x = g.input('x', DataType.FLOAT, [M, K]);
  const wName = g.initializer('proj.weight', DataType.FLOAT, layout === 'KN' ? [K, N] : [N, K], w);
  if (layout === 'KN') g.op('MatMul', [x, wName], [], { output: 'y' });
  else g.op('Gemm', [x, wName], [attr.int('transB', 1)], { output: 'y' });
  g.output('y', DataType.FLOAT, [M, N]);
  return g.build('one_matmul', { '': 17 });
}

function half(h: number): number {
  const e = (h >> 10) & 31;
  const m = h & 1023;
  const v = e === 0 ? m * 2 ** -24 : e === 31 ? Infinity : (1 + m / 1024) * 2 ** (e - 15);
  return h & 0x8000 ? -v : v;
}
function init(m: ModelProto, name: string): TensorProto {
  const t = m.graph!.initializer.find((i) => i.name === name);
  if (!t) throw new Error(`no initializer ${name}`);
  return t;
}
function node(m: ModelProto, op: string): NodeProto {
  const n = m.graph!.node.find((x) => x.opType === op);
  if (!n) throw new Error(`no ${op} node`);
  return n;
}
function f32(t: TensorProto): Float32Array {
  return new Float32Array(t.rawData.slice().buffer);
}
function intAttr(n: NodeProto, name: string): number {
  return Number(n.attribute.find((a) => a.name === name)!.i);
}

/** x [M, K] @ W [K, N] in float64. */
function refProduct(x: ArrayLike<number>, K: number, w: Float64Array): Float64Array {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[m * K + k] * w[k * N + n];
      y[m * N + n] = s;
    }
  return y;
}
function expectClose(actual: ArrayLike<number>, ref: Float64Array, rel: number): number {
  let maxRef = 0;
  let maxDiff = 0;
  for (let i = 0; i < ref.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(ref[i]));
    maxDiff = Math.max(maxDiff, Math.abs(actual[i] - ref[i]));
  }
  expect(maxRef).toBeGreaterThan(0.01);
  expect(maxDiff / maxRef).toBeLessThan(rel);
  return maxDiff / maxRef;
}
/** Original weight as [K, N] whatever the source layout. */
function originalKN(w: Float32Array, K: number, layout: 'KN' | 'NK'): Float64Array {
  const out = new Float64Array(K * N);
  for (let k = 0; k < K; k++)
    for (let n = 0; n < N; n++) out[k * N + n] = layout === 'KN' ? w[k * N + n] : w[n * K + k];
  return out;
}

async function quantizeAndRun(K: number, layout: 'KN' | 'NK', opts: QuantizeOptions, seed: number) {
  const w = normals(K * N, seed, 0.05);
  const x = normals(M * K, seed + 1, 1);
  const { model, bytes, report } = await quantizeModel(oneMatMul(K, w, layout), { keepLmHead: false, ...opts });
  const f16 = opts.dtype === 'q4f16';
  const feed: Feed = f16
    ? { type: 'float16', data: Uint16Array.from(x, float32ToFloat16Bits), dims: [M, K] }
    : { type: 'float32', data: x, dims: [M, K] };
  const out = await runModelBytes(bytes, { x: feed });
  const y = f16 ? Array.from(out.y.data as Uint16Array, half) : Array.from(out.y.data as Float32Array);
  const xUsed = f16 ? Array.from(feed.data as Uint16Array, half) : Array.from(x);
  return { model, report, y, x: xUsed, original: originalKN(w, K, layout) };
}

describe('MatMulNBits (q4, q4f16, 8-bit)', () => {
  const cases: [number, number, 'KN' | 'NK'][] = [
    [128, 32, 'KN'],
    [172, 32, 'KN'],
    [172, 64, 'KN'],
    [172, 16, 'NK'],
    [128, 128, 'NK'],
  ];
  for (const bits of [4, 8] as const)
    for (const symmetric of [true, false])
      for (const [K, bs, layout] of cases) {
        it(`bits ${bits} ${symmetric ? 'sym' : 'asym'} K=${K} block ${bs} from ${layout === 'KN' ? 'MatMul' : 'Gemm transB'}`, async () => {
          const r = await quantizeAndRun(K, layout, { dtype: 'q4', bits, blockSize: bs, symmetric }, K + bs + bits);
          const n0 = node(r.model, 'MatMulNBits');
          expect([intAttr(n0, 'K'), intAttr(n0, 'N'), intAttr(n0, 'bits'), intAttr(n0, 'block_size')]).toEqual([
            K,
            N,
            bits,
            bs,
          ]);
          expect(n0.input.length).toBe(symmetric ? 3 : 4);
          const kBlocks = Math.ceil(K / bs);
          const blob = (bs * bits) / 8;
          const B = init(r.model, n0.input[1]);
          expect(B.dims.map(Number)).toEqual([N, kBlocks, blob]);
          const scales = f32(init(r.model, n0.input[2]));
          const zpBytes = symmetric ? undefined : init(r.model, n0.input[3]).rawData;
          const zpRow = Math.ceil((kBlocks * bits) / 8);
          // Decode per the spec: low nibble first; zero point 2^(bits-1) when absent.
          const deq = new Float64Array(K * N);
          for (let n = 0; n < N; n++)
            for (let k = 0; k < K; k++) {
              const b = Math.floor(k / bs);
              const j = k % bs;
              const byte = B.rawData[(n * kBlocks + b) * blob + (bits === 4 ? j >> 1 : j)];
              const qv = bits === 8 ? byte : j % 2 === 0 ? byte & 15 : byte >> 4;
              let zp = 1 << (bits - 1);
              if (zpBytes)
                zp = bits === 8 ? zpBytes[n * zpRow + b] : (zpBytes[n * zpRow + (b >> 1)] >> ((b & 1) * 4)) & 15;
              const s = scales[n * kBlocks + b];
              deq[k * N + n] = (qv - zp) * s;
              // Round to nearest on a grid of step |s| that covers the block: error <= |s| / 2.
              expect(Math.abs(deq[k * N + n] - r.original[k * N + n])).toBeLessThanOrEqual(
                (Math.abs(s) / 2) * (1 + 1e-6) + 1e-9,
              );
            }
          expectClose(r.y, refProduct(r.x, K, deq), 1e-4);
          expect(r.report.tensors[0].maxError).toBeLessThanOrEqual(
            (Math.max(...Array.from(scales, Math.abs)) / 2) * (1 + 1e-6),
          );
        });
      }

  for (const K of [128, 172]) {
    it(`q4f16: float16 scales, activations and output, K=${K}`, async () => {
      const r = await quantizeAndRun(K, 'KN', { dtype: 'q4f16' }, 7 + K);
      const n0 = node(r.model, 'MatMulNBits');
      const sc = init(r.model, n0.input[2]);
      expect(sc.dataType).toBe(DataType.FLOAT16);
      const scales = Array.from(new Uint16Array(sc.rawData.slice().buffer), half);
      const B = init(r.model, n0.input[1]);
      const kBlocks = Math.ceil(K / 32);
      const deq = new Float64Array(K * N);
      for (let n = 0; n < N; n++)
        for (let k = 0; k < K; k++) {
          const b = Math.floor(k / 32);
          const byte = B.rawData[(n * kBlocks + b) * 16 + ((k % 32) >> 1)];
          const s = scales[n * kBlocks + b];
          deq[k * N + n] = ((k % 2 === 0 ? byte & 15 : byte >> 4) - 8) * s;
          expect(Math.abs(deq[k * N + n] - r.original[k * N + n])).toBeLessThanOrEqual(
            (Math.abs(s) / 2) * (1 + 1e-6) + 1e-9,
          );
        }
      // The output itself is float16 (relative step 2^-11), so the tolerance is float16's.
      expectClose(r.y, refProduct(r.x, K, deq), 2e-3);
    });
  }
});

describe('MatMulNBits below 4 bits (2-bit storage, 3-bit levels in 4-bit storage), rtn and hqq', () => {
  // Decoded per the spec from the node's own `bits` (2: four weights a byte; 4: two), low bits first.
  const cases: [2 | 3, boolean, 'rtn' | 'hqq', number][] = [
    [2, true, 'rtn', 32],
    [2, false, 'hqq', 16],
    [2, true, 'hqq', 64],
    [3, true, 'hqq', 32],
    [3, false, 'rtn', 128],
    [3, false, 'hqq', 32],
  ];
  for (const [bits, symmetric, method, bs] of cases) {
    it(`${bits}-bit levels ${symmetric ? 'sym' : 'asym'} ${method} block ${bs}, K=172`, async () => {
      const K = 172;
      const r = await quantizeAndRun(K, 'KN', { dtype: 'q4', bits, method, blockSize: bs, symmetric }, 3 * K + bits);
      const n0 = node(r.model, 'MatMulNBits');
      const storage = bits === 3 ? 4 : 2;
      expect([intAttr(n0, 'bits'), intAttr(n0, 'block_size')]).toEqual([storage, bs]);
      const kBlocks = Math.ceil(K / bs);
      const perByte = 8 / storage;
      const blob = bs / perByte;
      const B = init(r.model, n0.input[1]);
      expect(B.dims.map(Number)).toEqual([N, kBlocks, blob]);
      const scales = f32(init(r.model, n0.input[2]));
      const zpBytes = symmetric ? undefined : init(r.model, n0.input[3]).rawData;
      const zpRow = Math.ceil(kBlocks / perByte);
      const mask = (1 << storage) - 1;
      const deq = new Float64Array(K * N);
      let sq = 0;
      let ref = 0;
      for (let n = 0; n < N; n++)
        for (let k = 0; k < K; k++) {
          const b = Math.floor(k / bs);
          const j = k % bs;
          const byte = B.rawData[(n * kBlocks + b) * blob + Math.floor(j / perByte)];
          const qv = (byte >> ((j % perByte) * storage)) & mask;
          const zp = zpBytes
            ? (zpBytes[n * zpRow + Math.floor(b / perByte)] >> ((b % perByte) * storage)) & mask
            : 1 << (storage - 1);
          // The stored levels stay within the 2^bits levels asked for (3-bit: 8 of the 16).
          const level = qv - zp + (symmetric ? 1 << (bits - 1) : zp);
          expect(level).toBeGreaterThanOrEqual(0);
          expect(level).toBeLessThan(1 << bits);
          deq[k * N + n] = (qv - zp) * scales[n * kBlocks + b];
          sq += (deq[k * N + n] - r.original[k * N + n]) ** 2;
          ref += r.original[k * N + n] ** 2;
        }
      // The op computes x @ dequantized W; and the weights are a fair copy (relative RMS error).
      expectClose(r.y, refProduct(r.x, K, deq), 1e-4);
      expect(Math.sqrt(sq / ref)).toBeLessThan(bits === 2 ? 0.75 : 0.4);
    });
  }
});

const NF4 = [
  // bitsandbytes get_4bit_type('nf4')
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
  -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
];
const FP4 = [0, 0.0625, 8, 12, 4, 6, 2, 3, -0, -0.0625, -8, -12, -4, -6, -2, -3].map((v) => v / 12); // get_4bit_type('fp4')

/**
 * absmax as MatMulBnb4 receives it: the initializer, or (double quantization) the slice of the
 * model-wide decode: code[codes] * scale + offset per block of 256, split into one piece per tensor.
 */
function bnbAbsmax(m: ModelProto, n0: NodeProto): Float64Array {
  const direct = m.graph!.initializer.find((t) => t.name === n0.input[2]);
  if (direct) return Float64Array.from(f32(direct));
  const split = node(m, 'Split');
  const sizes = Array.from(new BigInt64Array(init(m, split.input[1]).rawData.slice().buffer), Number);
  const piece = split.output.indexOf(n0.input[2]);
  const start = sizes.slice(0, piece).reduce((a, b) => a + b, 0);
  const codes = init(m, 'bnb4_dq_codes').rawData;
  const scales = f32(init(m, 'bnb4_dq_scales'));
  const offsets = f32(init(m, 'bnb4_dq_offsets'));
  const table = f32(init(m, 'bnb4_dq_code'));
  return Float64Array.from({ length: sizes[piece] }, (_, i) => {
    const j = start + i;
    return table[codes[j]] * scales[Math.floor(j / 256)] + offsets[Math.floor(j / 256)];
  });
}

describe('MatMulBnb4 (bnb4)', () => {
  for (const quantType of ['nf4', 'fp4'] as const)
    for (const [K, bs, layout] of [
      [128, 64, 'KN'],
      [172, 64, 'KN'],
      [172, 16, 'NK'],
    ] as const)
      for (const doubleQuant of [false, true]) {
        it(`${quantType} K=${K} block ${bs}${doubleQuant ? ' double-quant' : ''}`, async () => {
          const r = await quantizeAndRun(
            K,
            layout,
            { dtype: 'bnb4', quantType, blockSize: bs, doubleQuant },
            31 + K + bs,
          );
          const n0 = node(r.model, 'MatMulBnb4');
          expect([intAttr(n0, 'K'), intAttr(n0, 'N'), intAttr(n0, 'block_size'), intAttr(n0, 'quant_type')]).toEqual([
            K,
            N,
            bs,
            quantType === 'nf4' ? 1 : 0,
          ]);
          const B = init(r.model, n0.input[1]).rawData;
          expect(B.length).toBe(Math.ceil((N * K) / 2));
          const absmax = bnbAbsmax(r.model, n0);
          expect(absmax.length).toBe(Math.ceil((N * K) / bs));
          const table = quantType === 'nf4' ? NF4 : FP4;
          // B is the [N, K] weight flattened; the first of each pair sits in the high nibble.
          const deq = new Float64Array(K * N);
          for (let i = 0; i < N * K; i++) {
            const code = i % 2 === 0 ? B[i >> 1] >> 4 : B[i >> 1] & 15;
            const n = Math.floor(i / K);
            const k = i % K;
            deq[k * N + n] = table[code] * absmax[Math.floor(i / bs)];
            if (!doubleQuant) {
              // The stored code is the nearest table entry to w / absmax.
              const a = absmax[Math.floor(i / bs)];
              const target = r.original[k * N + n] / a;
              const best = Math.min(...table.map((t) => Math.abs(t - target)));
              expect(Math.abs(table[code] - target)).toBeLessThanOrEqual(best + 1e-6);
            }
          }
          expectClose(r.y, refProduct(r.x, K, deq), 1e-4);
        });
      }
});

/** DynamicQuantizeLinear as the ONNX spec defines it (float32 arithmetic, round half to even). */
function dynamicQuantize(x: number[]): { q: number[]; scale: number; zp: number } {
  const rne = (v: number) => {
    const f = Math.floor(v);
    const d = v - f;
    return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
  };
  const lo = Math.min(0, ...x);
  const hi = Math.max(0, ...x);
  const scale = Math.fround((hi - lo) / 255);
  const zp = Math.min(255, Math.max(0, rne(Math.fround(0 - Math.fround(lo / scale)))));
  return { q: x.map((v) => Math.min(255, Math.max(0, rne(Math.fround(v / scale)) + zp))), scale, zp };
}

describe('DynamicQuantizeLinear + MatMulInteger (q8, int8, uint8)', () => {
  for (const dtype of ['q8', 'int8', 'uint8'] as const)
    for (const perChannel of [false, true])
      for (const [K, layout] of [
        [128, 'KN'],
        [172, 'NK'],
      ] as const) {
        it(`${dtype}${perChannel ? ' per-channel' : ''} K=${K}`, async () => {
          const r = await quantizeAndRun(K, layout, { dtype, perChannel }, 57 + K);
          const mm = node(r.model, 'MatMulInteger');
          const W = init(r.model, mm.input[1]);
          expect(W.dataType).toBe(dtype === 'int8' ? DataType.INT8 : DataType.UINT8);
          expect(W.dims.map(Number)).toEqual([K, N]);
          const wq = dtype === 'int8' ? new Int8Array(W.rawData.slice().buffer) : W.rawData;
          const zpT = init(r.model, mm.input[3]);
          const zps = dtype === 'int8' ? new Int8Array(zpT.rawData.slice().buffer) : zpT.rawData;
          const scaleName = r.model.graph!.node.find(
            (n) => n.opType === 'Mul' && n.input.some((i) => i === `${mm.input[1]}_scale`),
          )!.input[1];
          const ws = f32(init(r.model, scaleName));
          expect(ws.length).toBe(perChannel ? N : 1);
          if (dtype === 'int8') {
            for (const v of wq) expect(Math.abs(v)).toBeLessThanOrEqual(64); // 7-bit range, exact on AVX2 without VNNI
            expect(Array.from(zps)).toEqual(Array(ws.length).fill(0));
          }
          const deq = new Float64Array(K * N);
          for (let k = 0; k < K; k++)
            for (let n = 0; n < N; n++) {
              const g = perChannel ? n : 0;
              deq[k * N + n] = (wq[k * N + n] - zps[g]) * ws[g];
              expect(Math.abs(deq[k * N + n] - r.original[k * N + n])).toBeLessThanOrEqual((ws[g] / 2) * (1 + 1e-6));
            }
          // The activations are quantized at run time: emulate DynamicQuantizeLinear, then integer math.
          const xq = dynamicQuantize(r.x);
          const ref = new Float64Array(M * N);
          for (let m = 0; m < M; m++)
            for (let n = 0; n < N; n++) {
              const g = perChannel ? n : 0;
              let acc = 0;
              for (let k = 0; k < K; k++) acc += (xq.q[m * K + k] - xq.zp) * (wq[k * N + n] - zps[g]);
              ref[m * N + n] = acc * Math.fround(xq.scale * ws[g]);
            }
          expectClose(r.y, ref, 1e-4);
          // And the whole thing stays near the float product (7-bit per-tensor int8 is the coarsest).
          expectClose(r.y, refProduct(r.x, K, r.original), 0.1);
        });
      }
});
