// Half-quadratic quantization (HQQ, Badri & Shaji 2023): calibration-free, per block. Starting from
// round-to-nearest, each iteration shrinks the residual w - ŵ with the lp proximal operator (p < 1,
// so a few large errors are tolerated rather than spread over every weight), then updates the
// zero point in closed form (and the scale by least squares) towards w minus the shrunk residual.
// MatMulNBits stores integer zero points, so the zero point update is rounded; a step is kept only
// when it lowers the block's objective Σ|w - ŵ|^p, so the objective never rises.

import { emptyGrid, gridLevels, rtnBlockParams, type Grid, type GridSpec, type WeightQuantizer } from './grid';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../numeric/half';

export interface HqqParams {
  /**
   * p of the lp objective and shrinkage (< 1). HQQ publishes 0.7; the default here is 0.75, which is
   * two square roots rather than Math.pow (3x faster overall) and measured the same on aidreams260K.
   */
  lpNorm: number;
  /** Initial weight of the quadratic coupling term (HQQ: 10), grown by kappa each iteration. */
  beta: number;
  kappa: number;
  /** Most iterations per block (HQQ: 20); a block stops early once a step no longer lowers its objective. */
  iters: number;
}

export const HQQ_DEFAULTS: Readonly<HqqParams> = { lpNorm: 0.75, beta: 10, kappa: 1.01, iters: 20 };

/** The nearest value the storage type holds (float32 or float16). */
function roundScale(s: number, type: GridSpec['scaleType']): number {
  return type === 'float16' ? float16BitsToFloat32(float32ToFloat16Bits(s)) : Math.fround(s);
}

/**
 * Levels of w on the grid (scale, zero), into q; returns Σ|w - ŵ|^p. Fused into the same pass, the
 * sums the next iteration's closed-form updates need (into `sums`: Σt, Σq, Σtq, Σq², where t is w
 * minus the residual shrunk with threshold thr and weight beta). Stops early, returning a partial
 * sum >= limit, once the objective reaches `limit` (its terms are >= 0, so the whole would too).
 */
function assign(
  w: Float64Array,
  m: number,
  s: number,
  z: number,
  levels: number,
  p: number,
  q: Uint8Array,
  thr: number,
  beta: number,
  sums: Float64Array,
  limit: number,
): number {
  let f = 0;
  const inv = 1 / s;
  // p = 0.75 is two square roots, several times cheaper than Math.pow (most of HQQ's time).
  const fast = p === 0.75;
  let sumT = 0;
  let sumQ = 0;
  let sumTQ = 0;
  let sumQQ = 0;
  for (let i = 0; i < m; i++) {
    const wi = w[i];
    let qi = Math.round(wi * inv) + z;
    qi = qi < 0 ? 0 : qi > levels ? levels : qi;
    q[i] = qi;
    const r = wi - (qi - z) * s;
    const a = Math.abs(r);
    f += fast ? Math.sqrt(a * Math.sqrt(a)) : a === 0 ? 0 : Math.pow(a, p);
    if (f >= limit) return f;
    // Half-quadratic split: the residual is shrunk (lp proximal operator); t = w - e is what the
    // grid should fit. |r| - |r|^(p-1)/β > 0 only where |r| > β^(-1/(2-p)): below that e is 0.
    let ti = wi;
    if (a > thr) {
      const e = a - Math.pow(a, p - 1) / beta;
      if (e > 0) ti -= r < 0 ? -e : e;
    }
    sumT += ti;
    sumQ += qi;
    sumTQ += ti * qi;
    sumQQ += qi * qi;
  }
  sums[0] = sumT;
  sums[1] = sumQ;
  sums[2] = sumTQ;
  sums[3] = sumQQ;
  return f;
}

/** Work buffers of hqqBlock for blocks of up to `size` values. */
export interface HqqScratch {
  q: Uint8Array;
  sums: Float64Array;
  altSums: Float64Array;
}

