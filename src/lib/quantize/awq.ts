// AWQ (Lin et al., 2023): activation-aware weight quantization. Per group of linears sharing an
// input, a per-input-channel scale s = mean|x|^α (α on a grid) is chosen to minimise the
// quantized layers' output error on calibration inputs; the weights are multiplied by s and the
// input divided by s (folded into the preceding RMSNorm weight or linear), then each block's
// clipping range is searched, then the weights are rounded to nearest.

import { QuantlabError } from '../errors';
import {
  emptyGrid,
  gridLevels,
  rtnBlockParams,
  rtnGrid,
  dequantizeGrid,
  type Grid,
  type GridSpec,
  type PooledQuantizer,
  type WeightContext,
  type WeightQuantizer,
} from './grid';
import { inlinePool, splitRange, type Job, type JobPool, type KernelRegistry } from './jobs';

/** α values searched: 0, 1/n, ..., (n-1)/n (AutoAWQ: n = 20). */
export const AWQ_ALPHA_GRID = 20;
/** Calibration tokens the α search measures on at most, evenly spaced (awqPrepare's default). */
export const AWQ_SEARCH_TOKENS = 256;
/** Clip ratios searched per block: 1, 0.95, ..., 0.55 (AutoAWQ: n_grid 20, max_shrink 0.5). */
export const AWQ_CLIP_RATIOS = Array.from({ length: 10 }, (_, i) => 1 - i / 20);

/** One weight of a group, as rows [N, K]. */
export interface AwqWeight {
  rows: Float32Array;
  N: number;
}

export interface AwqScaleResult {
  alpha: number;
  /** Per input channel, normalised so that sqrt(max · min) = 1. */
  scales: Float64Array;
  /** Output error (mean squared, over tokens and outputs of the group) for each α of the grid. */
  errors: number[];
}

/** s = meanAbs^α, floored at 1e-4, divided by sqrt(max(s) · min(s)) (as AutoAWQ does). */
export function awqScales(meanAbs: Float64Array, alpha: number): Float64Array {
  const s = meanAbs.map((m) => Math.max(Math.pow(Math.max(m, 1e-4), alpha), 1e-4));
  let mx = 0;
  let mn = Infinity;
  for (const v of s) {
    if (v > mx) mx = v;
    if (v < mn) mn = v;
  }
  const norm = Math.sqrt(mx * mn);
  return s.map((v) => v / norm);
}

/**
 * The output error of weights quantized with input scales s: for each weight, RTN of W·diag(s)
 * dequantized and divided by s again, compared with W on the inputs X [T, K]: mean over tokens and
 * outputs of (X (W - Ŵ)ᵀ)².
 */
export function awqOutputError(
  weights: AwqWeight[],
  K: number,
  X: Float32Array,
  T: number,
  s: Float64Array,
  spec: GridSpec,
): number {
  let sum = 0;
  let count = 0;
  const delta = new Float64Array(K);
  for (const w of weights) {
    const scaled = new Float32Array(w.N * K);
    for (let n = 0; n < w.N; n++) for (let k = 0; k < K; k++) scaled[n * K + k] = w.rows[n * K + k] * s[k];
    const deq = dequantizeGrid(rtnGrid(scaled, w.N, K, spec));
    for (let n = 0; n < w.N; n++) {
      for (let k = 0; k < K; k++) delta[k] = w.rows[n * K + k] - deq[n * K + k] / s[k];
      // Four tokens at a time (independent sums, each in k order; added to sum in t order).
      let t = 0;
      for (; t + 3 < T; t += 4) {
        const x0 = t * K;
        const x1 = x0 + K;
        const x2 = x1 + K;
        const x3 = x2 + K;
        let d0 = 0;
        let d1 = 0;
        let d2 = 0;
        let d3 = 0;
        for (let k = 0; k < K; k++) {
          const dk = delta[k];
          d0 += X[x0 + k] * dk;
          d1 += X[x1 + k] * dk;
          d2 += X[x2 + k] * dk;
          d3 += X[x3 + k] * dk;
        }
        sum += d0 * d0;
        sum += d1 * d1;
        sum += d2 * d2;
        sum += d3 * d3;
      }
      for (; t < T; t++) {
        let d = 0;
        const xr = t * K;
        for (let k = 0; k < K; k++) d += X[xr + k] * delta[k];
        sum += d * d;
      }
    }
    count += w.N * T;
  }
  return sum / count;
}

