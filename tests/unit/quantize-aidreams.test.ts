// Every variant of a real trained decoder (aidreams260K) loads and runs in onnxruntime-node; fp16
// greedy decoding equals fp32 on the four oracle prompts; each variant's logit error is measured.
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { importLlama2cCheckpoint } from '../../src/lib/import/llama2c';
import { buildDecoderGraph } from '../../src/lib/model/llama-graph';
import type { DecoderConfig } from '../../src/lib/model/config';
import { float16BitsToFloat32 } from '../../src/lib/numeric/half';
import { encodeModel, type ModelProto } from '../../src/lib/onnx/proto';
import { quantizeModel } from '../../src/lib/quantize/quantize-model';
import type { QuantizeOptions } from '../../src/lib/variants/options';
import { greedyReferences, readCheckpoint } from '../helpers/aidreams';

type Session = ort.InferenceSession;

function floats(t: ort.Tensor): Float32Array {
  if (t.type === 'float32') return t.data as Float32Array;
  return Float32Array.from(t.data as Uint16Array, float16BitsToFloat32);
}

/** One forward pass over ids after `past` (positions continue from pastLen); returns logits rows and the cache. */
async function forward(
  s: Session,
  c: DecoderConfig,
  ids: number[],
  past: Record<string, ort.Tensor> | undefined,
  pastLen: number,
) {
  const n = ids.length;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, n]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(pastLen + n).fill(1n), [1, pastLen + n]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map((_, i) => BigInt(pastLen + i))), [1, n]),
  };
  const f16 = s.inputMetadata.find((m) => m.name === 'past_key_values.0.key' && m.isTensor && m.type === 'float16');
  for (let i = 0; i < c.numLayers; i++)
    for (const kv of ['key', 'value']) {
      const empty = f16
        ? new ort.Tensor('float16', new Uint16Array(0), [1, c.numKvHeads, 0, c.headDim])
        : new ort.Tensor('float32', new Float32Array(0), [1, c.numKvHeads, 0, c.headDim]);
      feeds[`past_key_values.${i}.${kv}`] = past?.[`present.${i}.${kv}`] ?? empty;
    }
  const out = await s.run(feeds);
  const present: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(out)) if (k.startsWith('present.')) present[k] = v;
  return { logits: floats(out.logits), present };
}

function argmax(a: Float32Array, from: number, len: number): number {
  let best = 0;
  for (let i = 1; i < len; i++) if (a[from + i] > a[from + best]) best = i;
  return best;
}

/** Greedy decoding with the KV cache, as llama2.c's run.c does (stops on BOS = 1). */
async function greedy(s: Session, c: DecoderConfig, prompt: number[], maxNew: number): Promise<number[]> {
  let { logits, present } = await forward(s, c, prompt, undefined, 0);
  let pos = prompt.length;
  const out: number[] = [];
  let next = argmax(logits, (prompt.length - 1) * c.vocabSize, c.vocabSize);
  while (out.length < maxNew) {
    out.push(next);
    if (next === 1 || out.length === maxNew) break;
    ({ logits, present } = await forward(s, c, [next], present, pos));
    pos++;
    next = argmax(logits, 0, c.vocabSize);
  }
  return out;
}

const VARIANTS: QuantizeOptions[] = [
  { dtype: 'fp16' },
  { dtype: 'bf16' },
  { dtype: 'q8' },
  { dtype: 'int8' },
  { dtype: 'uint8' },
  { dtype: 'q8', perChannel: true },
  { dtype: 'q4' },
  { dtype: 'q4', symmetric: false },
  { dtype: 'q4', blockSize: 128 },
  { dtype: 'q4', bits: 8 },
  { dtype: 'q4f16' },
  { dtype: 'bnb4' },
  { dtype: 'bnb4', quantType: 'fp4' },
  { dtype: 'bnb4', doubleQuant: true },
  { dtype: 'bnb4', quantType: 'fp4', doubleQuant: true },
];