export function hqqScratch(size: number): HqqScratch {
  return { q: new Uint8Array(size), sums: new Float64Array(4), altSums: new Float64Array(4) };
}

/**
 * Optimises one block in place: w (m values) in, levels into q, returns the block's scale and
 * zero point (and the objective, for tests).
 */
export function hqqBlock(
  w: Float64Array,
  m: number,
  spec: GridSpec,
  params: HqqParams,
  q: Uint8Array,
  scratch: HqqScratch,
): { scale: number; zero: number; objective: number } {
  const levels = gridLevels(spec.bits);
  const p = params.lpNorm;
  let mn = 0;
  let mx = 0;
  for (let i = 0; i < m; i++) {
    if (w[i] < mn) mn = w[i];
    if (w[i] > mx) mx = w[i];
  }
  let { scale: s, zero: z } = rtnBlockParams(mn, mx, spec);
  if (s === 0) {
    q.fill(z, 0, m);
    return { scale: 0, zero: z, objective: 0 };
  }
  let beta = params.beta;
  // The levels of the current (s, z) and their sums live in cur; a candidate step fills alt.
  let cur = q;
  let alt = scratch.q;
  let sums = scratch.sums;
  let altSums = scratch.altSums;
  let f = assign(w, m, s, z, levels, p, cur, Math.pow(beta, -1 / (2 - p)), beta, sums, Infinity);
  for (let it = 0; it < params.iters; it++) {
    const sumT = sums[0];
    const sumQ = sums[1];
    const sumTQ = sums[2];
    const sumQQ = sums[3];
    let z2 = z;
    if (!spec.symmetric) {
      // HQQ's closed-form zero point: mean(q - t / s), rounded to the integer MatMulNBits stores.
      z2 = Math.round((sumQ - sumT / s) / m);
      z2 = z2 < 0 ? 0 : z2 > levels ? levels : z2;
    }
    // The scale that fits t best on the current levels (least squares): Σt(q-z) / Σ(q-z)².
    const num = sumTQ - z2 * sumT;
    const den = sumQQ - 2 * z2 * sumQ + m * z2 * z2;
    const s2 = den > 0 ? roundScale(num / den, spec.scaleType) : s;
    beta *= params.kappa;
    if (s2 === 0 || !Number.isFinite(s2)) break;
    const f2 = assign(w, m, s2, z2, levels, p, alt, Math.pow(beta, -1 / (2 - p)), beta, altSums, f);
    if (!(f2 < f)) break;
    s = s2;
    z = z2;
    f = f2;
    [cur, alt] = [alt, cur];
    [sums, altSums] = [altSums, sums];
  }
  if (cur !== q) q.set(cur.subarray(0, m));
  return { scale: s, zero: z, objective: f };
}

/** HQQ with the given parameters as a weight method (rows [N, K] -> grid). */
export function hqqQuantizer(params: HqqParams = HQQ_DEFAULTS): WeightQuantizer {
  return (rows, N, K, spec): Grid => {
    const g = emptyGrid(N, K, spec);
    const bs = spec.blockSize;
    const w = new Float64Array(bs);
    const q = new Uint8Array(bs);
    const scratch = hqqScratch(bs);
    for (let n = 0; n < N; n++) {
      for (let b = 0; b < g.kBlocks; b++) {
        const k0 = b * bs;
        const m = Math.min(K, k0 + bs) - k0;
        for (let i = 0; i < m; i++) w[i] = rows[n * K + k0 + i];
        const r = hqqBlock(w, m, spec, params, q, scratch);
        g.scales[n * g.kBlocks + b] = r.scale;
        g.zeros[n * g.kBlocks + b] = r.zero;
        g.q.set(q.subarray(0, m), n * K + k0);
      }
    }
    return g;
  };
}

/** HQQ with its defaults (p 0.75, β 10, κ 1.01, at most 20 iterations). */
export const hqqGrid: WeightQuantizer = hqqQuantizer();