/** The α of the grid with the least output error for a group of weights sharing inputs X [T, K]. */
export function awqSearchScale(
  weights: AwqWeight[],
  K: number,
  X: Float32Array,
  T: number,
  meanAbs: Float64Array,
  spec: GridSpec,
  grid = AWQ_ALPHA_GRID,
): AwqScaleResult {
  let best = { alpha: 0, scales: awqScales(meanAbs, 0), error: Infinity };
  const errors: number[] = [];
  for (let i = 0; i < grid; i++) {
    const alpha = i / grid;
    const s = awqScales(meanAbs, alpha);
    const e = awqOutputError(weights, K, X, T, s, spec);
    errors.push(e);
    if (e < best.error) best = { alpha, scales: s, error: e };
  }
  return { alpha: best.alpha, scales: best.scales, errors };
}

/**
 * X [T, K] times Dᵀ for D [N, K] on a faster engine (ONNX Runtime's float32 Gemm): the [T, N]
 * products. D is read before the promise resolves (the search refills it for the next α).
 */
export type AwqProduct = (d: Float32Array, N: number) => Promise<Float32Array>;

/** Errors this close (relative) to the least measured in float32 are measured again in float64. */
export const AWQ_REFINE = 1e-4;

/**
 * The differences W - Ŵ of every weight of the group at scales s, into `out` as one [ΣN, K] matrix (the
 * weights' rows one after another), in float32: what awqOutputError multiplies X by. Each weight's
 * rows are cut into one job per thread of the pool.
 */
async function deltas(
  pool: JobPool,
  weights: AwqWeight[],
  K: number,
  s: Float64Array,
  spec: GridSpec,
  out: Float32Array,
): Promise<void> {
  const jobs: Job[] = [];
  let row = 0;
  for (const w of weights) {
    for (const [n0, n1] of splitRange(w.N, pool.size)) {
      jobs.push({ kernel: 'awq.deltaRows', args: [w.rows, K, s, spec, out, row, n0, n1] });
    }
    row += w.N;
  }
  await pool.run(jobs);
}

/**
 * Rows [n0, n1) of W - Ŵ for one weight, into out from row `row0 + n0`: rtnGrid of W·diag(s) then
 * dequantizeGrid, fused per block (the same float32 roundings). AWQ's hottest loop (every weight
 * at every α), written so that V8 keeps the numbers unboxed and the branches predictable.
 */
function deltaRows(
  rows: Float32Array,
  K: number,
  s: Float64Array,
  spec: GridSpec,
  out: Float32Array,
  row0: number,
  n0: number,
  n1: number,
): void {
  const bs = spec.blockSize;
  const levels = gridLevels(spec.bits);
  for (let n = n0; n < n1; n++) {
    const src = n * K;
    const o = (row0 + n) * K - src;
    for (let k0 = 0; k0 < K; k0 += bs) {
      const a = src + k0;
      const e = src + Math.min(K, k0 + bs);
      let mn = 0;
      let mx = 0;
      for (let i = a; i < e; i++) {
        const v = Math.fround(rows[i] * s[i - src]);
        mn = v < mn ? v : mn;
        mx = v > mx ? v : mx;
      }
      const p = rtnBlockParams(mn, mx, spec);
      const scale = p.scale;
      const zero = p.zero;
      const inv = scale === 0 ? 0 : 1 / scale;
      for (let i = a; i < e; i++) {
        const w = rows[i];
        const sk = s[i - src];
        // roundHalfUp (grid.ts) inlined, then the clamp to [0, levels].
        const x = Math.fround(w * sk) * inv;
        const f = Math.floor(x + 0.5);
        const r = (f - 0.5 > x ? f - 1 : f) + zero;
        const q = r < 0 ? 0 : r > levels ? levels : r;
        out[o + i] = w - Math.fround((q - zero) * scale) / sk;
      }
    }
  }
}

/**
 * awqSearchScale with the products X·Δᵀ on `product` (float32): every α's error is measured there,
 * then the α whose float32 error is within AWQ_REFINE of the least are measured again with
 * awqOutputError (float64, as awqSearchScale does) and the least of those wins, so the choice is
 * awqSearchScale's unless float32 misjudges an error by more than 1e-4 of it. `errors` holds the
 * float64 figure for the α measured again, the float32 one for the others.
 */
