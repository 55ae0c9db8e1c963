// Token sampling with temperature, top-k and top-p (in that order, as Hugging Face applies
// them) by inverse CDF over tokens sorted by probability, so columns that share a seed share
// their random draws ("coupled sampling") and near-equal distributions pick the same token.

import { QuantlabError } from '../errors';

export interface SamplingParams {
  /** 0 means greedy (argmax). */
  temperature: number;
  /** 0 means no top-k limit. */
  topK: number;
  /** 1 means no nucleus limit. */
  topP: number;
}

export interface SampledToken {
  id: number;
  /** Probability of the chosen token under the final (truncated, renormalised) distribution. */
  prob: number;
}

/** Describes why a sampling parameter is invalid, or undefined when all are valid. */
export function checkSamplingParams(p: SamplingParams): string | undefined {
  if (!Number.isFinite(p.temperature) || p.temperature < 0)
    return `temperature must be a number >= 0 (got ${p.temperature})`;
  if (!Number.isInteger(p.topK) || p.topK < 0) return `top-k must be a whole number >= 0 (got ${p.topK})`;
  if (!Number.isFinite(p.topP) || p.topP <= 0 || p.topP > 1) return `top-p must be in (0, 1] (got ${p.topP})`;
  return undefined;
}

/** Index of the largest value; the lowest index wins ties (as transformers.js's max() does). */
export function argmax(x: ArrayLike<number>): number {
  // One loop per array kind keeps each call site monomorphic (V8 deoptimises a loop over mixed typed-array kinds).
  if (x instanceof Float32Array) return argmaxF32(x);
  if (x instanceof Float64Array) return argmaxF64(x);
  let best = 0;
  let bestV = x[0];
  for (let i = 1; i < x.length; i++) {
    if (x[i] > bestV) {
      bestV = x[i];
      best = i;
    }
  }
  return best;
}

// argmaxF32 and argmaxF64 repeat argmax's loop on purpose: one loop per typed-array kind keeps
// each monomorphic.
function argmaxF32(x: Float32Array): number {
  let best = 0;
  let bestV = x[0];
  for (let i = 1; i < x.length; i++) {
    if (x[i] > bestV) {
      bestV = x[i];
      best = i;
    }
  }
  return best;
}

function argmaxF64(x: Float64Array): number {
  let best = 0;
  let bestV = x[0];
  for (let i = 1; i < x.length; i++) {
    if (x[i] > bestV) {
      bestV = x[i];
      best = i;
    }
  }
  return best;
}

/**
 * Draws one token. `u` is a uniform draw in [0, 1): one per token, always consumed, so two
 * columns with the same seed stay in step even when one of them is greedy at some step.
 *
 * Tokens are ordered by decreasing weight, ties by increasing id, and every sum runs in that
 * order. With top-k only the tokens near the k-th largest logit get a weight; otherwise the
 * weights are sorted lazily in small value buckets, so a draw costs a few passes over the
 * vocabulary plus sorting what it reaches.
 */
export function sampleToken(logits: ArrayLike<number>, p: SamplingParams, u: number): SampledToken {
  const V = logits.length;
  if (p.temperature === 0) return { id: argmax(logits), prob: 1 };
  const invT = 1 / p.temperature;
  const maxLogit = logits[argmax(logits)];
  const k = p.topK > 0 && p.topK < V ? p.topK : V;
  if (k < V && logits instanceof Float32Array) {
    const top = topCandidates(logits, k, maxLogit, invT);
    if (top) {
      let mass = 0;
      for (let j = 0; j < k; j++) mass += top.w[j];
      const r = pick((j) => top.w[j], k, mass, p, u);
      return { id: top.ids[r.j], prob: top.w[r.j] / r.mass };
    }
  }
  // Unnormalised probabilities in float64.
  const w = new Float64Array(V);
  let total = 0;
  if (logits instanceof Float32Array) total = weightsF32(logits, maxLogit, invT, w);
  else {
    for (let i = 0; i < V; i++) {
      const e = Math.exp((logits[i] - maxLogit) * invT);
      w[i] = e;
      total += e;
    }
  }
  if (Number.isNaN(total)) {
    throw new QuantlabError(
      'generate-failed',
      `Cannot sample: the token weights exp((logit - max) / temperature) are not numbers (NaN or infinite logits, or temperature ${p.temperature} too close to 0)`,
      'This precision overflows on this model: compare it at temperature 0, or pick another precision.',
    );
  }
  const desc = new Descending(w);
  let mass = total;
  if (k < V) {
    mass = 0;
    for (let j = 0; j < k; j++) mass += desc.at(j);
  }
  const r = pick((j) => desc.at(j), k, mass, p, u);
  const v = desc.at(r.j);
  return { id: desc.idAt(r.j, v), prob: v / r.mass };
}