describe('aidreams260K in every variant', () => {
  let config: DecoderConfig;
  let fp32: ModelProto;
  let fp32Session: Session;
  const refs = greedyReferences();
  beforeAll(async () => {
    const imported = importLlama2cCheckpoint(readCheckpoint());
    config = imported.config;
    fp32 = buildDecoderGraph(config, imported.weights);
    fp32Session = await ort.InferenceSession.create(encodeModel(fp32));
  }, 60_000);

  it('fp16 greedy output equals fp32 (and the oracle) on all four reference prompts', async () => {
    const { bytes, report } = await quantizeModel(fp32, { dtype: 'fp16' });
    expect(report.warnings).toEqual([]);
    const s = await ort.InferenceSession.create(bytes);
    expect(s.outputMetadata.find((m) => m.name === 'logits')).toMatchObject({ type: 'float16' });
    for (const ref of refs) {
      const want = await greedy(fp32Session, config, ref.prompt_ids, ref.greedy_ids.length);
      expect(want).toEqual(ref.greedy_ids);
      expect(await greedy(s, config, ref.prompt_ids, ref.greedy_ids.length)).toEqual(want);
    }
    await s.release();
  }, 120_000);

  it('every variant loads, runs with a KV cache, and stays close to fp32 logits', async () => {
    const ids = [...refs[0].prompt_ids, ...refs[0].greedy_ids].slice(0, 64);
    const base = (await forward(fp32Session, config, ids, undefined, 0)).logits;
    const fp32Bytes = encodeModel(fp32).byteLength;
    const rows: string[] = [];
    const errors: Record<string, number> = {};
    const sizes: Record<string, number> = {};
    for (const v of VARIANTS) {
      const { bytes, report } = await quantizeModel(fp32, v);
      const s = await ort.InferenceSession.create(bytes);
      const { logits } = await forward(s, config, ids, undefined, 0);
      let num = 0;
      let den = 0;
      let top1 = 0;
      for (let i = 0; i < base.length; i++) [num, den] = [num + (logits[i] - base[i]) ** 2, den + base[i] ** 2];
      for (let p = 0; p < ids.length; p++)
        if (
          argmax(logits, p * config.vocabSize, config.vocabSize) ===
          argmax(base, p * config.vocabSize, config.vocabSize)
        )
          top1++;
      const rel = Math.sqrt(num / den);
      errors[report.file] = rel;
      sizes[report.file] = report.fileBytes;
      const gen = await greedy(s, config, refs[2].prompt_ids, 24);
      expect(gen.length).toBeGreaterThan(0);
      expect(Number.isFinite(rel)).toBe(true);
      rows.push(
        `${report.file.padEnd(30)} ${String(report.fileBytes).padStart(8)} B (${((report.fileBytes / fp32Bytes) * 100).toFixed(0).padStart(3)}%)  ${report.bitsPerWeightQuantized.toFixed(2).padStart(5)} b/w  logits rel RMS ${rel.toExponential(2)}  top-1 ${top1}/${ids.length}`,
      );
      await s.release();
    }
    console.log(`fp32 model.onnx ${fp32Bytes} B\n${rows.join('\n')}`);
    // 16-bit variants are near-exact; 8-bit within a few percent; 4-bit within tens of percent.
    expect(errors['model_fp16.onnx']).toBeLessThan(5e-3);
    expect(errors['model_bf16.onnx']).toBeLessThan(2e-2);
    for (const f of ['model_quantized.onnx', 'model_uint8.onnx', 'model_int8.onnx', 'model_q8nbits.onnx'])
      expect(errors[f]).toBeLessThan(0.1);
    for (const f of [
      'model_q4.onnx',
      'model_q4f16.onnx',
      'model_bnb4.onnx',
      'model_bnb4_fp4.onnx',
      'model_bnb4_nf4_dq.onnx',
    ])
      expect(errors[f]).toBeLessThan(0.5);
    expect(errors['model_q8nbits.onnx']).toBeLessThan(errors['model_q4.onnx']);
    // Double quantization makes the whole file smaller (one byte per absmax instead of four).
    expect(sizes['model_bnb4_nf4_dq.onnx']).toBeLessThan(sizes['model_bnb4.onnx']);
    expect(errors['model_bnb4_nf4_dq.onnx']).toBeLessThan(errors['model_bnb4.onnx'] * 1.05);
    for (const [f, size] of Object.entries(sizes))
      if (f !== 'model_bf16.onnx') expect(size).toBeLessThan(fp32Bytes * 0.6);
  }, 300_000);
});
