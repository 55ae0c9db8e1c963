import { describe, expect, it } from 'vitest';
import { argmax, checkSamplingParams, sampleToken, type SamplingParams } from '../../src/lib/sampling/sampler';
import { createRng } from '../../src/lib/sampling/rng';

/** Brute-force float64 reference: temperature, then top-k, then top-p over the top-k mass. */
function referenceDistribution(logits: number[], p: SamplingParams): Map<number, number> {
  const order = logits.map((l, id) => ({ id, w: Math.exp((l - Math.max(...logits)) / p.temperature) }));
  order.sort((a, b) => b.w - a.w || a.id - b.id);
  let cand = p.topK > 0 ? order.slice(0, p.topK) : order;
  const mass = cand.reduce((a, c) => a + c.w, 0);
  if (p.topP < 1) {
    const keep = [];
    let cum = 0;
    for (const c of cand) {
      keep.push(c);
      cum += c.w;
      if (cum >= p.topP * mass) break;
    }
    cand = keep;
  }
  const z = cand.reduce((a, c) => a + c.w, 0);
  return new Map(cand.map((c) => [c.id, c.w / z]));
}

/** Fraction of a fine, even grid of u values that maps to each token. */
function empirical(logits: number[], p: SamplingParams, n = 200_000): Map<number, number> {
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const { id } = sampleToken(logits, p, (i + 0.5) / n);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return new Map([...counts].map(([id, c]) => [id, c / n]));
}

const LOGITS = [1.2, -0.3, 2.5, 2.5, 0.0, -4.0, 1.9, 0.7];

describe('sampleToken', () => {
  it('is argmax at temperature 0, with ties going to the lowest id', () => {
    expect(argmax([0, 3, 1, 3])).toBe(1);
    for (const u of [0, 0.3, 0.999]) expect(sampleToken(LOGITS, { temperature: 0, topK: 0, topP: 1 }, u).id).toBe(2);
  });

  const cases: SamplingParams[] = [
    { temperature: 1, topK: 0, topP: 1 },
    { temperature: 0.5, topK: 0, topP: 1 },
    { temperature: 1.7, topK: 3, topP: 1 },
    { temperature: 1, topK: 0, topP: 0.8 },
    { temperature: 0.8, topK: 5, topP: 0.9 },
    { temperature: 1, topK: 1, topP: 1 },
    { temperature: 1, topK: 0, topP: 0.01 },
  ];
  for (const p of cases) {
    it(`draws from the temperature/top-k/top-p distribution (T=${p.temperature}, k=${p.topK}, p=${p.topP})`, () => {
      const ref = referenceDistribution(LOGITS, p);
      const n = 200_000;
      const emp = empirical(LOGITS, p, n);
      // Never outside the support; every token likely enough to be hit by the grid is hit.
      for (const id of emp.keys()) expect(ref.has(id)).toBe(true);
      for (const [id, prob] of ref) {
        if (prob > 5 / n) expect(emp.has(id)).toBe(true);
        expect(Math.abs((emp.get(id) ?? 0) - prob)).toBeLessThan(1e-4);
      }
    });
  }

  it('applies top-p to the top-k renormalised mass (Hugging Face order)', () => {
    // Top-2 of [3, 2.9, 2.8, ...]: top-p 0.6 of the top-2 mass needs both tokens; over the
    // full distribution the first token alone would pass a 0.6 * total threshold only if
    // applied before top-k, so the two orders give different support.
    const logits = [3, 2.9, -10, -10];
    const p = { temperature: 1, topK: 2, topP: 0.6 };
    expect([...referenceDistribution(logits, p).keys()].sort()).toEqual([0, 1]);
    expect([...empirical(logits, p, 20_000).keys()].sort()).toEqual([0, 1]);
  });

  it('reports the chosen token probability under the final distribution', () => {
    const p = { temperature: 1, topK: 3, topP: 1 };
    const ref = referenceDistribution(LOGITS, p);
    const t = sampleToken(LOGITS, p, 0.7);
    expect(t.prob).toBeCloseTo(ref.get(t.id)!, 12);
  });

  it('couples columns: the same draw picks the same token from nearly equal distributions', () => {
    const rng = createRng(3);
    const p = { temperature: 1, topK: 0, topP: 1 };
    let same = 0;
    let sameIndependent = 0;
    const n = 2000;
    for (let i = 0; i < n; i++) {
      const base = Array.from({ length: 64 }, () => 4 * rng());
      const noisy = base.map((l) => l + 0.01 * (rng() - 0.5));
      const u = rng();
      if (sampleToken(base, p, u).id === sampleToken(noisy, p, u).id) same++;
      if (sampleToken(base, p, u).id === sampleToken(noisy, p, rng()).id) sameIndependent++;
    }
    // Independent draws agree only when they happen to pick the same token (~1/20 here).
    expect(sameIndependent / n).toBeLessThan(0.2);
    expect(same / n).toBeGreaterThan(0.9);
  });

  it('rejects out-of-range parameters with a message naming them', () => {
    expect(checkSamplingParams({ temperature: -1, topK: 0, topP: 1 })).toMatch(/temperature/);
    expect(checkSamplingParams({ temperature: NaN, topK: 0, topP: 1 })).toMatch(/temperature/);
    expect(checkSamplingParams({ temperature: 1, topK: 2.5, topP: 1 })).toMatch(/top-k/);
    expect(checkSamplingParams({ temperature: 1, topK: 0, topP: 0 })).toMatch(/top-p/);
    expect(checkSamplingParams({ temperature: 1, topK: 0, topP: 1.5 })).toMatch(/top-p/);
    expect(checkSamplingParams({ temperature: 0.7, topK: 40, topP: 0.95 })).toBeUndefined();
  });
});

