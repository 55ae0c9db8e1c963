// Token sampling with temperature, top-k and top-p (in that order, as Hugging Face applies
// them) by inverse CDF over tokens sorted by probability, so columns that share a seed share
// their random draws ("coupled sampling") and near-equal distributions pick the same token.

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
  if (!Number.isFinite(p.temperature) || p.temperature < 0) return `temperature must be a number >= 0 (got ${p.temperature})`;
  if (!Number.isInteger(p.topK) || p.topK < 0) return `top-k must be a whole number >= 0 (got ${p.topK})`;
  if (!Number.isFinite(p.topP) || p.topP <= 0 || p.topP > 1) return `top-p must be in (0, 1] (got ${p.topP})`;
  return undefined;
}

/** Index of the largest value; the lowest index wins ties (as transformers.js's max() does). */
export function argmax(x: ArrayLike<number>): number {
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
 */
export function sampleToken(logits: ArrayLike<number>, p: SamplingParams, u: number): SampledToken {
  const V = logits.length;
  if (p.temperature === 0) return { id: argmax(logits), prob: 1 };
  const invT = 1 / p.temperature;
  const maxLogit = logits[argmax(logits)];
  // Unnormalised probabilities in float64.
  const w = new Float64Array(V);
  let total = 0;
  for (let i = 0; i < V; i++) {
    const e = Math.exp((logits[i] - maxLogit) * invT);
    w[i] = e;
    total += e;
  }
  const k = p.topK > 0 && p.topK < V ? p.topK : V;
  const heap = new MaxHeap(w);
  // Pop tokens in decreasing probability (ties: lower id first) until the candidate set is known.
  const ids: number[] = [];
  let mass = 0;
  if (k < V) {
    while (ids.length < k) {
      const id = heap.pop();
      ids.push(id);
      mass += w[id];
    }
  }
  if (p.topP < 1) {
    // Nucleus: the shortest prefix whose mass reaches topP of the (top-k) mass.
    const base = k < V ? mass : total;
    let cum = 0;
    let n = 0;
    while (n < ids.length && cum < p.topP * base) cum += w[ids[n++]];
    while (cum < p.topP * base && heap.size > 0) {
      const id = heap.pop();
      ids.push(id);
      cum += w[id];
      n++;
    }
    ids.length = Math.max(1, n);
    mass = cum;
  } else if (k === V) {
    mass = total;
  }
  // Without top-k or top-p the candidates are the whole vocabulary, popped only as needed.
  const open = k === V && p.topP >= 1;
  const target = u * mass;
  let cum = 0;
  for (let j = 0; ; j++) {
    if (j === ids.length) {
      if (!open || heap.size === 0) break;
      ids.push(heap.pop());
    }
    cum += w[ids[j]];
    if (cum > target) return { id: ids[j], prob: w[ids[j]] / mass };
  }
  // Rounding left the target at the very end: take the last candidate.
  const last = ids[ids.length - 1];
  return { id: last, prob: w[last] / mass };
}

/** Binary max-heap of token ids keyed by weight (ties: lower id first), built in O(V). */
class MaxHeap {
  #ids: Int32Array;
  #w: Float64Array;
  size: number;
  constructor(w: Float64Array) {
    this.#w = w;
    this.size = w.length;
    this.#ids = new Int32Array(w.length);
    for (let i = 0; i < w.length; i++) this.#ids[i] = i;
    for (let i = (this.size >> 1) - 1; i >= 0; i--) this.#down(i);
  }
  #before(a: number, b: number): boolean {
    const wa = this.#w[a];
    const wb = this.#w[b];
    return wa > wb || (wa === wb && a < b);
  }
  #down(i: number): void {
    const ids = this.#ids;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let top = i;
      if (l < this.size && this.#before(ids[l], ids[top])) top = l;
      if (r < this.size && this.#before(ids[r], ids[top])) top = r;
      if (top === i) return;
      const t = ids[i];
      ids[i] = ids[top];
      ids[top] = t;
      i = top;
    }
  }
  pop(): number {
    const top = this.#ids[0];
    this.#ids[0] = this.#ids[--this.size];
    this.#down(0);
    return top;
  }
}
