// quantizeModel as a whole: target selection and keep-list, errors before any output, progress and
// cancellation, file naming, and what double quantization buys and costs.
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/lib/onnx/builder';
import { DataType, attr, encodeModel, type ModelProto } from '../../src/lib/onnx/proto';
import { quantizeModel, type QuantizeProgress } from '../../src/lib/quantize/quantize-model';
import { upsertManifest } from '../../src/lib/variants/manifest';
import type { QuantizeOptions } from '../../src/lib/variants/options';
import { transformersDtype, variantFileName } from '../../src/lib/variants/table';
import { QuantlabError } from '../../src/lib/errors';
import { runModelBytes } from '../helpers/ort-node';

function seeded(n: number, seed: number, sd = 0.05): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 2 ** 32;
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const v = s / 2 ** 32;
    out[i] = sd * Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v);
  }
  return out;
}

const K = 64;
const H = 172;
const V = 96;

/** x -> MatMul W1 -> Relu -> MatMul W2 -> + x -> Reshape -> Gemm(E, transB) (tied-style head) -> logits. */
function smallNet(): ModelProto {
  const g = new GraphBuilder();
  const x = g.input('x', DataType.FLOAT, ['batch', K]);
  const h = g.op('Relu', [
    g.op('MatMul', [x, g.initializer('mlp.up.weight', DataType.FLOAT, [K, H], seeded(K * H, 1))]),
  ]);
  const y = g.op('Add', [
    x,
    g.op('MatMul', [h, g.initializer('mlp.down.weight', DataType.FLOAT, [H, K], seeded(H * K, 2))]),
  ]);
  const flat = g.op('Reshape', [y, g.int64([-1, K])]);
  const logits2d = g.op(
    'Gemm',
    [flat, g.initializer('embed.weight', DataType.FLOAT, [V, K], seeded(V * K, 3))],
    [attr.int('transB', 1)],
  );
  g.op('Reshape', [logits2d, g.int64([-1, V])], [], { output: 'logits' });
  g.output('logits', DataType.FLOAT, ['batch', V]);
  return g.build('small_net', { '': 17 });
}

async function expectError(p: Promise<unknown>, code: string, message: RegExp): Promise<QuantlabError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(QuantlabError);
  expect((err as QuantlabError).code).toBe(code);
  expect((err as QuantlabError).message).toMatch(message);
  return err as QuantlabError;
}

