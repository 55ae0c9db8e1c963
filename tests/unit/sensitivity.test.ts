// Layer sensitivity on aidreams260K against an independent reference: for a weight, a real
// MatMulNBits file with only that weight quantized (quantizeModel with every other weight kept)
// run in onnxruntime-node, its KL divergence from the fp32 file computed here in float64.
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { importLlama2cCheckpoint } from '../../src/lib/import/llama2c';
import type { DecoderConfig, WeightMap } from '../../src/lib/model/config';
import { buildDecoderGraph } from '../../src/lib/model/llama-graph';
import { encodeModel, type ModelProto } from '../../src/lib/onnx/proto';
import { rtnGrid, type WeightContext } from '../../src/lib/quantize/grid';
import { WEIGHT_METHODS } from '../../src/lib/quantize/methods';
import { quantizeModel } from '../../src/lib/quantize/quantize-model';
import {
  inputContext,
  layerModule,
  measureSensitivity,
  nbitsBytes,
  sensitivityCsv,
  type SensitivityProgress,
  type SensitivityReport,
} from '../../src/lib/quantize/sensitivity';
import { findWeightTargets } from '../../src/lib/quantize/targets';
import { nodeOrtRuntime } from '../../src/node/ort-runtime';
import { readCheckpoint } from '../helpers/aidreams';
import { createSession, step } from '../helpers/decoder-session';

const CTX = 32;
// Two windows of pseudo-text: BOS then ids from the 512-token vocabulary (KL divergence needs no words).
const IDS = [1, ...Array.from({ length: 2 * CTX - 1 }, (_, i) => 3 + ((i * 137 + 11) % 509))];

/** log-softmax in float64, written out here. */
function logProbs(row: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  let s = 0;
  for (const v of row) s += Math.exp(v - max);
  const lse = max + Math.log(s);
  return Float64Array.from(row, (v) => v - lse);
}

/** Mean KL(fp32 || q) over the scored second half of each window, as llama.cpp scores it. */
async function referenceKld(fp32: ort.InferenceSession, q: ort.InferenceSession, c: DecoderConfig): Promise<number> {
  const dims = { numLayers: c.numLayers, numKvHeads: c.numKvHeads, headDim: c.headDim };
  let sum = 0;
  let count = 0;
  for (let w = 0; w < IDS.length / CTX; w++) {
    const ids = IDS.slice(w * CTX, (w + 1) * CTX);
    ids[0] = 1;
    const p = await step(fp32, dims, ids);
    const r = await step(q, dims, ids);
    const V = p.vocab;
    for (let j = CTX / 2; j <= CTX - 2; j++) {
      const lp = logProbs(p.logits.subarray(j * V, (j + 1) * V));
      const lq = logProbs(r.logits.subarray(j * V, (j + 1) * V));
      let kld = 0;
      for (let i = 0; i < V; i++) kld += Math.exp(lp[i]) * (lp[i] - lq[i]);
      sum += kld;
      count++;
    }
  }
  return sum / count;
}

