// GPTQ (Frantar et al., 2022): quantizes a linear layer's weights column by column, feeding each
// column's rounding error forward to the columns not yet quantized through the inverse Hessian of
// the layer's inputs (H = 2 X Xᵀ), so the layer's output on the calibration inputs moves least.

import { QuantlabError } from '../errors';
import {
  emptyGrid,
  gridLevels,
  rtnBlockParams,
  type Grid,
  type GridSpec,
  type PooledQuantizer,
  type WeightContext,
  type WeightQuantizer,
} from './grid';
import {
  localMemory,
  runSteps,
  runStepsInline,
  splitRange,
  type JobPool,
  type JobSteps,
  type KernelRegistry,
} from './jobs';

export interface GptqOptions {
  /** Dampening added to H's diagonal, as a fraction of its mean diagonal (default 0.01). */
  damp?: number;
  /** Quantize columns by decreasing H diagonal, with each group's scale fixed up front (static groups). */
  actOrder?: boolean;
  /** Columns per lazy batch (default 128): only changes the order of the float operations. */
  lazyBatch?: number;
}

/** Rows of the Cholesky factor per step: the rows of a step split over the pool's threads. */
const CHOL_STEP = 64;

/**
 * The upper Cholesky factor U of H⁻¹ (H⁻¹ = UᵀU), in place of nothing: H is not modified.
 * With P the order reversal, chol(P H P) = L gives H⁻¹ = (P L⁻¹ P)ᵀ (P L⁻¹ P), and P L⁻¹ P is
 * upper triangular with a positive diagonal, so it is U: one Cholesky and one triangular inverse.
 * Throws when H is not positive definite.
 */
export function inverseCholeskyUpper(H: Float64Array, K: number): Float64Array {
  return runStepsInline(factorSteps(H, K, 1, localMemory), GPTQ_KERNELS);
}

/**
 * inverseCholeskyUpper as steps of jobs for `parts` threads, its arrays in `memory` (H must be
 * there too): L = chol(P H P) CHOL_STEP rows at a time (the rows' entries left of the step's
 * columns split over the threads, the triangle on the diagonal on this thread), then L⁻¹ in
 * blocks of eight columns spread over the threads.
 */
function* factorSteps(
  H: Float64Array,
  K: number,
  parts: number,
  memory: (bytes: number) => ArrayBuffer | SharedArrayBuffer,
): JobSteps<Float64Array> {
  const L = new Float64Array(memory(8 * K * K));
  for (let b0 = 0; b0 < K; b0 += CHOL_STEP) {
    const b1 = Math.min(K, b0 + CHOL_STEP);
    if (b0 > 0) {
      yield splitRange(b1 - b0, parts, 8).map(([a, b]) => ({
        kernel: 'gptq.cholRect',
        args: [H, L, K, b0 + a, b0 + b, 0, b0],
      }));
    }
    cholDiagonal(H, L, K, b0, b1);
  }
  const Mt = new Float64Array(memory(8 * K * K));
  yield Array.from({ length: parts }, (_, p) => ({ kernel: 'gptq.inverseBlocks', args: [L, Mt, K, p, parts] }));
  // U[a][b] = M[K-1-a][K-1-b] = Mt[K-1-b][K-1-a].
  const U = new Float64Array(memory(8 * K * K));
  for (let a = 0; a < K; a++) {
    for (let b = a; b < K; b++) U[a * K + b] = Mt[(K - 1 - b) * K + (K - 1 - a)];
  }
  return U;
}

/**
 * L = chol(P H P), lower, row-major (L[i][j] for j <= i; (P H P)[i][j] = H[K-1-i][K-1-j]), for rows
 * [r0, r1) and columns [j0, j1) left of the diagonal (rows j0..j1-1 complete). Every sum runs over
 * k in increasing order, as in the textbook loop; rows go eight at a time only so that one load of
 * row j serves eight of them.
 */