describe('quantizeModel', () => {
  it('quantizes the linear layers, keeps the lm_head by default, and leaves the input untouched', async () => {
    const model = smallNet();
    const before = encodeModel(model);
    const { model: out, report } = await quantizeModel(model, { dtype: 'q4' });
    expect(encodeModel(model)).toEqual(before);
    const ops = out.graph!.node.map((n) => n.opType);
    expect(ops.filter((o) => o === 'MatMulNBits')).toHaveLength(2);
    expect(ops).toContain('Gemm');
    expect(report.kept).toEqual(['embed.weight']);
    expect(report.tensors.map((t) => t.name)).toEqual(['mlp.up.weight', 'mlp.down.weight']);
    expect(out.graph!.initializer.map((t) => t.name)).not.toContain('mlp.up.weight');
    expect(out.opsetImport.map((o) => [o.domain, Number(o.version)])).toContainEqual(['com.microsoft', 1]);
    // Per block of 32 (K = 172 padded to 192): 16 bytes of 4-bit codes + a 4-byte float32 scale.
    const bytes = H * Math.ceil(K / 32) * 20 + K * Math.ceil(H / 32) * 20;
    expect(report.tensors.reduce((a, t) => a + t.bytes, 0)).toBe(bytes);
    expect(report.bitsPerWeightQuantized).toBeCloseTo((8 * bytes) / (2 * K * H), 9);
    expect(report.fileBytes).toBeLessThan(before.byteLength);
  });

  it('quantizes the lm_head on request and honours a keep-list by node or weight name', async () => {
    const a = await quantizeModel(smallNet(), { dtype: 'q4', keepLmHead: false, keep: ['mlp.down.weight'] });
    expect(a.report.tensors.map((t) => t.name)).toEqual(['mlp.up.weight', 'embed.weight']);
    expect(a.report.kept).toEqual(['mlp.down.weight']);
    expect(a.report.file).toMatch(/^model_q4_qhead_keep\w+\.onnx$/);
    const x = seeded(3 * K, 9, 1);
    const ref = await runModelBytes(encodeModel(smallNet()), { x: { type: 'float32', data: x, dims: [3, K] } });
    const got = await runModelBytes(a.bytes, { x: { type: 'float32', data: x, dims: [3, K] } });
    const r = ref.logits.data as Float32Array;
    const g = got.logits.data as Float32Array;
    let num = 0;
    let den = 0;
    for (let i = 0; i < r.length; i++) [num, den] = [num + (g[i] - r[i]) ** 2, den + r[i] ** 2];
    expect(Math.sqrt(num / den)).toBeLessThan(0.1); // 4-bit weights: close, not equal
    expect(Math.sqrt(num / den)).toBeGreaterThan(1e-4);
  });

  it('reports progress monotonically up to done === total, and cancels between tensors', async () => {
    const events: QuantizeProgress[] = [];
    await quantizeModel(smallNet(), { dtype: 'bnb4', keepLmHead: false }, { onProgress: (p) => events.push(p) });
    expect(events.length).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < events.length; i++) expect(events[i].done).toBeGreaterThanOrEqual(events[i - 1].done);
    expect(events.at(-1)).toMatchObject({
      status: 'quantize',
      dtype: 'bnb4',
      file: 'model_bnb4_qhead.onnx',
      done: 3,
      total: 3,
    });

    for (const dtype of ['fp16', 'bf16', 'q4f16'] as const) {
      const ev: QuantizeProgress[] = [];
      await quantizeModel(smallNet(), { dtype }, { onProgress: (p) => ev.push(p) });
      for (let i = 1; i < ev.length; i++) expect(ev[i].done).toBeGreaterThanOrEqual(ev[i - 1].done);
      expect(ev.length).toBeGreaterThan(1);
      expect(ev.at(-1)!.done).toBe(ev.at(-1)!.total);
      expect(ev.every((e) => e.total === ev.at(-1)!.total && e.done <= e.total)).toBe(true);
    }

    const ctrl = new AbortController();
    const seen: string[] = [];
    const p = quantizeModel(
      smallNet(),
      { dtype: 'q4', keepLmHead: false },
      {
        signal: ctrl.signal,
        onProgress: (e) => {
          seen.push(e.tensor);
          ctrl.abort();
        },
      },
    );
    await expectError(p, 'cancelled', /Cancelled/);
    expect(seen).toEqual(['mlp.up.weight']);
  });

  it('rejects bad arguments with the valid values named', async () => {
    const e = await expectError(
      quantizeModel(smallNet(), { dtype: 'q3' as QuantizeOptions['dtype'] }),
      'bad-argument',
      /Unknown dtype "q3"/,
    );
    expect(e.detail).toContain('fp16, bf16, q8, int8, uint8, q4, q4f16, bnb4');
    for (const blockSize of [48, 8, 512, 32.5]) {
      const b = await expectError(
        quantizeModel(smallNet(), { dtype: 'q4', blockSize }),
        'bad-argument',
        /not a power of two between 16 and 256/,
      );
      expect(b.detail).toContain('16, 32, 64, 128, 256');
    }
    await expectError(quantizeModel(smallNet(), { dtype: 'q4', bits: 5 as 4 }), 'bad-argument', /bits 5/);
    await expectError(
      quantizeModel(smallNet(), { dtype: 'bnb4', quantType: 'int4' as 'nf4' }),
      'bad-argument',
      /quant type "int4"/,
    );
  });

  it('refuses a model without float MatMul weights, or whose only weight is kept', async () => {
    const g = new GraphBuilder();
    const x = g.input('x', DataType.FLOAT, [2, 4]);
    g.op('Add', [x, g.float([1, 2, 3, 4])], [], { output: 'y' });
    g.output('y', DataType.FLOAT, [2, 4]);
    await expectError(
      quantizeModel(g.build('no_matmul', { '': 17 }), { dtype: 'q4' }),
      'no-weights',
      /no float32 MatMul or Gemm weights/,
    );
    await expectError(
      quantizeModel(g.build('no_matmul', { '': 17 }), { dtype: 'fp16' }),
      'no-weights',
      /no float32 MatMul/,
    );
    const h = new GraphBuilder();
    const hx = h.input('x', DataType.FLOAT, [2, K]);
    h.op('MatMul', [hx, h.initializer('head', DataType.FLOAT, [K, V], seeded(K * V, 4))], [], { output: 'logits' });
    h.output('logits', DataType.FLOAT, [2, V]);
    await expectError(
      quantizeModel(h.build('head_only', { '': 17 }), { dtype: 'int8' }),
      'no-weights',
      /All 1 MatMul\/Gemm weights are kept/,
    );
  });

  it('refuses an already quantized or float16 model', async () => {
    for (const dtype of ['q4', 'q8', 'bnb4', 'fp16'] as const) {
      const { model } = await quantizeModel(smallNet(), { dtype, keepLmHead: false });
      await expectError(
        quantizeModel(model, { dtype: 'q4' }),
        'already-quantized',
        /already quantized: (node .* is a|weight .* is FLOAT16)/,
      );
    }
  });

  it('double quantization shrinks the absmax bytes; the extra weight error is small', async () => {
    const plain = await quantizeModel(smallNet(), { dtype: 'bnb4', keepLmHead: false });
    const dq = await quantizeModel(smallNet(), { dtype: 'bnb4', doubleQuant: true, keepLmHead: false });
    expect(dq.report.file).toBe('model_bnb4_nf4_dq_qhead.onnx');
    // (The file itself also carries the 1 KiB code table: see the aidreams test for a whole model.)
    for (let i = 0; i < plain.report.tensors.length; i++) {
      const a = plain.report.tensors[i];
      const b = dq.report.tensors[i];
      const n = a.shape[0] * a.shape[1];
      const codeBytes = Math.ceil(n / 2);
      const absmaxPlain = a.bytes - codeBytes;
      const absmaxDq = b.bytes - codeBytes;
      const absmaxCount = Math.ceil(n / 64);
      expect(absmaxPlain).toBe(4 * absmaxCount);
      // One byte per absmax (padded to whole blocks of 256) + a float32 scale and offset per block.
      const blocks = Math.ceil(absmaxCount / 256);
      expect(absmaxDq).toBe(256 * blocks + 8 * blocks);
      expect(absmaxDq).toBeLessThan(absmaxPlain);
      const extra = b.rmsError / a.rmsError - 1;
      console.log(
        `double quant ${a.name}: absmax ${absmaxPlain} -> ${absmaxDq} bytes, bits/weight ${a.bitsPerWeight.toFixed(3)} -> ${b.bitsPerWeight.toFixed(3)}, weight RMS error ${a.rmsError.toExponential(3)} -> ${b.rmsError.toExponential(3)} (+${(100 * extra).toFixed(3)}%)`,
      );
      expect(b.rmsError).toBeGreaterThanOrEqual(a.rmsError * 0.999);
      expect(extra).toBeLessThan(0.02);
    }
  });
});