export async function awqSearchScaleWith(
  product: AwqProduct,
  weights: AwqWeight[],
  K: number,
  X: Float32Array,
  T: number,
  meanAbs: Float64Array,
  spec: GridSpec,
  grid = AWQ_ALPHA_GRID,
  pool: JobPool = inlinePool(AWQ_KERNELS),
): Promise<AwqScaleResult> {
  const total = weights.reduce((a, w) => a + w.N, 0);
  const errors: number[] = [];
  const release: (() => void)[] = [];
  try {
    // The rows in the pool's memory once, not copied to its threads again for every α.
    const shared = weights.map((w, i) => ({ rows: inPool(pool, `search.rows.${i}`, w.rows, release), N: w.N }));
    // One buffer of differences for every α; ONNX Runtime reads plain memory, so shared results
    // are copied out first (into one plain buffer too).
    const b = borrow(pool, 'search.deltas', 4 * K * total);
    release.push(b.release);
    const d = new Float32Array(b.buf, 0, K * total);
    const plain = d.buffer instanceof ArrayBuffer ? d : new Float32Array(d.length);
    for (let i = 0; i < grid; i++) {
      await deltas(pool, shared, K, awqScales(meanAbs, i / grid), spec, d);
      if (plain !== d) plain.set(d);
      const y = await product(plain, total);
      let sum = 0;
      for (let j = 0; j < y.length; j++) sum += y[j] * y[j];
      errors.push(sum / (total * T));
    }
  } finally {
    release.forEach((f) => f());
  }
  const least = Math.min(...errors);
  let best = { alpha: 0, scales: awqScales(meanAbs, 0), error: Infinity };
  const close = errors.flatMap((e, i) => (e <= least * (1 + AWQ_REFINE) ? [i] : []));
  for (const i of close) {
    const alpha = i / grid;
    const s = awqScales(meanAbs, alpha);
    const e = close.length === 1 ? errors[i] : awqOutputError(weights, K, X, T, s, spec);
    errors[i] = e;
    if (e < best.error) best = { alpha, scales: s, error: e };
  }
  return { alpha: best.alpha, scales: best.scales, errors };
}

/**
 * AWQ's last step as a registry method: rows (already multiplied by the chosen scales) rounded
 * to nearest, each block's range clipped to the ratio of AWQ_CLIP_RATIOS whose output error on the
 * inputs (through ctx.hessian of the scaled inputs: Δᵀ H Δ over the block) is least.
 */
export const awqGrid: WeightQuantizer = (rows, N, K, spec, ctx) => {
  const g = emptyGrid(N, K, spec);
  const H = clipHessian(g, ctx);
  awqClipRows(rows, K, spec, H, ctx?.hessian !== undefined, g.q, g.scales, g.zeros, 0, N);
  return g;
};

/** awqGrid with the rows spread over a pool's threads (the same grid to the bit). */
export const awqGridOn: PooledQuantizer = async (pool, rows, N, K, spec, ctx) => {
  const g = emptyGrid(N, K, spec, (b) => pool.shared(b));
  const full = ctx?.hessian !== undefined;
  // Rows and H in the pool's memory: one copy here instead of a clone of each to every thread.
  const release: (() => void)[] = [];
  try {
    const r = inPool(pool, 'clip.rows', rows, release);
    const H = inPool(pool, 'clip.H', clipHessian(g, ctx), release);
    await pool.run(
      splitRange(N, pool.size).map(([n0, n1]) => ({
        kernel: 'awq.clipRows',
        args: [r, K, spec, H, full, g.q, g.scales, g.zeros, n0, n1],
      })),
    );
  } finally {
    release.forEach((f) => f());
  }
  return g;
};

/**
 * Pool memory AWQ keeps between its steps, by use: a SharedArrayBuffer is freed only once every
 * thread that saw it has collected it, so one new buffer per weight or per α raised the 135M-shaped
 * fixture's peak RSS by about 350 MB. A buffer in use (two steps at once on one pool) is not lent.
 */
const kept = new WeakMap<JobPool, Map<string, { buf: ArrayBuffer | SharedArrayBuffer; busy: boolean }>>();

/** At least `bytes` of the pool's memory for use `key`, until release(). */
function borrow(pool: JobPool, key: string, bytes: number): { buf: ArrayBuffer | SharedArrayBuffer; release(): void } {
  let uses = kept.get(pool);
  if (!uses) kept.set(pool, (uses = new Map()));
  let e = uses.get(key);
  if (e?.busy) return { buf: pool.shared(bytes), release: () => {} };
  if (!e || e.buf.byteLength < bytes) uses.set(key, (e = { buf: pool.shared(bytes), busy: false }));
  const entry = e;
  entry.busy = true;
  return { buf: entry.buf, release: () => (entry.busy = false) };
}

