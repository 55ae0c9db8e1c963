// GPTQ (Frantar et al., 2022): quantizes a linear layer's weights column by column, feeding each
// column's rounding error forward to the columns not yet quantized through the inverse Hessian of
// the layer's inputs (H = 2 X Xᵀ), so the layer's output on the calibration inputs moves least.

import { QuantlabError } from '../errors';
import { emptyGrid, gridLevels, rtnBlockParams, type Grid, type GridSpec, type WeightQuantizer } from './grid';

export interface GptqOptions {
  /** Dampening added to H's diagonal, as a fraction of its mean diagonal (default 0.01). */
  damp?: number;
  /** Quantize columns by decreasing H diagonal, with each group's scale fixed up front (static groups). */
  actOrder?: boolean;
  /** Columns per lazy batch (default 128): only changes the order of the float operations. */
  lazyBatch?: number;
}

/**
 * The upper Cholesky factor U of H⁻¹ (H⁻¹ = UᵀU), in place of nothing: H is not modified.
 * With P the order reversal, chol(P H P) = L gives H⁻¹ = (P L⁻¹ P)ᵀ (P L⁻¹ P), and P L⁻¹ P is
 * upper triangular with a positive diagonal, so it is U: one Cholesky and one triangular inverse.
 * Throws when H is not positive definite.
 */
export function inverseCholeskyUpper(H: Float64Array, K: number): Float64Array {
  // L = chol(P H P), lower, row-major: L[i][j] for j <= i. (P H P)[i][j] = H[K-1-i][K-1-j].
  const L = new Float64Array(K * K);
  for (let i = 0; i < K; i++) {
    const ri = i * K;
    for (let j = 0; j <= i; j++) {
      const rj = j * K;
      let s = H[(K - 1 - i) * K + (K - 1 - j)];
      for (let k = 0; k < j; k++) s -= L[ri + k] * L[rj + k];
      if (i === j) {
        if (!(s > 0))
          throw new QuantlabError('internal', 'The Hessian is not positive definite', 'Raise the dampening.');
        L[ri + i] = Math.sqrt(s);
      } else {
        L[ri + j] = s / L[rj + j];
      }
    }
  }
  // M = L⁻¹ (lower), solved column by column; stored transposed (Mt[j][i] = M[i][j]) so the inner
  // loop runs along rows of both L and Mt.
  const Mt = new Float64Array(K * K);
  for (let j = 0; j < K; j++) {
    const mj = j * K;
    Mt[mj + j] = 1 / L[j * K + j];
    for (let i = j + 1; i < K; i++) {
      const ri = i * K;
      let s = 0;
      for (let k = j; k < i; k++) s -= L[ri + k] * Mt[mj + k];
      Mt[mj + i] = s / L[ri + i];
    }
  }
  // U[a][b] = M[K-1-a][K-1-b] = Mt[K-1-b][K-1-a].
  const U = new Float64Array(K * K);
  for (let a = 0; a < K; a++) {
    for (let b = a; b < K; b++) U[a * K + b] = Mt[(K - 1 - b) * K + (K - 1 - a)];
  }
  return U;
}

const factorCache = new WeakMap<Float64Array, Map<string, Float64Array>>();

/**
 * GPTQ on weight rows [N, K] with the Hessian H [K, K] of the layer's inputs. Follows the
 * published algorithm (dead inputs zeroed, dampening, the upper Cholesky factor of H⁻¹, lazy
 * batches of columns with the error fed forward) with one deliberate difference from the reference
 * code: a group's scale is computed from the group's weights as updated by every column already
 * quantized (the reference reads a copy that misses the current lazy batch's updates), so the
 * result does not depend on the lazy batch size. With actOrder, groups are static: each group's
 * scale comes from the original weights, so the file stays a plain block-wise MatMulNBits file.
 */