describe('variant names and manifest', () => {
  it('uses transformers.js names for the defaults and descriptive names otherwise', () => {
    const name = (o: QuantizeOptions) => variantFileName(o);
    expect(name({ dtype: 'fp16' })).toBe('model_fp16.onnx');
    expect(name({ dtype: 'q8' })).toBe('model_quantized.onnx');
    expect(name({ dtype: 'int8' })).toBe('model_int8.onnx');
    expect(name({ dtype: 'uint8' })).toBe('model_uint8.onnx');
    expect(name({ dtype: 'q4' })).toBe('model_q4.onnx');
    expect(name({ dtype: 'q4f16' })).toBe('model_q4f16.onnx');
    expect(name({ dtype: 'bnb4' })).toBe('model_bnb4.onnx');
    expect(name({ dtype: 'bf16' })).toBe('model_bf16.onnx');
    expect(name({ dtype: 'q4', blockSize: 128 })).toBe('model_q4_b128.onnx');
    expect(name({ dtype: 'q4', symmetric: false })).toBe('model_q4_asym.onnx');
    expect(name({ dtype: 'q4', bits: 8 })).toBe('model_q8nbits.onnx');
    expect(name({ dtype: 'bnb4', quantType: 'fp4' })).toBe('model_bnb4_fp4.onnx');
    expect(name({ dtype: 'bnb4', quantType: 'fp4', doubleQuant: true })).toBe('model_bnb4_fp4_dq.onnx');
    expect(name({ dtype: 'bnb4', doubleQuant: true })).toBe('model_bnb4_nf4_dq.onnx');
    expect(name({ dtype: 'int8', perChannel: true })).toBe('model_int8_pc.onnx');
    expect(transformersDtype('model_quantized.onnx')).toBe('q8');
    expect(transformersDtype('model_q4_b128.onnx')).toBeUndefined();
  });

  it('upserts manifest entries by file name, sorted', () => {
    const entry = (file: string, bytes: number) => ({
      file,
      format: 'x',
      options: {} as never,
      bytes,
      bitsPerWeight: 1,
      bitsPerWeightQuantized: 1,
    });
    let m = upsertManifest(undefined, entry('model_q4.onnx', 1));
    m = upsertManifest(m, entry('model_bnb4.onnx', 2));
    m = upsertManifest(m, entry('model_q4.onnx', 3));
    expect(m.variants.map((v) => [v.file, v.bytes])).toEqual([
      ['model_bnb4.onnx', 2],
      ['model_q4.onnx', 3],
    ]);
    expect(m.source).toBe('model.onnx');
  });
});