/** `a` copied into borrowed pool memory (`a` itself when the pool is this thread alone or `a` is shared already). */
function inPool<A extends Float32Array | Float64Array>(pool: JobPool, key: string, a: A, release: (() => void)[]): A {
  if (pool.size === 1 || !(a.buffer instanceof ArrayBuffer)) return a;
  const b = borrow(pool, key, a.byteLength);
  release.push(b.release);
  const Ctor = a.constructor as new (buf: ArrayBuffer | SharedArrayBuffer, offset: number, length: number) => A;
  const copy = new Ctor(b.buf, 0, a.length);
  copy.set(a);
  return copy;
}

/** H's diagonal blocks for the clip search, read from the full H or from the blocks alone (the same numbers). */
function clipHessian(g: Grid, ctx: WeightContext | undefined): Float64Array {
  const H = ctx?.hessian ?? ctx?.hessianBlocks;
  if (!H) {
    throw new QuantlabError(
      'bad-argument',
      'AWQ needs a calibration text',
      'Give a calibration text (quantlab quantize --calib FILE, or the Quantize dialog’s calibration source).',
    );
  }
  const bs = g.spec.blockSize;
  if (ctx?.hessian === undefined && H.length !== g.kBlocks * bs * bs) {
    throw new QuantlabError('internal', `AWQ's Hessian blocks were cut for another block size than ${bs}`);
  }
  return H;
}

