// AWQ: the chosen α minimises the output error measured here in float64 (own scales, own
// round-to-nearest) over the grid; the clip search never does worse than no clipping on the block's
// output error; and folding the scales into the RMSNorm weights and up_proj leaves aidreams260K's
// fp32 logits unchanged.
import { afterAll, describe, expect, it } from 'vitest';
import { awqGrid, awqSearchScale, awqSearchScaleWith, AWQ_ALPHA_GRID } from '../../src/lib/quantize/awq';
import { awqPrepare } from '../../src/lib/quantize/awq-model';
import { dequantizeGrid, roundHalfUp, type GridSpec } from '../../src/lib/quantize/grid';
import { buildDecoderGraph } from '../../src/lib/model/llama-graph';
import { encodeModel } from '../../src/lib/onnx/proto';
import { nodeCalibRuntime } from '../../src/node/calibration';
import { aidreamsSource, cleanupTempDirs } from '../helpers/model-dirs';
import { mulberry32 } from '../helpers/prng';
import { runModelBytes, type Feed } from '../helpers/ort-node';

afterAll(cleanupTempDirs);

const gaussian = (rand: () => number) => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());

/** Float64 round-to-nearest of one row block, asymmetric over [min(0,mn), max(0,mx)] (float32 scales as stored). */
function rtnBlock(vals: number[], bits: number): number[] {
  const maxq = 2 ** bits - 1;
  const mn = Math.min(0, ...vals);
  const mx = Math.max(0, ...vals);
  let s = Math.fround((mx - mn) / maxq);
  if (s < (mx - mn) / maxq) {
    const b = new Float32Array([s]);
    new Uint32Array(b.buffer)[0]++;
    s = b[0];
  }
  if (s === 0) return vals.map(() => 0);
  const z = Math.min(maxq, Math.max(0, Math.round(-mn / s)));
  return vals.map((v) => (Math.min(maxq, Math.max(0, Math.round(v / s) + z)) - z) * s);
}

function referenceError(
  weights: { rows: Float32Array; N: number }[],
  K: number,
  X: Float32Array,
  T: number,
  meanAbs: Float64Array,
  alpha: number,
  bits: number,
  bs: number,
): number {
  const raw = Array.from(meanAbs, (m) => Math.max(Math.max(m, 1e-4) ** alpha, 1e-4));
  const norm = Math.sqrt(Math.max(...raw) * Math.min(...raw));
  const s = raw.map((v) => v / norm);
  let sum = 0;
  let count = 0;
  for (const w of weights) {
    for (let n = 0; n < w.N; n++) {
      const scaled = Array.from({ length: K }, (_, k) => w.rows[n * K + k] * s[k]);
      const q: number[] = [];
      for (let b = 0; b < K; b += bs) q.push(...rtnBlock(scaled.slice(b, b + bs), bits));
      const delta = Array.from({ length: K }, (_, k) => w.rows[n * K + k] - Math.fround(q[k]) / s[k]);
      for (let t = 0; t < T; t++) {
        let d = 0;
        for (let k = 0; k < K; k++) d += X[t * K + k] * delta[k];
        sum += d * d;
      }
    }
    count += w.N * T;
  }
  return sum / count;
}