/**
 * Inverse CDF over the first `count` weights of the order (`at(j)`, decreasing), whose sum is
 * `mass`, after the nucleus cut: the chosen position and the final mass.
 */
function pick(
  at: (j: number) => number,
  count: number,
  mass: number,
  p: SamplingParams,
  u: number,
): { j: number; mass: number } {
  if (p.topP < 1) {
    // Nucleus: the shortest prefix whose mass reaches topP of the (top-k) mass.
    const limit = p.topP * mass;
    let cum = 0;
    let n = 0;
    while (n < count && cum < limit) cum += at(n++);
    count = Math.max(1, n);
    mass = cum;
  }
  const target = u * mass;
  let cum = 0;
  // Rounding may leave the target at the very end: then the last candidate is taken.
  let j = 0;
  for (; j < count - 1; j++) {
    cum += at(j);
    if (cum > target) break;
  }
  return { j, mass };
}

/** Buckets of topCandidates' histogram of scaled logits; the first pass's bucket width. */
const BUCKETS = 1024;
const FIRST_WIDTH = 1 / 32;

/**
 * The top-k tokens (and a few more) by weight without exponentiating the whole vocabulary:
 * histograms of scaled logits x = (logit - max) / T find an edge with at least k tokens at or
 * above it and not many more, and every token with x >= edge - 1e-6 is weighted and sorted
 * (weight down, id up). Tokens further below weigh less than the k best by far more than exp's
 * rounding, so the order is the one all weights would give. Undefined when that cannot be relied
 * on (NaN or infinite logits, the k-th token very far down, too many near-ties): the caller
 * weighs every token.
 */
function topCandidates(
  logits: Float32Array,
  k: number,
  maxLogit: number,
  invT: number,
): { ids: number[]; w: number[] } | undefined {
  if (!Number.isFinite(maxLogit) || !Number.isFinite(invT)) return undefined;
  const V = logits.length;
  const limit = 4 * k + 256;
  // Bucket b holds hi - (b + 1) * width < x <= hi - b * width; `above` tokens lie above hi.
  const counts = new Int32Array(BUCKETS);
  let hi = 0;
  let width = FIRST_WIDTH;
  let above = 0;
  let edge = NaN;
  for (let pass = 0; pass < 4 && edge !== edge; pass++) {
    counts.fill(0);
    const lo = hi - BUCKETS * width;
    const scale = 1 / width;
    for (let i = 0; i < V; i++) {
      const x = (logits[i] - maxLogit) * invT;
      if (x <= hi && x > lo) counts[((hi - x) * scale) | 0]++;
      else if (x !== x) return undefined;
    }
    let n = above;
    let last = -1;
    while (n < k && last < BUCKETS - 1) n += counts[++last];
    if (n < k) return undefined;
    if (n <= limit) edge = hi - (last + 1) * width;
    else {
      // Too many tokens down to the k-th one's bucket: look inside that bucket.
      above = n - counts[last];
      hi -= last * width;
      width /= BUCKETS;
    }
  }
  if (!(edge > -700)) return undefined; // not found, or weights near float64 underflow
  const ids: number[] = [];
  let sure = 0;
  for (let i = 0; i < V; i++) {
    const x = (logits[i] - maxLogit) * invT;
    if (x >= edge - 1e-6) {
      ids.push(i);
      if (x >= edge) sure++;
      if (ids.length > limit) return undefined;
    }
  }
  if (sure < k) return undefined; // rounding at a bucket edge: the k-th token may lie below
  const m = ids.length;
  const w = new Float64Array(m);
  for (let j = 0; j < m; j++) w[j] = Math.exp((logits[ids[j]] - maxLogit) * invT);
  // Weight down, id up (ids ascend, so a lower position is a lower id); insertion sort for the
  // usual few dozen candidates.
  if (m > 64) {
    const order = Array.from({ length: m }, (_, j) => j).sort((a, b) => w[b] - w[a] || a - b);
    return { ids: order.map((j) => ids[j]), w: order.map((j) => w[j]) };
  }
  const sortedW: number[] = [];
  const sortedIds: number[] = [];
  for (let j = 0; j < m; j++) {
    const v = w[j];
    let at = j;
    while (at > 0 && sortedW[at - 1] < v) {
      sortedW[at] = sortedW[at - 1];
      sortedIds[at] = sortedIds[at - 1];
      at--;
    }
    sortedW[at] = v;
    sortedIds[at] = ids[j];
  }
  return { ids: sortedIds, w: sortedW };
}

