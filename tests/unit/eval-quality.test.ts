// The quality report's orchestration over stand-in models whose logits are known in closed
// form: which windows are fed and which positions scored, bits per byte, per-model failures,
// other tokenizers, cancellation, and the messages for bad input.
import { describe, expect, it } from 'vitest';
import type { EvalModel, LabeledModel, Logits } from '../../src/lib/eval/model';
import { evaluateQuality, type PrecisionQuality, type QualityOptions } from '../../src/lib/eval/quality';

const V = 8;
const BOS = 1;

/** A character-level toy tokenizer: BOS, then 'a'..'f' -> 2..7. */
const encodeChars = (text: string) => [BOS, ...[...text].map((c) => 2 + ((c.charCodeAt(0) - 97) % 6))];
const decodeChars = (ids: number[]) =>
  ids
    .filter((t) => t !== BOS)
    .map((t) => String.fromCharCode(95 + t))
    .join('');

interface Fake extends EvalModel {
  calls: number[][];
}

/**
 * A stand-in model: row j of a window puts logit `boost(j)` on the token that really follows
 * (it peeks, which is fine for a test) and 0 on the other V - 1 tokens, so
 * -ln P(next) = ln(e^boost + V - 1) - boost.
 */
function fake(boost: (row: number) => number, opts: Partial<EvalModel> = {}): Fake {
  const calls: number[][] = [];
  return {
    calls,
    async logits(ids: number[]): Promise<Logits> {
      calls.push(ids.slice());
      const data = new Float32Array(ids.length * V);
      for (let j = 0; j + 1 < ids.length; j++) data[j * V + ids[j + 1]] = boost(j);
      return { data, vocab: V };
    },
    encode: encodeChars,
    decode: decodeChars,
    bosId: () => BOS,
    generate: () => Promise.reject(new Error('not used')),
    ...opts,
  };
}

const nllOf = (b: number) => Math.log(Math.exp(b) + V - 1) - b;
const ok = (e: unknown) => e as PrecisionQuality;
const TEXT = 'abcdefabcdefabcdefabc'; // 21 characters -> 22 tokens with BOS

function opts(models: LabeledModel[], extra: Partial<QualityOptions> = {}): QualityOptions {
  return { text: TEXT, models, baseline: 'fp32', ctx: 6, ...extra };
}

