// GPTQ and AWQ spread over the Node job pool (this thread plus worker threads sharing memory) give
// the grids their one-thread code gives, to the bit: the pool only splits rows and columns whose
// sums never mix. The one-thread code is checked against float64 references in quantize-gptq and
// quantize-awq; here the pooled runs are checked against it.
import { describe, expect, it } from 'vitest';
import { awqGrid, awqSearchScaleWith, awqSearchScale } from '../../src/lib/quantize/awq';
import { gptqQuantize, gptqQuantizeOn } from '../../src/lib/quantize/gptq';
import type { Grid, GridSpec } from '../../src/lib/quantize/grid';
import { splitRange, type JobPool } from '../../src/lib/quantize/jobs';
import { POOLED_METHODS } from '../../src/lib/quantize/methods';
import { nodeJobPool } from '../../src/node/job-pool';
import { gaussian, mulberry32 } from '../helpers/prng';

/** Weights [N, K], inputs X [T, K] with uneven channel scales and one dead channel, H = (2/T) XᵀX. */
function problem(N: number, K: number, T: number, seed: number) {
  const rand = mulberry32(seed);
  const W = new Float32Array(N * K).map(() => 0.1 * gaussian(rand) * (rand() < 0.03 ? 6 : 1));
  const chan = Array.from({ length: K }, () => 0.2 + 2 * rand());
  const X = new Float32Array(T * K).map((_, i) => (i % K === 3 ? 0 : chan[i % K] * gaussian(rand)));
  const H = new Float64Array(K * K);
  for (let t = 0; t < T; t++)
    for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) H[i * K + j] += (2 / T) * X[t * K + i] * X[t * K + j];
  const meanAbs = new Float64Array(K);
  for (let t = 0; t < T; t++) for (let k = 0; k < K; k++) meanAbs[k] += Math.abs(X[t * K + k]) / T;
  return { W, X, H, meanAbs };
}

const same = (a: Grid, b: Grid) => {
  expect(Buffer.from(a.q).equals(Buffer.from(b.q))).toBe(true);
  expect(Array.from(a.scales)).toEqual(Array.from(b.scales));
  expect(Array.from(a.zeros)).toEqual(Array.from(b.zeros));
};

describe('job pool', () => {
  const pools: JobPool[] = [nodeJobPool(2), nodeJobPool(3)];

  it('cuts a range into contiguous aligned parts covering it once', () => {
    expect(splitRange(64, 2, 8)).toEqual([
      [0, 32],
      [32, 64],
    ]);
    expect(splitRange(44, 2, 8)).toEqual([
      [0, 24],
      [24, 44],
    ]);
    expect(splitRange(5, 3)).toEqual([
      [0, 2],
      [2, 4],
      [4, 5],
    ]);
    expect(splitRange(1, 2)).toEqual([[0, 1]]);
  });

  // K = 150: a Cholesky of three 64-row steps, the last one partial and not a multiple of 8.
  const N = 21;
  const K = 150;
  const { W, X, H, meanAbs } = problem(N, K, 200, 7);
  for (const [bits, blockSize, symmetric, actOrder] of [
    [4, 32, true, false],
    [3, 16, false, true],
    [2, 64, true, false],
  ] as const) {
    const spec: GridSpec = { bits, blockSize, symmetric, scaleType: 'float32' };
    it(`GPTQ ${bits}-bit block ${blockSize}${actOrder ? ' act-order' : ''}: pooled grid equals the one-thread grid`, async () => {
      const want = gptqQuantize(W, N, K, spec, H, { actOrder });
      for (const pool of pools) same(await gptqQuantizeOn(pool, W, N, K, spec, H.slice(), { actOrder }), want);
    }, 60_000); // the first run starts the workers (tsx loads in each)
    it(`AWQ ${bits}-bit block ${blockSize}: pooled α search and clip search equal the one-thread ones`, async () => {
      const weights = [{ rows: W, N }];
      const product = async (d: Float32Array, n: number) => {
        // X Dᵀ in float64 rounded to float32: a stand-in for ONNX Runtime's Gemm, the same on every run.
        const y = new Float32Array(200 * n);
        for (let t = 0; t < 200; t++)
          for (let r = 0; r < n; r++) {
            let s = 0;
            for (let k = 0; k < K; k++) s += X[t * K + k] * d[r * K + k];
            y[t * n + r] = s;
          }
        return y;
      };
      const one = await awqSearchScaleWith(product, weights, K, X, 200, meanAbs, spec);
      expect(one.alpha).toBe(awqSearchScale(weights, K, X, 200, meanAbs, spec).alpha);
      const want = awqGrid(W, N, K, spec, { hessian: H });
      for (const pool of pools) {
        const r = await awqSearchScaleWith(product, weights, K, X, 200, meanAbs, spec, undefined, pool);
        expect(r.alpha).toBe(one.alpha);
        expect(r.errors).toEqual(one.errors);
        same(await POOLED_METHODS.awq!(pool, W, N, K, spec, { hessian: H }), want);
      }
    }, 60_000);
  }
});