describe('layer sensitivity (aidreams260K)', () => {
  let config: DecoderConfig;
  let weights: WeightMap;
  let fp32: ModelProto;
  let fp32Session: ort.InferenceSession;
  let report: SensitivityReport;
  const progress: SensitivityProgress[] = [];
  beforeAll(async () => {
    const imported = importLlama2cCheckpoint(readCheckpoint());
    config = imported.config;
    weights = imported.weights;
    fp32 = buildDecoderGraph(config, weights);
    fp32Session = await createSession(encodeModel(fp32));
    report = await measureSensitivity({
      model: fp32,
      ids: IDS,
      bos: 1,
      ctx: CTX,
      bits: [8, 4, 2],
      runtime: await nodeOrtRuntime(),
      onProgress: (p) => progress.push(p),
    });
  }, 120_000);

  it('measures every linear weight but the lm_head, at every width, in graph order', () => {
    const linears = findWeightTargets(fp32.graph!).filter((t) => t.role === 'linear');
    expect(linears).toHaveLength(4 * 7);
    expect(report.entries.map((e) => `${e.weight}@${e.bits}`)).toEqual(
      linears.flatMap((t) => [2, 4, 8].map((b) => `${t.weight.name}@${b}`)),
    );
    expect(report.windows).toBe(2);
    expect(report.positions).toBe(2 * (CTX - 1 - CTX / 2));
    expect(report.entries[0]).toMatchObject({ layer: 0, module: 'q_proj', K: 64, N: 64, method: 'rtn' });
    expect(report.entries.at(-1)).toMatchObject({ layer: 3, module: 'down_proj', K: 172, N: 64 });
  });

  it('equals the KL divergence of a real file with only that weight quantized (4 and 8 bits)', async () => {
    const all = findWeightTargets(fp32.graph!).map((t) => t.weight.name);
    for (const name of ['model.layers.0.self_attn.v_proj.weight_T', 'model.layers.2.mlp.down_proj.weight_T']) {
      for (const bits of [4, 8] as const) {
        const { bytes } = await quantizeModel(fp32, { dtype: 'q4', bits, keep: all.filter((w) => w !== name) });
        const q = await createSession(bytes);
        const want = await referenceKld(fp32Session, q, config);
        await q.release();
        const got = report.entries.find((e) => e.weight === name && e.bits === bits)!;
        expect(want).toBeGreaterThan(0);
        expect(Math.abs(got.kld_mean - want) / want).toBeLessThan(0.02);
      }
    }
  }, 120_000);

  it('divergence falls with more bits for every weight', () => {
    for (let i = 0; i < report.entries.length; i += 3) {
      const [b2, b4, b8] = report.entries.slice(i, i + 3);
      expect(b2.kld_mean).toBeGreaterThan(b4.kld_mean);
      expect(b4.kld_mean).toBeGreaterThan(b8.kld_mean);
      expect(b8.kld_mean).toBeGreaterThan(0);
    }
  });

  it("counts each width's bytes as the quantizer stores them", async () => {
    for (const [bits, symmetric, dtype] of [
      [4, true, 'q4'],
      [8, false, 'q4'],
      [4, false, 'q4f16'],
    ] as const) {
      const { report: r } = await quantizeModel(fp32, { dtype, bits, symmetric });
      for (const t of r.tensors) {
        const [K, N] = t.shape;
        expect(
          nbitsBytes(K, N, bits, { blockSize: 32, symmetric, scaleType: dtype === 'q4f16' ? 'float16' : 'float32' }),
        ).toBe(t.bytes);
      }
    }
    // 2-bit levels in 2-bit storage and 3-bit levels in 4-bit storage, by hand: K=172 is 6 blocks of 32.
    expect(nbitsBytes(172, 64, 2, { blockSize: 32, symmetric: true, scaleType: 'float32' })).toBe(64 * 6 * (8 + 4));
    expect(nbitsBytes(172, 64, 3, { blockSize: 32, symmetric: false, scaleType: 'float16' })).toBe(
      64 * 6 * (16 + 2) + 64 * 3,
    );
  });

  it('reports progress run by run, ending at the total', () => {
    const done = progress.map((p) => p.done);
    expect(done[0]).toBe(0);
    expect(done.every((d, i) => i === 0 || d >= done[i - 1])).toBe(true);
    expect(progress.at(-1)).toMatchObject({ done: 28 * 3, total: 28 * 3 });
  });

  it('exports CSV rows most divergent first', () => {
    const lines = sensitivityCsv(report).trim().split('\r\n');
    expect(lines[0]).toBe(
      'weight,layer,module,K,N,method,bits,bytes,bits_per_weight,kld_mean,kld_p99,same_top_pct,ppl',
    );
    expect(lines).toHaveLength(1 + 28 * 3);
    const klds = lines.slice(1).map((l) => Number(l.split(',')[9]));
    expect(klds.every((k, i) => i === 0 || k <= klds[i - 1])).toBe(true);
    expect(lines[1].split(',')[6]).toBe('2');
  });

  it("gives a calibrated method the statistics of the weight's own inputs", async () => {
    // A stand-in calibrated method that records its context and rounds to nearest.
    const seen = new Map<number, WeightContext | undefined>();
    const saved = WEIGHT_METHODS.gptq;
    WEIGHT_METHODS.gptq = (rows, N, K, spec, ctx) => {
      if (!seen.has(seen.size)) seen.set(seen.size, ctx);
      return rtnGrid(rows, N, K, spec);
    };
    try {
      await measureSensitivity({
        model: fp32,
        ids: IDS,
        bos: 1,
        ctx: CTX,
        method: 'gptq',
        runtime: await nodeOrtRuntime(),
      });
    } finally {
      if (saved) WEIGHT_METHODS.gptq = saved;
      else delete WEIGHT_METHODS.gptq;
    }
    // Layer 0's q_proj reads RMSNorm(embedding) * input_layernorm, over every token of both windows.
    const emb = weights.get('model.embed_tokens.weight')!.data;
    const g = weights.get('model.layers.0.input_layernorm.weight')!.data;
    const D = config.hiddenSize;
    const mean = new Float64Array(D);
    const windowIds = [...IDS.slice(0, CTX), ...IDS.slice(CTX)].map((id, i) => (i % CTX === 0 ? 1 : id));
    for (const id of windowIds) {
      let ss = 0;
      for (let d = 0; d < D; d++) ss += emb[id * D + d] ** 2;
      const inv = 1 / Math.sqrt(ss / D + config.rmsNormEps);
      for (let d = 0; d < D; d++) mean[d] += Math.abs(emb[id * D + d] * inv * g[d]) / windowIds.length;
    }
    const ctx0 = seen.get(0)!;
    expect(ctx0.inputMeanAbs).toHaveLength(D);
    for (let d = 0; d < D; d++) expect(ctx0.inputMeanAbs![d]).toBeCloseTo(mean[d], 4);
    expect(ctx0.hessian).toHaveLength(D * D);
  }, 60_000);

  it('refuses a text shorter than one window, a method this build lacks, and bits out of range', async () => {
    const runtime = await nodeOrtRuntime();
    const base = { model: fp32, bos: 1, ctx: CTX, runtime };
    await expect(measureSensitivity({ ...base, ids: IDS.slice(0, CTX - 1) })).rejects.toThrow(
      /calibration text is too short: it has 31 tokens/,
    );
    await expect(measureSensitivity({ ...base, ids: IDS, method: 'nope' as 'rtn' })).rejects.toThrow(
      /Unknown method "nope"/,
    );
    await expect(measureSensitivity({ ...base, ids: IDS, bits: [5 as 4] })).rejects.toThrow(/Unsupported bits 5/);
    await expect(measureSensitivity({ ...base, ids: IDS, blockSize: 48 })).rejects.toThrow(/Block size 48/);
    const c = new AbortController();
    c.abort();
    await expect(measureSensitivity({ ...base, ids: IDS, signal: c.signal })).rejects.toMatchObject({
      code: 'cancelled',
    });
  });
});

describe('inputContext and layerModule', () => {
  it('H = (2/T) XᵀX and mean |x| of the rows of X', () => {
    const x = Float32Array.from([1, -2, 0.5, 3, 0, -1]); // T = 2 rows of K = 3
    const { hessian, inputMeanAbs } = inputContext(x, 3);
    const want = [
      [1 + 9, -2 + 0, 0.5 - 3],
      [-2, 4, -1],
      [0.5 - 3, -1, 0.25 + 1],
    ];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) expect(hessian![i * 3 + j]).toBeCloseTo(want[i][j], 12);
    expect([...inputMeanAbs!]).toEqual([2, 1, 0.75]);
  });

  it('reads the layer and the module from Hugging Face names', () => {
    expect(layerModule('model.layers.12.mlp.down_proj.weight')).toEqual({ layer: 12, module: 'down_proj' });
    expect(layerModule('model.layers.0.self_attn.q_proj.weight_T')).toEqual({ layer: 0, module: 'q_proj' });
    expect(layerModule('transformer.h.3.attn.c_attn.weight')).toEqual({ layer: 3, module: 'c_attn' });
    expect(layerModule('lm_head.weight')).toEqual({ layer: null, module: 'lm_head' });
  });
});