/** The clip search and rounding of rows [n0, n1), into the grid's arrays q, scales and zeros. */
function awqClipRows(
  rows: Float32Array,
  K: number,
  spec: GridSpec,
  H: Float64Array,
  full: boolean,
  q: Uint8Array,
  scales: Float32Array,
  zeros: Uint8Array,
  n0: number,
  n1: number,
): void {
  const levels = gridLevels(spec.bits);
  const bs = spec.blockSize;
  const kBlocks = Math.ceil(K / bs);
  const stride = full ? K : bs;
  const R = AWQ_CLIP_RATIOS.length;
  // Every ratio's levels and differences first, then their quadratic forms four (then two)
  // ratios at a time (one load of H serves them all; each sum still runs in the same order as
  // one at a time).
  const delta = new Float64Array(R * bs);
  const cand = new Uint8Array(R * bs);
  const params: { scale: number; zero: number }[] = new Array(R);
  const errs = new Float64Array(R);
  for (let n = n0; n < n1; n++) {
    for (let b = 0; b < kBlocks; b++) {
      const k0 = b * bs;
      const len = Math.min(K, k0 + bs) - k0;
      let mn = 0;
      let mx = 0;
      for (let j = 0; j < len; j++) {
        const v = rows[n * K + k0 + j];
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
      const amax = Math.max(mx, -mn);
      for (let r = 0; r < R; r++) {
        const m = amax * AWQ_CLIP_RATIOS[r];
        const p = rtnBlockParams(Math.max(mn, -m), Math.min(mx, m), spec);
        params[r] = p;
        const o = r * bs;
        const { scale, zero } = p;
        const src = n * K + k0;
        for (let j = 0; j < len; j++) {
          const v = rows[src + j];
          // quantizeValue of v clipped to [-m, m], with roundHalfUp (grid.ts) inlined.
          let level = zero;
          if (scale !== 0) {
            const x = (v > m ? m : v < -m ? -m : v) / scale;
            const f = Math.floor(x + 0.5);
            const l = (f - 0.5 > x ? f - 1 : f) + zero;
            level = l < 0 ? 0 : l > levels ? levels : l;
          }
          cand[o + j] = level;
          delta[o + j] = v - (level - zero) * scale;
        }
      }
      let r = 0;
      for (; r + 3 < R; r += 4) quadForms4(H, delta, r * bs, bs, len, full, k0, K, b, stride, errs, r);
      for (; r + 1 < R; r += 2) {
        const oa = r * bs;
        const ob = oa + bs;
        let ea = 0;
        let eb = 0;
        let i = 0;
        // Two rows of H at a time too: four independent sums keep the multiply-adds in flight.
        for (; i + 1 < len; i += 2) {
          const h0 = full ? (k0 + i) * K + k0 : b * bs * bs + i * stride;
          const h1 = h0 + stride;
          let sa0 = 0;
          let sb0 = 0;
          let sa1 = 0;
          let sb1 = 0;
          for (let j = 0; j < len; j++) {
            const da = delta[oa + j];
            const db = delta[ob + j];
            const x0 = H[h0 + j];
            const x1 = H[h1 + j];
            sa0 += x0 * da;
            sb0 += x0 * db;
            sa1 += x1 * da;
            sb1 += x1 * db;
          }
          ea += delta[oa + i] * sa0;
          eb += delta[ob + i] * sb0;
          ea += delta[oa + i + 1] * sa1;
          eb += delta[ob + i + 1] * sb1;
        }
        for (; i < len; i++) {
          const hr = full ? (k0 + i) * K + k0 : b * bs * bs + i * stride;
          let sa = 0;
          let sb = 0;
          for (let j = 0; j < len; j++) {
            const h = H[hr + j];
            sa += h * delta[oa + j];
            sb += h * delta[ob + j];
          }
          ea += delta[oa + i] * sa;
          eb += delta[ob + i] * sb;
        }
        errs[r] = ea;
        errs[r + 1] = eb;
      }
      for (; r < R; r++) {
        const o = r * bs;
        let err = 0;
        for (let i = 0; i < len; i++) {
          const hr = full ? (k0 + i) * K + k0 : b * bs * bs + i * stride;
          let s = 0;
          for (let j = 0; j < len; j++) s += H[hr + j] * delta[o + j];
          err += delta[o + i] * s;
        }
        errs[r] = err;
      }
      let bestErr = Infinity;
      let best = -1;
      for (let r = 0; r < R; r++) {
        if (errs[r] < bestErr) {
          bestErr = errs[r];
          best = r;
        }
      }
      const p = best < 0 ? { scale: 0, zero: 0 } : params[best];
      scales[n * kBlocks + b] = p.scale;
      zeros[n * kBlocks + b] = p.zero;
      if (best >= 0) q.set(cand.subarray(best * bs, best * bs + len), n * K + k0);
    }
  }
}

/**
 * Δᵀ H Δ over one block for the four ratios whose differences start at delta[o], delta[o + bs],
 * ..., into errs[r..r + 3]: two rows of H at a time, eight independent sums, each added up in
 * the order awqClipRows's pairs use.
 */
function quadForms4(
  H: Float64Array,
  delta: Float64Array,
  o: number,
  bs: number,
  len: number,
  full: boolean,
  k0: number,
  K: number,
  b: number,
  stride: number,
  errs: Float64Array,
  r: number,
): void {
  const oa = o;
  const ob = o + bs;
  const oc = ob + bs;
  const od = oc + bs;
  let ea = 0;
  let eb = 0;
  let ec = 0;
  let ed = 0;
  let i = 0;
  for (; i + 1 < len; i += 2) {
    const h0 = full ? (k0 + i) * K + k0 : b * bs * bs + i * stride;
    const h1 = h0 + stride;
    let sa0 = 0;
    let sb0 = 0;
    let sc0 = 0;
    let sd0 = 0;
    let sa1 = 0;
    let sb1 = 0;
    let sc1 = 0;
    let sd1 = 0;
    for (let j = 0; j < len; j++) {
      const x0 = H[h0 + j];
      const x1 = H[h1 + j];
      const da = delta[oa + j];
      const db = delta[ob + j];
      const dc = delta[oc + j];
      const dd = delta[od + j];
      sa0 += x0 * da;
      sb0 += x0 * db;
      sc0 += x0 * dc;
      sd0 += x0 * dd;
      sa1 += x1 * da;
      sb1 += x1 * db;
      sc1 += x1 * dc;
      sd1 += x1 * dd;
    }
    ea += delta[oa + i] * sa0;
    eb += delta[ob + i] * sb0;
    ec += delta[oc + i] * sc0;
    ed += delta[od + i] * sd0;
    ea += delta[oa + i + 1] * sa1;
    eb += delta[ob + i + 1] * sb1;
    ec += delta[oc + i + 1] * sc1;
    ed += delta[od + i + 1] * sd1;
  }
  for (; i < len; i++) {
    const hr = full ? (k0 + i) * K + k0 : b * bs * bs + i * stride;
    let sa = 0;
    let sb = 0;
    let sc = 0;
    let sd = 0;
    for (let j = 0; j < len; j++) {
      const h = H[hr + j];
      sa += h * delta[oa + j];
      sb += h * delta[ob + j];
      sc += h * delta[oc + j];
      sd += h * delta[od + j];
    }
    ea += delta[oa + i] * sa;
    eb += delta[ob + i] * sb;
    ec += delta[oc + i] * sc;
    ed += delta[od + i] * sd;
  }
  errs[r] = ea;
  errs[r + 1] = eb;
  errs[r + 2] = ec;
  errs[r + 3] = ed;
}

/** The kernels AWQ's jobs run, by name (jobs.ts). */
export const AWQ_KERNELS = {
  'awq.deltaRows': deltaRows,
  'awq.clipRows': awqClipRows,
} satisfies KernelRegistry;
