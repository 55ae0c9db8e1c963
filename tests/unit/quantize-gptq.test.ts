// GPTQ against a direct float64 transcription of the published algorithm, written here without
// the code under test: H⁻¹ by Gauss-Jordan, its upper Cholesky factor, then one column at a time
// with the error fed to every later column at once (no lazy batches), each group's scale from its
// current weights (static groups from the original weights with act-order).
import { describe, expect, it } from 'vitest';
import { gptqQuantize, inverseCholeskyUpper } from '../../src/lib/quantize/gptq';
import { dequantizeGrid, rtnGrid, type GridSpec } from '../../src/lib/quantize/grid';
import { gaussian, mulberry32 } from '../helpers/prng';

/** Weights [N, K] with a few outliers, and inputs X [T, K] with uneven channel scales and one dead channel. */
function problem(N: number, K: number, T: number, seed: number) {
  const rand = mulberry32(seed);
  const W = new Float32Array(N * K).map(() => 0.1 * gaussian(rand) * (rand() < 0.03 ? 6 : 1));
  const chan = Array.from({ length: K }, () => 0.2 + 2 * rand());
  const X = new Float64Array(T * K).map((_, i) => (i % K === 3 ? 0 : chan[i % K] * gaussian(rand)));
  const H = new Float64Array(K * K);
  for (let t = 0; t < T; t++)
    for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) H[i * K + j] += (2 / T) * X[t * K + i] * X[t * K + j];
  return { W, X, H };
}

/** The stored float32 scale as the file keeps it: rounded, then one step away from zero if rounding shrank it. */
function f32Scale(s: number): number {
  let r = Math.fround(s);
  if (Math.abs(r) < Math.abs(s)) {
    const buf = new Float32Array([r]);
    new Uint32Array(buf.buffer)[0]++;
    r = buf[0];
  }
  return r;
}

/** Block parameters: asymmetric min/max over [min(0,mn), max(0,mx)]; symmetric on the signed grid, the side with more weight getting the extra level. */
function params(mn: number, mx: number, bits: number, symmetric: boolean): [number, number] {
  const maxq = 2 ** bits - 1;
  const mid = 2 ** (bits - 1);
  mn = Math.min(0, mn);
  mx = Math.max(0, mx);
  if (symmetric) {
    const pos = Math.max(mx / (mid - 1), -mn / mid);
    const neg = Math.max(mx / mid, -mn / (mid - 1));
    return [f32Scale(pos <= neg ? pos : -neg), mid];
  }
  const s = f32Scale((mx - mn) / maxq);
  return s === 0 ? [0, 0] : [s, Math.min(maxq, Math.max(0, Math.round(-mn / s)))];
}

function invert(A: number[][]): number[][] {
  const n = A.length;
  const M = A.map((r, i) => [...r, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    const d = M[c][c];
    for (let j = 0; j < 2 * n; j++) M[c][j] /= d;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = M[r][c];
      for (let j = 0; j < 2 * n; j++) M[r][j] -= f * M[c][j];
    }
  }
  return M.map((r) => r.slice(n));
}

/** Upper Cholesky factor: A = UᵀU. */
function cholUpper(A: number[][]): number[][] {
  const n = A.length;
  const U = A.map(() => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = A[i][j];
      for (let k = 0; k < i; k++) s -= U[k][i] * U[k][j];
      U[i][j] = i === j ? Math.sqrt(s) : s / U[i][i];
    }
  }
  return U;
}