function cholRect(H: Float64Array, L: Float64Array, K: number, r0: number, r1: number, j0: number, j1: number): void {
  const last = K * K - 1;
  let i0 = r0;
  for (; i0 + 8 <= r1; i0 += 8) {
    const r0_ = i0 * K;
    const r1_ = r0_ + K;
    const r2 = r1_ + K;
    const r3 = r2 + K;
    const r4 = r3 + K;
    const r5 = r4 + K;
    const r6 = r5 + K;
    const r7 = r6 + K;
    for (let j = j0; j < j1; j++) {
      const rj = j * K;
      // (P H P)[i][j] = H[last - (i K + j)].
      let s0 = H[last - r0_ - j];
      let s1 = H[last - r1_ - j];
      let s2 = H[last - r2 - j];
      let s3 = H[last - r3 - j];
      let s4 = H[last - r4 - j];
      let s5 = H[last - r5 - j];
      let s6 = H[last - r6 - j];
      let s7 = H[last - r7 - j];
      for (let k = 0; k < j; k++) {
        const l = L[rj + k];
        s0 -= L[r0_ + k] * l;
        s1 -= L[r1_ + k] * l;
        s2 -= L[r2 + k] * l;
        s3 -= L[r3 + k] * l;
        s4 -= L[r4 + k] * l;
        s5 -= L[r5 + k] * l;
        s6 -= L[r6 + k] * l;
        s7 -= L[r7 + k] * l;
      }
      const d = L[rj + j];
      L[r0_ + j] = s0 / d;
      L[r1_ + j] = s1 / d;
      L[r2 + j] = s2 / d;
      L[r3 + j] = s3 / d;
      L[r4 + j] = s4 / d;
      L[r5 + j] = s5 / d;
      L[r6 + j] = s6 / d;
      L[r7 + j] = s7 / d;
    }
  }
  for (let i = i0; i < r1; i++) {
    const ri = i * K;
    for (let j = j0; j < j1; j++) {
      const rj = j * K;
      let s = H[last - ri - j];
      for (let k = 0; k < j; k++) s -= L[ri + k] * L[rj + k];
      L[ri + j] = s / L[rj + j];
    }
  }
}

