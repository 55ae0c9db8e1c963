// The fp16 rewrite on a graph with the fragile parts of a decoder: large hidden states through an
// RMSNorm, a softmax, a mask built from float32's lowest value, a constant island from integer
// positions, and a weight outside the float16 range. Checked by running fp32 and fp16 in ORT.
import { describe, expect, it } from 'vitest';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../src/lib/numeric/half';
import { GraphBuilder } from '../../src/lib/onnx/builder';
import { DataType, attr, encodeModel, valueInfoShape, type ModelProto } from '../../src/lib/onnx/proto';
import { quantizeModel } from '../../src/lib/quantize/quantize-model';
import { runModelBytes } from '../helpers/ort-node';

const D = 8;
const S = 3;

/** y = softmax(RMSNorm(x) @ W + mask + pos*f) over the last axis, with W[0][0] = 70000. */
function fragileNet(): ModelProto {
  const g = new GraphBuilder();
  const x = g.input('x', DataType.FLOAT, [S, D]);
  const pos = g.input('pos', DataType.INT64, [S, 1]);
  const keep = g.input('keep', DataType.BOOL, [S, D]);
  const ms = g.op('ReduceMean', [g.op('Mul', [x, x])], [attr.ints('axes', [-1]), attr.int('keepdims', 1)]);
  const normed = g.op('Div', [x, g.op('Sqrt', [g.op('Add', [ms, g.float([1e-5], [])])])]);
  const w = new Float32Array(D * D).map((_, i) => ((i * 37) % 11) / 11 - 0.5);
  w[0] = 70000;
  const h = g.op('MatMul', [normed, g.initializer('w', DataType.FLOAT, [D, D], w)]);
  // Island: float32 angles from integer positions, and a mask of float32's lowest value.
  const angle = g.op('Sin', [
    g.op('Mul', [
      g.op('Cast', [pos], [attr.int('to', DataType.FLOAT)]),
      g.float([0.37, 1.1, 2.3, 0.05, 0.9, 1.7, 0.2, 3.1]),
    ]),
  ]);
  const mask = g.op('Where', [keep, g.float([0], []), g.float([-3.4028234663852886e38], [])]);
  const scores = g.op('Add', [g.op('Add', [g.op('Mul', [h, g.float([1e-4], [])]), angle]), mask]);
  g.op('Softmax', [scores], [attr.int('axis', -1)], { output: 'y' });
  g.output('y', DataType.FLOAT, [S, D]);
  return g.build('fragile', { '': 17 });
}

describe('fp16 conversion', () => {
  it('keeps RMSNorm statistics, softmax and constant islands in float32, clamps and warns', async () => {
    const model = fragileNet();
    const { model: out, bytes, report } = await quantizeModel(model, { dtype: 'fp16' });
    expect(report.warnings).toHaveLength(1);
    expect(report.warnings[0]).toMatch(/^w: 1 value\(s\) outside the float16 range \(max \|x\| = 70000\) clamped/);
    const g = out.graph!;
    expect(valueInfoShape(g.output[0])!.elemType).toBe(DataType.FLOAT16);
    expect(valueInfoShape(g.input.find((v) => v.name === 'x')!)!.elemType).toBe(DataType.FLOAT16);
    const w = g.initializer.find((t) => t.name === 'w')!;
    expect(w.dataType).toBe(DataType.FLOAT16);
    expect(float16BitsToFloat32(new Uint16Array(w.rawData.slice().buffer)[0])).toBe(65504);
    // The square, the mean and the softmax read float32 copies of float16 activations.
    const producer = new Map(g.node.flatMap((n) => n.output.map((o) => [o, n] as const)));
    for (const op of ['ReduceMean', 'Softmax']) {
      const n = g.node.find((x) => x.opType === op)!;
      const src = producer.get(n.input[0])!;
      if (op === 'Softmax') expect(src).toMatchObject({ opType: 'Cast' });
      else expect(src.opType).toBe('Mul');
    }
    const sq = g.node.find((n) => n.opType === 'Mul' && n.input[0] === n.input[1])!;
    expect(producer.get(sq.input[0])).toMatchObject({ opType: 'Cast' });
    // The island Mul(Cast(pos), freqs) keeps its float32 constant.
    const castPos = g.node.find((n) => n.opType === 'Cast' && n.input[0] === 'pos')!;
    expect(Number(castPos.attribute[0].i)).toBe(DataType.FLOAT);
    expect(g.node.filter((n) => n.opType === 'Clip')).toHaveLength(2); // angle and mask enter float16 clipped

    // Hidden states of ~1000 square to ~1e6, past float16's range: computed in float32 they are fine.
    // (ORT's CPU provider upcasts float16 elementwise ops it has no kernel for, so on CPU only the
    // structure above shows the difference; WebGPU computes them in real float16.)
    const x = Float32Array.from({ length: S * D }, (_, i) => 900 + 37 * i * (i % 2 ? -1 : 1));
    const pos = BigInt64Array.from([0n, 5n, 60n]);
    const keep = Uint8Array.from({ length: S * D }, (_, i) => (i % 7 === 3 ? 0 : 1));
    const feeds = (half: boolean) => ({
      x: half
        ? { type: 'float16' as const, data: Uint16Array.from(x, float32ToFloat16Bits), dims: [S, D] }
        : { type: 'float32' as const, data: x, dims: [S, D] },
      pos: { type: 'int64' as const, data: pos, dims: [S, 1] },
      keep: { type: 'bool' as const, data: keep, dims: [S, D] },
    });
    const ref = (await runModelBytes(encodeModel(model), feeds(false))).y.data as Float32Array;
    const got = Array.from((await runModelBytes(bytes, feeds(true))).y.data as Uint16Array, float16BitsToFloat32);
    for (let i = 0; i < ref.length; i++) {
      expect(Number.isFinite(got[i])).toBe(true);
      expect(Math.abs(got[i] - ref[i])).toBeLessThan(0.02); // W[0][0] was clamped: small, bounded change
      if (keep[i] === 0) expect(got[i]).toBe(0);
    }
  });
});