function referenceGptq(W0: Float32Array, N: number, K: number, Hin: Float64Array, spec: GridSpec, actOrder: boolean) {
  const bs = spec.blockSize;
  const maxq = 2 ** spec.bits - 1;
  const order = Array.from({ length: K }, (_, i) => i);
  if (actOrder) order.sort((a, b) => Hin[b * K + b] - Hin[a * K + a] || a - b);
  let H = order.map((i) => order.map((j) => Hin[i * K + j]));
  const deadOrig = new Set<number>();
  H.forEach((r, i) => {
    if (r[i] === 0) {
      r[i] = 1;
      deadOrig.add(order[i]);
    }
  });
  const W = Array.from({ length: N }, (_, n) => order.map((k) => (deadOrig.has(k) ? 0 : W0[n * K + k])));
  const damp = (0.01 * H.reduce((a, r, i) => a + r[i], 0)) / K;
  H = H.map((r, i) => r.map((v, j) => (i === j ? v + damp : v)));
  const Hinv = cholUpper(invert(H));
  const kb = Math.ceil(K / bs);
  const scale = new Float64Array(N * kb);
  const zero = new Float64Array(N * kb);
  const setGroup = (n: number, b: number, vals: number[]) => {
    [scale[n * kb + b], zero[n * kb + b]] = params(Math.min(...vals), Math.max(...vals), spec.bits, spec.symmetric);
  };
  if (actOrder) {
    for (let n = 0; n < N; n++)
      for (let b = 0; b < kb; b++) {
        const vals: number[] = [];
        for (let k = b * bs; k < Math.min(K, (b + 1) * bs); k++) vals.push(deadOrig.has(k) ? 0 : W0[n * K + k]);
        setGroup(n, b, vals);
      }
  }
  const q = new Uint8Array(N * K);
  for (let i = 0; i < K; i++) {
    const col = order[i];
    const b = Math.floor(col / bs);
    if (!actOrder && col % bs === 0) for (let n = 0; n < N; n++) setGroup(n, b, W[n].slice(i, Math.min(K, i + bs)));
    for (let n = 0; n < N; n++) {
      const s = scale[n * kb + b];
      const z = zero[n * kb + b];
      const level = s === 0 ? z : Math.min(maxq, Math.max(0, Math.round(W[n][i] / s) + z));
      q[n * K + col] = level;
      const e = (W[n][i] - (level - z) * s) / Hinv[i][i];
      for (let j = i + 1; j < K; j++) W[n][j] -= e * Hinv[i][j];
    }
  }
  return { q, scale, zero };
}

function outputError(W: Float32Array, Q: Float32Array, X: Float64Array, N: number, K: number, T: number): number {
  let s = 0;
  for (let t = 0; t < T; t++)
    for (let n = 0; n < N; n++) {
      let d = 0;
      for (let k = 0; k < K; k++) d += (W[n * K + k] - Q[n * K + k]) * X[t * K + k];
      s += d * d;
    }
  return s;
}

describe('GPTQ', () => {
  it('the upper Cholesky factor of H⁻¹ matches Gauss-Jordan then Cholesky', () => {
    const K = 21;
    const { H } = problem(1, K, 40, 7);
    for (let i = 0; i < K; i++) H[i * K + i] += 0.1;
    const U = inverseCholeskyUpper(H, K);
    const ref = cholUpper(invert(Array.from({ length: K }, (_, i) => Array.from(H.subarray(i * K, i * K + K)))));
    for (let i = 0; i < K; i++)
      for (let j = 0; j < K; j++) expect(U[i * K + j]).toBeCloseTo(j >= i ? ref[i][j] : 0, 10);
  });

  const cases: [string, GridSpec, boolean][] = [
    ['4-bit symmetric, block 16', { bits: 4, blockSize: 16, symmetric: true, scaleType: 'float32' }, false],
    ['3-bit asymmetric, block 16', { bits: 3, blockSize: 16, symmetric: false, scaleType: 'float32' }, false],
    ['2-bit asymmetric, block 32', { bits: 2, blockSize: 32, symmetric: false, scaleType: 'float32' }, false],
    [
      '4-bit asymmetric, act-order, static groups',
      { bits: 4, blockSize: 16, symmetric: false, scaleType: 'float32' },
      true,
    ],
  ];
  for (const [name, spec, actOrder] of cases) {
    it(`${name}: levels, scales and zero points equal the float64 transcription; output error below RTN`, () => {
      const N = 7;
      const K = 45; // a partial last block, and lazy batches of 8 that cut across blocks
      const T = 96;
      const { W, X, H } = problem(N, K, T, 11 + spec.bits);
      const g = gptqQuantize(W, N, K, spec, H, { actOrder, lazyBatch: 8 });
      const ref = referenceGptq(W, N, K, H, spec, actOrder);
      expect(Array.from(g.scales)).toEqual(Array.from(ref.scale));
      expect(Array.from(g.zeros)).toEqual(Array.from(ref.zero));
      expect(Array.from(g.q)).toEqual(Array.from(ref.q));
      // The lazy batch size changes nothing.
      expect(Array.from(gptqQuantize(W, N, K, spec, H, { actOrder, lazyBatch: 128 }).q)).toEqual(Array.from(g.q));
      const gptqErr = outputError(W, dequantizeGrid(g), X, N, K, T);
      const rtnErr = outputError(W, dequantizeGrid(rtnGrid(W, N, K, spec)), X, N, K, T);
      expect(gptqErr).toBeLessThan(rtnErr);
    });
  }
});