/** Rows [b0, b1) of L from column b0 to the diagonal (columns left of b0 done). */
function cholDiagonal(H: Float64Array, L: Float64Array, K: number, b0: number, b1: number): void {
  const last = K * K - 1;
  for (let i0 = b0; i0 < b1; i0 += 8) {
    const full = i0 + 8 <= b1;
    if (full) cholRect(H, L, K, i0, i0 + 8, b0, i0);
    for (let i = i0; i < Math.min(b1, i0 + 8); i++) {
      const ri = i * K;
      for (let j = full ? i0 : b0; j <= i; j++) {
        const rj = j * K;
        let s = H[last - ri - j];
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
  }
}

/**
 * M = L⁻¹ (lower), column by column, for the blocks of eight columns first, first + step, ...;
 * stored transposed (Mt[j][i] = M[i][j]) so the inner loop runs along rows of both L and Mt. A
 * block's columns go together (each sum still in order: its terms inside the block first, then the rest).
 */
function inverseBlocks(L: Float64Array, Mt: Float64Array, K: number, first: number, step: number): void {
  const pre = new Float64Array(8);
  for (let j0 = first * 8; j0 < K; j0 += step * 8) {
    const end = Math.min(K, j0 + 8);
    for (let j = j0; j < end; j++) {
      const mj = j * K;
      Mt[mj + j] = 1 / L[j * K + j];
      for (let i = j + 1; i < end; i++) {
        const ri = i * K;
        let s = 0;
        for (let k = j; k < i; k++) s -= L[ri + k] * Mt[mj + k];
        Mt[mj + i] = s / L[ri + i];
      }
    }
    if (end - j0 === 8) {
      const m0 = j0 * K;
      const m1 = m0 + K;
      const m2 = m1 + K;
      const m3 = m2 + K;
      const m4 = m3 + K;
      const m5 = m4 + K;
      const m6 = m5 + K;
      const m7 = m6 + K;
      for (let i = end; i < K; i++) {
        const ri = i * K;
        for (let r = 0; r < 8; r++) {
          const mr = (j0 + r) * K;
          let s = 0;
          for (let k = j0 + r; k < end; k++) s -= L[ri + k] * Mt[mr + k];
          pre[r] = s;
        }
        let s0 = pre[0];
        let s1 = pre[1];
        let s2 = pre[2];
        let s3 = pre[3];
        let s4 = pre[4];
        let s5 = pre[5];
        let s6 = pre[6];
        let s7 = pre[7];
        for (let k = end; k < i; k++) {
          const l = L[ri + k];
          s0 -= l * Mt[m0 + k];
          s1 -= l * Mt[m1 + k];
          s2 -= l * Mt[m2 + k];
          s3 -= l * Mt[m3 + k];
          s4 -= l * Mt[m4 + k];
          s5 -= l * Mt[m5 + k];
          s6 -= l * Mt[m6 + k];
          s7 -= l * Mt[m7 + k];
        }
        const d = L[ri + i];
        Mt[m0 + i] = s0 / d;
        Mt[m1 + i] = s1 / d;
        Mt[m2 + i] = s2 / d;
        Mt[m3 + i] = s3 / d;
        Mt[m4 + i] = s4 / d;
        Mt[m5 + i] = s5 / d;
        Mt[m6 + i] = s6 / d;
        Mt[m7 + i] = s7 / d;
      }
    } else {
      for (let j = j0; j < end; j++) {
        const mj = j * K;
        for (let i = end; i < K; i++) {
          const ri = i * K;
          let s = 0;
          for (let k = j; k < i; k++) s -= L[ri + k] * Mt[mj + k];
          Mt[mj + i] = s / L[ri + i];
        }
      }
    }
  }
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
  return runStepsInline(gptqSteps(rows, N, K, spec, hessian, opts, 1, localMemory), GPTQ_KERNELS);
}

/** gptqQuantize with its loops spread over a pool's threads (the same grid to the bit). */
export function gptqQuantizeOn(
  pool: JobPool,
  rows: Float32Array,
  N: number,
  K: number,
  spec: GridSpec,
  hessian: Float64Array,
  opts: GptqOptions = {},
): Promise<Grid> {
  return runSteps(
    gptqSteps(rows, N, K, spec, hessian, opts, pool.size, (b) => pool.shared(b)),
    pool,
  );
}

function* gptqSteps(
  rows: Float32Array,
  N: number,
  K: number,
  spec: GridSpec,
  hessian: Float64Array,
  opts: GptqOptions,
  parts: number,
  memory: (bytes: number) => ArrayBuffer | SharedArrayBuffer,
): JobSteps<Grid> {
  if (hessian.length !== K * K) {
    throw new QuantlabError('internal', `GPTQ needs a ${K}x${K} Hessian, got ${hessian.length} values`);
  }
  const dampFrac = opts.damp ?? 0.01;
  const lazy = Math.max(1, opts.lazyBatch ?? 128);
  const bs = spec.blockSize;
  const g = emptyGrid(N, K, spec, memory);
  const kb = g.kBlocks;

  // Column order: natural, or by decreasing H diagonal (stable).
  const order = Array.from({ length: K }, (_, i) => i);
  if (opts.actOrder) order.sort((a, b) => hessian[b * K + b] - hessian[a * K + a] || a - b);
  const perm = Int32Array.from(order);

  // Permuted copies: W [N, K] in float64, H [K, K]; dead inputs (never active) get H = 1, W = 0.
  const W = new Float64Array(memory(8 * N * K));
  const H = new Float64Array(memory(8 * K * K));
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
    U = yield* factorSteps(H, K, parts, memory);
    const m = factorCache.get(hessian) ?? new Map<string, Float64Array>();
    m.set(key, U);
    factorCache.set(hessian, m);
  }

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
        const { scale, zero } = rtnBlockParams(mn, mx, spec);
        g.scales[n * kb + b] = scale;
        g.zeros[n * kb + b] = zero;
      }
    }
  }
  // Rows are independent given U: each thread takes a range of them.
  yield splitRange(N, parts, 2).map(([n0, n1]) => ({
    kernel: 'gptq.rows',
    args: [W, U, g.q, g.scales, g.zeros, perm, K, spec, opts.actOrder === true, lazy, n0, n1],
  }));
  return g;
}