/** sampleToken's weight loop for Float32Array logits, kept apart so the loop stays monomorphic. */
function weightsF32(logits: Float32Array, maxLogit: number, invT: number, w: Float64Array): number {
  let total = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = Math.exp((logits[i] - maxLogit) * invT);
    w[i] = e;
    total += e;
  }
  return total;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** Bucket keys: the top bits of a weight's float64 pattern (weights are in [0, 1]). */
const keyCount = (shift: number) => (0x3ff00000 >>> shift) + 1;

/**
 * The weights (non-negative, at most 1, no NaN) in decreasing order, sorted on demand: a
 * counting pass buckets them by exponent and top mantissa bits, and a bucket is sorted the first
 * time a position inside it is read.
 */
class Descending {
  readonly #w: Float64Array;
  readonly #vals: Float64Array;
  /** Bucket boundaries in #vals, in decreasing key order: bucket b is [#ends[b-1] ?? 0, #ends[b]). */
  readonly #ends: number[] = [];
  #sortedBuckets = 0;
  #sortedEnd = 0;

  constructor(w: Float64Array) {
    this.#w = w;
    const V = w.length;
    const words = new Uint32Array(w.buffer, w.byteOffset, 2 * V);
    const hiAt = LITTLE_ENDIAN ? 1 : 0;
    // One bucket per factor of two for small vocabularies, eight for large ones.
    const shift = V < 4096 ? 20 : 17;
    const keys = keyCount(shift);
    const counts = new Int32Array(keys);
    for (let i = 0; i < V; i++) counts[words[2 * i + hiAt] >>> shift]++;
    // Start of each bucket, highest key first; counts[] becomes the next free slot per key.
    let at = 0;
    for (let key = keys - 1; key >= 0; key--) {
      const c = counts[key];
      if (c === 0) continue;
      counts[key] = at;
      at += c;
      this.#ends.push(at);
    }
    const vals = new Float64Array(V);
    for (let i = 0; i < V; i++) vals[counts[words[2 * i + hiAt] >>> shift]++] = w[i];
    this.#vals = vals;
  }

  /** The j-th largest weight. */
  at(j: number): number {
    while (j >= this.#sortedEnd) {
      const start = this.#sortedEnd;
      const end = this.#ends[this.#sortedBuckets++];
      if (end - start > 1) this.#vals.subarray(start, end).sort().reverse();
      this.#sortedEnd = end;
    }
    return this.#vals[j];
  }

  /** The id at position j of the order (weight `v`): among equal weights, lower ids come first. */
  idAt(j: number, v: number): number {
    let first = j;
    while (first > 0 && this.at(first - 1) === v) first--;
    let skip = j - first;
    const w = this.#w;
    for (let i = 0; i < w.length; i++) {
      if (w[i] === v && skip-- === 0) return i;
    }
    throw new QuantlabError('internal', 'Sampler: a sorted weight is missing from the weights'); // unreachable
  }
}