describe('AWQ', () => {
  it('roundHalfUp (the kernels’ rounding) equals Math.round, also where floor(x + 0.5) does not', () => {
    // floor(x + 0.5) alone is 1 here and 2^52 + 2 for 2^52 + 1: the cases the correction is for.
    const edges = [0.49999999999999994, -0.49999999999999994, 2 ** 52 + 1, -(2 ** 52 + 1), 2 ** 53, 1e300];
    edges.push(0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 7.5, -7.5, 3.4999999999999996, 0, 1e-320, -1e-320, Infinity, -Infinity);
    const rand = mulberry32(11);
    for (let i = 0; i < 20000; i++) {
      const half = Math.round((rand() - 0.5) * 64) / 2;
      edges.push(half, half + (rand() - 0.5) * 1e-13, (rand() - 0.5) * 40);
    }
    for (const x of edges) expect(roundHalfUp(x) + 0, `x = ${x}`).toBe(Math.round(x) + 0);
    expect(roundHalfUp(NaN)).toBeNaN();
  });

  it('picks the α whose measured output error is least over the grid of 20', () => {
    const rand = mulberry32(3);
    const K = 48;
    const T = 64;
    const chan = Array.from({ length: K }, (_, k) => (k % 11 === 0 ? 8 : 0.3 + rand()));
    const X = new Float32Array(T * K).map((_, i) => chan[i % K] * gaussian(rand));
    const meanAbs = new Float64Array(K);
    for (let i = 0; i < T * K; i++) meanAbs[i % K] += Math.abs(X[i]) / T;
    const weights = [0, 1].map(() => ({ rows: new Float32Array(10 * K).map(() => 0.1 * gaussian(rand)), N: 10 }));
    const spec: GridSpec = { bits: 3, blockSize: 16, symmetric: false, scaleType: 'float32' };
    const r = awqSearchScale(weights, K, X, T, meanAbs, spec);
    const ref = Array.from({ length: AWQ_ALPHA_GRID }, (_, i) =>
      referenceError(weights, K, X, T, meanAbs, i / AWQ_ALPHA_GRID, 3, 16),
    );
    ref.forEach((e, i) => expect(Math.abs(r.errors[i] - e) / e).toBeLessThan(1e-5));
    const best = ref.indexOf(Math.min(...ref));
    // The weights are scaled in float32 before rounding: α within 1e-5 of the least error counts as a tie.
    expect(ref[Math.round(r.alpha * AWQ_ALPHA_GRID)]).toBeLessThanOrEqual(ref[best] * (1 + 1e-5));
    expect(ref.filter((e) => e <= ref[best] * (1 + 1e-5)).length).toBeLessThan(3);
    // Channels with large inputs make some α > 0 better than plain RTN (α = 0).
    expect(best).toBeGreaterThan(0);
    expect(Math.min(...ref)).toBeLessThan(ref[0]);
  });

  it('the path quantize runs (products X·Δᵀ from a product function, float32) picks the same least-error α', async () => {
    const rand = mulberry32(3);
    const K = 48;
    const T = 64;
    const chan = Array.from({ length: K }, (_, k) => (k % 11 === 0 ? 8 : 0.3 + rand()));
    const X = new Float32Array(T * K).map((_, i) => chan[i % K] * gaussian(rand));
    const meanAbs = new Float64Array(K);
    for (let i = 0; i < T * K; i++) meanAbs[i % K] += Math.abs(X[i]) / T;
    const weights = [0, 1].map(() => ({ rows: new Float32Array(10 * K).map(() => 0.1 * gaussian(rand)), N: 10 }));
    const spec: GridSpec = { bits: 3, blockSize: 16, symmetric: false, scaleType: 'float32' };
    // X·Δᵀ written out here, in float32 as ONNX Runtime's MatMul gives it.
    const product = async (d: Float32Array, N: number) => {
      const y = new Float32Array(T * N);
      for (let t = 0; t < T; t++)
        for (let n = 0; n < N; n++) {
          let acc = 0;
          for (let k = 0; k < K; k++) acc += X[t * K + k] * d[n * K + k];
          y[t * N + n] = acc;
        }
      return y;
    };
    const r = await awqSearchScaleWith(product, weights, K, X, T, meanAbs, spec);
    const ref = Array.from({ length: AWQ_ALPHA_GRID }, (_, i) =>
      referenceError(weights, K, X, T, meanAbs, i / AWQ_ALPHA_GRID, 3, 16),
    );
    const best = ref.indexOf(Math.min(...ref));
    expect(ref[Math.round(r.alpha * AWQ_ALPHA_GRID)]).toBeLessThanOrEqual(ref[best] * (1 + 1e-5));
    ref.forEach((e, i) => expect(Math.abs(r.errors[i] - e) / e).toBeLessThan(1e-4));
  });

  it('clip search: each block’s output error (Δᵀ H Δ) is at most that of unclipped RTN', () => {
    const rand = mulberry32(9);
    const K = 32;
    const N = 6;
    const T = 40;
    const X = new Float64Array(T * K).map(() => gaussian(rand));
    const H = new Float64Array(K * K);
    for (let t = 0; t < T; t++)
      for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) H[i * K + j] += X[t * K + i] * X[t * K + j];
    const rows = new Float32Array(N * K).map(() => 0.1 * gaussian(rand) * (rand() < 0.05 ? 5 : 1));
    const spec: GridSpec = { bits: 2, blockSize: 16, symmetric: false, scaleType: 'float32' };
    const deq = dequantizeGrid(awqGrid(rows, N, K, spec, { hessian: H }));
    let improved = 0;
    for (let n = 0; n < N; n++) {
      for (let b = 0; b < K; b += 16) {
        const vals = Array.from(rows.subarray(n * K + b, n * K + b + 16));
        const plain = rtnBlock(vals, 2).map((q, j) => vals[j] - Math.fround(q));
        const clipped = vals.map((v, j) => v - deq[n * K + b + j]);
        const err = (d: number[]) =>
          d.reduce((a, di, i) => a + di * d.reduce((c, dj, j) => c + H[(b + i) * K + b + j] * dj, 0), 0);
        expect(err(clipped)).toBeLessThanOrEqual(err(plain) * (1 + 1e-9));
        if (err(clipped) < err(plain) * 0.999) improved++;
      }
    }
    expect(improved).toBeGreaterThan(0);
  });

  it('folding the scales keeps the fp32 model’s logits (aidreams260K)', async () => {
    const src = aidreamsSource();
    const model = buildDecoderGraph(src.config, src.weights);
    const rand = mulberry32(1);
    const windows = [0, 1, 2].map(() => [1, ...Array.from({ length: 31 }, () => 3 + Math.floor(rand() * 500))]);
    const spec: GridSpec = { bits: 4, blockSize: 32, symmetric: true, scaleType: 'float32' };
    const prepared = await awqPrepare(model, nodeCalibRuntime, windows, spec, { kept: (t) => t.role === 'lm_head' });
    const kinds = prepared.groups.map((g) => g.folded);
    expect(kinds.filter((k) => k === 'norm').length).toBe(8); // input and post-attention norms of 4 layers
    expect(kinds.filter((k) => k === 'linear').length).toBe(4); // up_proj before down_proj
    expect(prepared.groups.some((g) => g.alpha !== undefined && g.alpha > 0)).toBe(true);
    const S = 20;
    const ids = windows[0].slice(0, S);
    const feeds: Record<string, Feed> = {
      input_ids: { type: 'int64', data: BigInt64Array.from(ids, BigInt), dims: [1, S] },
      attention_mask: { type: 'int64', data: new BigInt64Array(S).fill(1n), dims: [1, S] },
      position_ids: { type: 'int64', data: BigInt64Array.from({ length: S }, (_, i) => BigInt(i)), dims: [1, S] },
    };
    for (let l = 0; l < 4; l++)
      for (const kv of ['key', 'value'])
        feeds[`past_key_values.${l}.${kv}`] = { type: 'float32', data: new Float32Array(0), dims: [1, 4, 0, 16] };
    const a = (await runModelBytes(encodeModel(model), feeds)).logits.data as Float32Array;
    const b = (await runModelBytes(encodeModel(prepared.model), feeds)).logits.data as Float32Array;
    let maxDiff = 0;
    let maxAbs = 0;
    for (let i = 0; i < a.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
      maxAbs = Math.max(maxAbs, Math.abs(a[i]));
    }
    expect(maxDiff).toBeLessThan(1e-4 * maxAbs);
    // ... while the weights really changed.
    const q0 = (m: typeof model) =>
      m.graph!.initializer.find((t) => t.name === 'model.layers.0.self_attn.q_proj.weight_T')!;
    expect(Buffer.compare(Buffer.from(q0(model).rawData), Buffer.from(q0(prepared.model).rawData))).not.toBe(0);
  }, 60_000);
});