/**
 * Brute-force reference of the exact draw: weights exp((l - max) * (1 / T)) in float64, tokens
 * sorted by weight down and id up, every sum taken in that order (the total in id order), then
 * top-k, top-p over the top-k mass, and the first token whose running sum passes u * mass.
 */
function referencePick(logits: ArrayLike<number>, p: SamplingParams, u: number): { id: number; prob: number } {
  const V = logits.length;
  const xs = Array.from(logits);
  const invT = 1 / p.temperature;
  const max = Math.max(...xs.filter((x) => x === x));
  const w = xs.map((l) => Math.exp((l - max) * invT));
  let total = 0;
  for (const x of w) total += x;
  const order = xs.map((_, id) => id).sort((a, b) => w[b] - w[a] || a - b);
  const k = p.topK > 0 && p.topK < V ? p.topK : V;
  let cand = order.slice(0, k);
  let mass = 0;
  if (k < V) for (const id of cand) mass += w[id];
  else mass = total;
  if (p.topP < 1) {
    let cum = 0;
    let n = 0;
    while (n < cand.length && cum < p.topP * mass) cum += w[cand[n++]];
    cand = cand.slice(0, Math.max(1, n));
    mass = cum;
  }
  let cum = 0;
  for (const id of cand) {
    cum += w[id];
    if (cum > u * mass) return { id, prob: w[id] / mass };
  }
  const last = cand[cand.length - 1];
  return { id: last, prob: w[last] / mass };
}

describe('sampleToken draws exactly the reference token', () => {
  const rng = createRng(2024);
  const settings: SamplingParams[] = [
    { temperature: 0.8, topK: 40, topP: 0.95 },
    { temperature: 1, topK: 0, topP: 1 },
    { temperature: 0.7, topK: 0, topP: 0.9 },
    { temperature: 1.3, topK: 5, topP: 1 },
    { temperature: 0.05, topK: 100, topP: 0.5 },
    { temperature: 3, topK: 1, topP: 1 },
  ];
  const logitSets = (V: number): Float32Array[] => {
    const spread = Float32Array.from({ length: V }, () => (rng() - 0.5) * 12);
    const peaked = Float32Array.from({ length: V }, (_, i) => (rng() - 0.5) * 6 + (i % 97 === 3 ? 9 : 0));
    // Many exact ties and a few impossible tokens.
    const ties = Float32Array.from({ length: V }, () => (rng() < 0.02 ? -Infinity : Math.round((rng() - 0.5) * 6)));
    return [spread, peaked, ties];
  };
  for (const V of [7, 512, 49152]) {
    it(`over ${V} tokens, for top-k, top-p, both and neither, with ties and -inf logits`, () => {
      let checked = 0;
      for (const logits of logitSets(V)) {
        for (const p of settings) {
          for (const u of [rng(), rng(), 0, 0.999999999]) {
            const want = referencePick(logits, p, u);
            expect(sampleToken(logits, p, u)).toEqual(want);
            if (V <= 512) expect(sampleToken(Array.from(logits), p, u)).toEqual(want);
            checked++;
          }
        }
      }
      expect(checked).toBe(3 * settings.length * 4);
    }, 60_000); // the float64 reference sorts the whole vocabulary 72 times
  }

  it('refuses NaN or infinite logits with a message naming them (greedy still takes the argmax)', () => {
    for (const logits of [Float32Array.from([1, NaN, 3, 2]), [1, Infinity, 3, 2], Float32Array.from([NaN, NaN])]) {
      for (const p of settings) expect(() => sampleToken(logits, p, 0.5)).toThrow(/NaN or infinite logits/);
    }
    expect(sampleToken([1, NaN, 3, 2], { temperature: 0, topK: 0, topP: 1 }, 0.5).id).toBe(2);
  });
});

describe('createRng', () => {
  it('is reproducible per seed, differs across seeds, and is uniform on [0, 1)', () => {
    const a = createRng(42),
      b = createRng(42),
      c = createRng(43);
    const xs = Array.from({ length: 100_000 }, () => a());
    expect(Array.from({ length: 100_000 }, () => b())).toEqual(xs);
    expect(c()).not.toBe(xs[0]);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.005); // 5 sigma for 1e5 uniform draws is 0.0046
    const buckets = new Array(10).fill(0);
    for (const x of xs) buckets[Math.floor(x * 10)]++;
    for (const k of buckets) expect(Math.abs(k - 10_000)).toBeLessThan(600);
  });
});