export function gptqQuantize(
  rows: Float32Array,
  N: number,
  K: number,
  spec: GridSpec,
  hessian: Float64Array,
  opts: GptqOptions = {},
): Grid {
  if (hessian.length !== K * K) {
    throw new QuantlabError('internal', `GPTQ needs a ${K}x${K} Hessian, got ${hessian.length} values`);
  }
  const dampFrac = opts.damp ?? 0.01;
  const lazy = Math.max(1, opts.lazyBatch ?? 128);
  const bs = spec.blockSize;
  const levels = gridLevels(spec.bits);
  const g = emptyGrid(N, K, spec);
  const kb = g.kBlocks;

  // Column order: natural, or by decreasing H diagonal (stable).
  const perm = Array.from({ length: K }, (_, i) => i);
  if (opts.actOrder) perm.sort((a, b) => hessian[b * K + b] - hessian[a * K + a] || a - b);

  // Permuted copies: W [N, K] in float64, H [K, K]; dead inputs (never active) get H = 1, W = 0.
  const W = new Float64Array(N * K);
  const H = new Float64Array(K * K);
  for (let i = 0; i < K; i++) {
    const pi = perm[i];
    for (let j = 0; j < K; j++) H[i * K + j] = hessian[pi * K + perm[j]];
  }
  let diagSum = 0;
  const dead = new Uint8Array(K);
  for (let i = 0; i < K; i++) {
    if (H[i * K + i] === 0) {
      dead[i] = 1;
      H[i * K + i] = 1;
    }
    diagSum += H[i * K + i];
  }
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < K; i++) W[n * K + i] = dead[i] ? 0 : rows[n * K + perm[i]];
  }
  const damp = (dampFrac * diagSum) / K;
  for (let i = 0; i < K; i++) H[i * K + i] += damp;
  // Linears that share an input (q/k/v, gate/up) share H: its factor is computed once.
  const key = `${dampFrac} ${opts.actOrder ? 1 : 0}`;
  let U = factorCache.get(hessian)?.get(key);
  if (!U) {
    U = inverseCholeskyUpper(H, K);
    const m = factorCache.get(hessian) ?? new Map<string, Float64Array>();
    m.set(key, U);
    factorCache.set(hessian, m);
  }

  const setGroup = (n: number, b: number, mn: number, mx: number) => {
    const { scale, zero } = rtnBlockParams(mn, mx, spec);
    g.scales[n * kb + b] = scale;
    g.zeros[n * kb + b] = zero;
  };
  if (opts.actOrder) {
    const deadCol = new Uint8Array(K);
    for (let i = 0; i < K; i++) deadCol[perm[i]] = dead[i];
    // Static groups from the original weights (dead inputs zeroed), in the file's column order.
    for (let n = 0; n < N; n++) {
      for (let b = 0; b < kb; b++) {
        let mn = 0;
        let mx = 0;
        for (let k = b * bs; k < Math.min(K, (b + 1) * bs); k++) {
          const v = deadCol[k] ? 0 : rows[n * K + k];
          if (v < mn) mn = v;
          if (v > mx) mx = v;
        }
        setGroup(n, b, mn, mx);
      }
    }
  }

  const err = new Float64Array(N * lazy); // [N, lazy]: the batch's scaled errors
  for (let i1 = 0; i1 < K; i1 += lazy) {
    const i2 = Math.min(K, i1 + lazy);
    const count = i2 - i1;
    for (let c = 0; c < count; c++) {
      const i = i1 + c;
      const col = perm[i];
      const b = Math.floor(col / bs);
      if (!opts.actOrder && col % bs === 0) {
        // A group starts: its scale from the current (error-updated) weights.
        const end = Math.min(K, i + bs);
        for (let n = 0; n < N; n++) {
          let mn = 0;
          let mx = 0;
          for (let k = i; k < end; k++) {
            const v = W[n * K + k];
            if (v < mn) mn = v;
            if (v > mx) mx = v;
          }
          setGroup(n, b, mn, mx);
        }
      }
      const d = U[i * K + i];
      const urow = i * K;
      for (let n = 0; n < N; n++) {
        const s = g.scales[n * kb + b];
        const z = g.zeros[n * kb + b];
        const w = W[n * K + i];
        let q = z;
        if (s !== 0) {
          q = Math.round(w / s) + z;
          if (q < 0) q = 0;
          else if (q > levels) q = levels;
        }
        g.q[n * K + col] = q;
        const e = (w - (q - z) * s) / d;
        err[n * lazy + c] = e;
        // Feed the error forward to the rest of this batch.
        const base = n * K;
        for (let j = i + 1; j < i2; j++) W[base + j] -= e * U[urow + j];
      }
    }
    if (i2 < K) {
      // The batch's errors reach every later column at once: W[:, i2:] -= Err · U[i1:i2, i2:].
      for (let n = 0; n < N; n++) {
        const base = n * K;
        for (let c = 0; c < count; c++) {
          const e = err[n * lazy + c];
          if (e === 0) continue;
          const urow = (i1 + c) * K;
          for (let j = i2; j < K; j++) W[base + j] -= e * U[urow + j];
        }
      }
    }
  }
  return g;
}

/** GPTQ as a registry method: needs ctx.hessian (from a calibration text). */
export const gptqGrid: WeightQuantizer = (rows, N, K, spec, ctx) => {
  if (!ctx?.hessian) {
    throw new QuantlabError(
      'bad-argument',
      'GPTQ needs a calibration text',
      'Give a calibration text (quantlab quantize --calib FILE, or the Quantize dialog’s calibration source).',
    );
  }
  return gptqQuantize(rows, N, K, spec, ctx.hessian);
};