describe('evaluateQuality', () => {
  it('feeds floor(n / ctx) windows with BOS first and scores rows floor(ctx/2) .. ctx-2', async () => {
    const base = fake(() => 2);
    const q = fake((j) => j); // the row index as boost: tells which rows were scored
    const r = await evaluateQuality(
      opts([
        { label: 'fp32', model: base },
        { label: 'q', model: q },
      ]),
    );
    const tokens = encodeChars(TEXT);
    expect(r.tokens).toBe(22);
    expect(r.windows).toBe(3); // 22 / 6
    expect(r.bos).toBe(BOS);
    expect(base.calls).toEqual([0, 6, 12].map((s) => [BOS, ...tokens.slice(s + 1, s + 6)]));
    const b = ok(r.results.fp32);
    const x = ok(r.results.q);
    // ctx 6: first = 3, rows 3 and 4 scored (predicting window tokens 4 and 5), 2 per window.
    expect(b.count).toBe(6);
    expect(b.ppl).toBeCloseTo(Math.exp(nllOf(2)), 12);
    expect(x.nll_sum).toBeCloseTo(3 * (nllOf(3) + nllOf(4)), 12);
    expect(x.ppl_ratio).toBeCloseTo(Math.exp((nllOf(3) + nllOf(4)) / 2 - nllOf(2)), 12);
    expect(x.comparable).toBe(true);
    // Scored tokens are text characters 4, 5 of each window ('de', 'cd' ... one byte each): 6 bytes.
    expect(b.bytes).toBe(6);
    expect(b.bits_per_byte).toBeCloseTo((6 * nllOf(2)) / Math.LN2 / 6, 12);
  });

  it('matches a direct KL computation on a 2-window toy and gives the baseline KLD 0 and same-top 100 %', async () => {
    const r = await evaluateQuality(
      opts(
        [
          { label: 'fp32', model: fake(() => 2) },
          { label: 'q', model: fake(() => 1) },
        ],
        { ctx: 8 },
      ),
    );
    // P: e^2 on the true token, 1 on 7 others; Q: e^1 vs 1. KL = sum_i P_i ln(P_i / Q_i).
    const zp = Math.exp(2) + 7;
    const zq = Math.exp(1) + 7;
    const kl =
      (Math.exp(2) / zp) * Math.log(Math.exp(2) / zp / (Math.exp(1) / zq)) + 7 * (1 / zp) * Math.log(1 / zp / (1 / zq));
    const q = ok(r.results.q);
    expect(q.kld_mean).toBeCloseTo(kl, 12);
    expect(q.kld_max).toBeCloseTo(kl, 12);
    expect(q.mean_dp).toBeCloseTo(Math.exp(1) / zq - Math.exp(2) / zp, 12);
    expect(q.same_top_pct).toBe(100);
    const b = ok(r.results.fp32);
    expect([b.kld_mean, b.kld_max, b.rms_dp, b.ln_ppl_ratio]).toEqual([0, 0, 0, 0]);
    expect(b.same_top_pct).toBe(100);
  });

  it('keeps working when one precision fails, and names NaN logits', async () => {
    const broken = fake(() => 1, { logits: () => Promise.reject(new Error('session lost')) });
    const nan = fake(() => NaN);
    const inf = fake((j) => (j === 4 ? Infinity : 1));
    const r = await evaluateQuality(
      opts([
        { label: 'fp32', model: fake(() => 2) },
        { label: 'x', model: broken },
        { label: 'fp16', model: nan },
        { label: 'q4f16', model: inf },
      ]),
    );
    expect(ok(r.results.fp32).count).toBe(6);
    expect(r.results.x).toEqual({ error: { code: 'internal', message: 'session lost' } });
    expect((r.results.fp16 as { error: { message: string } }).error.message).toMatch(
      /fp16 produced NaN or infinite logits \(at token 3 of the text\)/,
    );
    expect((r.results.q4f16 as { error: { message: string } }).error.message).toMatch(
      /q4f16 produced NaN or infinite logits \(at token 4 of the text\)/,
    );
    await expect(evaluateQuality(opts([{ label: 'fp32', model: inf }]))).rejects.toThrow(
      /fp32 produced NaN or infinite logits/,
    );
  });

  it('scores a model with another tokenizer on its own windows, perplexity only', async () => {
    // Two tokens per character: a different token sequence, so no position-wise comparison.
    const other = fake(() => 2, {
      encode: (t: string) => [BOS, ...[...t].flatMap((c) => [2, 2 + ((c.charCodeAt(0) - 97) % 6)])],
    });
    const r = await evaluateQuality(
      opts([
        { label: 'fp32', model: fake(() => 2) },
        { label: 'other', model: other },
      ]),
    );
    const o = ok(r.results.other);
    expect(o.comparable).toBe(false);
    expect(o.count).toBe(7 * 2); // 43 tokens / 6 = 7 windows
    expect(o.ppl).toBeCloseTo(Math.exp(nllOf(2)), 12);
    expect(o.kld_mean).toBeNaN();
    expect(o.same_top_pct).toBeNaN();
  });

  it('stops between windows when cancelled and returns what it has', async () => {
    const ctrl = new AbortController();
    const seen: number[] = [];
    const r = await evaluateQuality(
      opts([{ label: 'fp32', model: fake(() => 2) }], {
        signal: ctrl.signal,
        onProgress: (p) => {
          if (p.status === 'window') {
            seen.push(p.done);
            if (p.done === 1) ctrl.abort();
          } else seen.push(-1);
        },
      }),
    );
    expect(r.cancelled).toBe(true);
    expect([r.windows, r.windows_total]).toEqual([1, 3]);
    expect(ok(r.results.fp32).count).toBe(2);
    expect(seen).toEqual([1, -1]);
  });

  it('rejects bad input with a message naming the problem', async () => {
    const m = [{ label: 'fp32', model: fake(() => 1) }];
    await expect(evaluateQuality(opts(m, { text: '' }))).rejects.toThrow(/text is empty/);
    await expect(evaluateQuality(opts(m, { text: '  \n ' }))).rejects.toThrow(/text is empty/);
    await expect(evaluateQuality(opts(m, { text: 'abcd' }))).rejects.toThrow(
      'The text is too short: it has 5 tokens and one window of context 6 needs 6',
    );
    await expect(evaluateQuality(opts(m, { ctx: NaN }))).rejects.toThrow(
      /Context length must be a whole number >= 3 \(got NaN\)/,
    );
    await expect(evaluateQuality(opts(m, { ctx: -4 }))).rejects.toThrow(/got -4/);
    await expect(evaluateQuality(opts(m, { ctx: 2.5 }))).rejects.toThrow(/got 2.5/);
    await expect(evaluateQuality(opts(m, { maxWindows: 0 }))).rejects.toThrow(/windows must be a whole number/);
    await expect(evaluateQuality(opts([{ label: 'q4', model: fake(() => 1) }]))).rejects.toThrow(
      'Baseline "fp32" is not among the loaded precisions (q4)',
    );
    await expect(evaluateQuality(opts([...m, ...m]))).rejects.toThrow(/"fp32" is listed twice/);
  });
});