/**
 * GPTQ's column loop for rows [n0, n1) of W (permuted, float64, updated in place), writing their
 * levels, and their group scales and zero points unless actOrder fixed them up front. Each batch of
 * columns runs row by row (a row's part of the batch stays in cache), then the batch's errors reach
 * the later columns of every row at once.
 */
function gptqRows(
  W: Float64Array,
  U: Float64Array,
  q: Uint8Array,
  scales: Float32Array,
  zeros: Uint8Array,
  perm: Int32Array,
  K: number,
  spec: GridSpec,
  actOrder: boolean,
  lazy: number,
  n0: number,
  n1: number,
): void {
  const bs = spec.blockSize;
  const kb = Math.ceil(K / bs);
  const levels = gridLevels(spec.bits);
  const err = new Float64Array((n1 - n0) * lazy); // [rows, lazy]: the batch's scaled errors
  // One row's step at column i (permuted; col in the file's order): a group's scale when one
  // starts, the level, and the scaled error it returns.
  const step = (base: number, n: number, i: number, col: number, b: number, d: number): number => {
    if (!actOrder && col % bs === 0) {
      // A group starts: its scale from the current (error-updated) weights.
      const end = Math.min(K, i + bs);
      let mn = 0;
      let mx = 0;
      for (let k = i; k < end; k++) {
        const v = W[base + k];
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
      const p = rtnBlockParams(mn, mx, spec);
      scales[n * kb + b] = p.scale;
      zeros[n * kb + b] = p.zero;
    }
    const s = scales[n * kb + b];
    const z = zeros[n * kb + b];
    const w = W[base + i];
    let qi = z;
    if (s !== 0) {
      qi = Math.round(w / s) + z;
      if (qi < 0) qi = 0;
      else if (qi > levels) qi = levels;
    }
    q[base + col] = qi;
    return (w - (qi - z) * s) / d;
  };
  for (let i1 = 0; i1 < K; i1 += lazy) {
    const i2 = Math.min(K, i1 + lazy);
    const count = i2 - i1;
    // Two rows at a time, so each load of U's row serves both; each row's operations keep their order.
    let n = n0;
    for (; n + 1 < n1; n += 2) {
      const ba = n * K;
      const bb = ba + K;
      const ea = (n - n0) * lazy;
      const eb = ea + lazy;
      for (let c = 0; c < count; c++) {
        const i = i1 + c;
        const col = perm[i];
        const b = Math.floor(col / bs);
        const urow = i * K;
        const d = U[urow + i];
        const xa = step(ba, n, i, col, b, d);
        const xb = step(bb, n + 1, i, col, b, d);
        err[ea + c] = xa;
        err[eb + c] = xb;
        // Feed the errors forward to the rest of this batch.
        for (let j = i + 1; j < i2; j++) {
          const u = U[urow + j];
          W[ba + j] -= xa * u;
          W[bb + j] -= xb * u;
        }
      }
    }
    for (; n < n1; n++) {
      const base = n * K;
      const eb = (n - n0) * lazy;
      for (let c = 0; c < count; c++) {
        const i = i1 + c;
        const col = perm[i];
        const urow = i * K;
        const e = step(base, n, i, col, Math.floor(col / bs), U[urow + i]);
        err[eb + c] = e;
        for (let j = i + 1; j < i2; j++) W[base + j] -= e * U[urow + j];
      }
    }
    if (i2 < K) trailingUpdate(W, n0, n1, K, U, err, lazy, i1, count, i2);
  }
}

/**
 * W[n0:n1, i2:] -= Err · U[i1:i1+count, i2:], the batch's errors reaching every later column. Each
 * W[n][j] still takes its subtractions one at a time in column order (w -= e·u, no reordering of
 * the float operations, so the result is the plain loop's to the bit); the loop is only blocked
 * over two rows and four columns so each load of W and U serves several multiply-subtracts.
 */
function trailingUpdate(
  W: Float64Array,
  n0: number,
  n1: number,
  K: number,
  U: Float64Array,
  err: Float64Array,
  lazy: number,
  i1: number,
  count: number,
  i2: number,
): void {
  // Columns in tiles, so the tile of U (count x TILE) stays in cache while every row passes.
  const TILE = 256;
  for (let j0 = i2; j0 < K; j0 += TILE) {
    trailingTile(W, n0, n1, K, U, err, lazy, i1, count, j0, Math.min(K, j0 + TILE));
  }
}

function trailingTile(
  W: Float64Array,
  n0: number,
  n1: number,
  K: number,
  U: Float64Array,
  err: Float64Array,
  lazy: number,
  i1: number,
  count: number,
  j0: number,
  j1: number,
): void {
  let n = n0;
  for (; n + 1 < n1; n += 2) {
    const a = n * K;
    const b = a + K;
    const ea = (n - n0) * lazy;
    const eb = ea + lazy;
    let c = 0;
    for (; c + 3 < count; c += 4) {
      const a0 = err[ea + c];
      const a1 = err[ea + c + 1];
      const a2 = err[ea + c + 2];
      const a3 = err[ea + c + 3];
      const b0 = err[eb + c];
      const b1 = err[eb + c + 1];
      const b2 = err[eb + c + 2];
      const b3 = err[eb + c + 3];
      const u0 = (i1 + c) * K;
      const u1 = u0 + K;
      const u2 = u1 + K;
      const u3 = u2 + K;
      for (let j = j0; j < j1; j++) {
        const v0 = U[u0 + j];
        const v1 = U[u1 + j];
        const v2 = U[u2 + j];
        const v3 = U[u3 + j];
        let wa = W[a + j];
        wa -= a0 * v0;
        wa -= a1 * v1;
        wa -= a2 * v2;
        wa -= a3 * v3;
        W[a + j] = wa;
        let wb = W[b + j];
        wb -= b0 * v0;
        wb -= b1 * v1;
        wb -= b2 * v2;
        wb -= b3 * v3;
        W[b + j] = wb;
      }
    }
    for (; c < count; c++) {
      const x = err[ea + c];
      const y = err[eb + c];
      const u = (i1 + c) * K;
      for (let j = j0; j < j1; j++) {
        const v = U[u + j];
        W[a + j] -= x * v;
        W[b + j] -= y * v;
      }
    }
  }
  for (; n < n1; n++) {
    const a = n * K;
    for (let c = 0; c < count; c++) {
      const x = err[(n - n0) * lazy + c];
      const u = (i1 + c) * K;
      for (let j = j0; j < j1; j++) W[a + j] -= x * U[u + j];
    }
  }
}

function needHessian(ctx: WeightContext | undefined): Float64Array {
  if (!ctx?.hessian) {
    throw new QuantlabError(
      'bad-argument',
      'GPTQ needs a calibration text',
      'Give a calibration text (quantlab quantize --calib FILE, or the Quantize dialog’s calibration source).',
    );
  }
  return ctx.hessian;
}

/** GPTQ as a registry method: needs ctx.hessian (from a calibration text). */
export const gptqGrid: WeightQuantizer = (rows, N, K, spec, ctx) => gptqQuantize(rows, N, K, spec, needHessian(ctx));

/** gptqGrid on a pool's threads. */
export const gptqGridOn: PooledQuantizer = (pool, rows, N, K, spec, ctx) =>
  gptqQuantizeOn(pool, rows, N, K, spec, needHessian(ctx));

/** The kernels GPTQ's steps run, by name (jobs.ts). */
export const GPTQ_KERNELS = {
  'gptq.cholRect': cholRect,
  'gptq.inverseBlocks': inverseBlocks,
  'gptq.rows': gptqRows,
} satisfies KernelRegistry;
