// A guided experiment's result in plain words: the figures behind the paper's claim computed from
// this run's rows or reports (a slope or a difference with its 95 % interval), a verdict that
// follows from the interval, the conditions it was measured under, and the chart's data.

import type { PrecisionEntry, QualityReport } from '../eval/quality';
import type { SweepRow } from '../eval/sweep';
import { formatBytes } from '../variants/info';
import { PRESETS, type PresetId } from './definitions';
import { difference, meanInterval, normalInterval, sign, slope, type Estimate } from './interval';
import type { PresetPlan, PresetStep } from './plan';

export type Verdict = 'agrees' | 'disagrees' | 'inconclusive';

/** One line per precision against x, with a band (its 95 % interval). */
export interface LineChart {
  kind: 'line';
  title: string;
  xLabel: string;
  yLabel: string;
  x: number[];
  series: { label: string; mean: (number | null)[]; lo: (number | null)[]; hi: (number | null)[] }[];
}

/** One bar per precision with its 95 % interval as a whisker. */
export interface BarsChart {
  kind: 'bars';
  title: string;
  yLabel: string;
  bars: { label: string; value: number; lo: number | null; hi: number | null }[];
}

export type PresetChart = LineChart | BarsChart;

export interface PresetOutcome {
  id: PresetId;
  paper: string;
  /** The paper's finding. */
  finding: string;
  /** What this run measured, in words, every figure from the data. */
  measured: string;
  verdict: Verdict;
  /** Model, text, runs (and random weights when so). */
  conditions: string;
  randomWeights: boolean;
  /** What a tiny model can and cannot show. */
  tiny: string;
  chart: PresetChart;
  /** The figures behind the sentence. */
  stats: Record<string, Estimate | number | string>;
  at: string;
}

const num = (x: number | null | undefined) => (typeof x === 'number' && Number.isFinite(x) ? x : null);

/** 3 significant digits, no exponent for everyday sizes: 0.0123, 1.23, 123. */
export function fmt(x: number, signed = false): string {
  if (!Number.isFinite(x)) return 'n/a';
  const a = Math.abs(x);
  const s = a === 0 ? '0' : a >= 1000 ? Math.round(a).toLocaleString('en-US') : String(Number(a.toPrecision(3)));
  const neg = x < 0 && s !== '0';
  return `${neg ? '−' : signed ? '+' : ''}${s}`;
}

/** "0.0123 (95 % interval 0.011 to 0.0136)", or the value alone when there is no interval. */
export function withInterval(e: Estimate, signed = false): string {
  if (!Number.isFinite(e.lo) || !Number.isFinite(e.hi)) return `${fmt(e.mean, signed)} (no interval: too few values)`;
  return `${fmt(e.mean, signed)} (95 % interval ${fmt(e.lo, signed)} to ${fmt(e.hi, signed)})`;
}

const RANDOM =
  'RANDOM WEIGHTS: this model was never trained, so these figures describe noise, not how quantization affects language';

function modelWords(s: PresetStep): string {
  return `${s.modelName}${s.randomWeights ? ` (${RANDOM})` : ''}`;
}

function combine(verdicts: Verdict[]): Verdict {
  if (verdicts.length && verdicts.every((v) => v === 'agrees')) return 'agrees';
  if (verdicts.length && verdicts.every((v) => v === 'disagrees')) return 'disagrees';
  return 'inconclusive';
}

function outcome(
  plan: PresetPlan,
  body: Pick<PresetOutcome, 'measured' | 'verdict' | 'conditions' | 'chart' | 'stats'>,
): PresetOutcome {
  const d = PRESETS[plan.id];
  return {
    id: plan.id,
    paper: d.paper,
    finding: d.finding,
    tiny: d.tiny,
    randomWeights: plan.steps.some((s) => s.randomWeights),
    at: new Date().toISOString(),
    ...body,
  };
}

/**
 * Roy 2023's temperature sensitivity from a sweep: for each seed, the slope against temperature of
 * the baseline's log-perplexity of each precision's text (and of its difference from the
 * baseline's own text at the same seed); the slopes' mean over seeds with a t interval, scaled to
 * the swept range.
 */
export function summariseTemperature(plan: PresetPlan, rows: readonly SweepRow[]): PresetOutcome {
  const s = plan.steps[0];
  const grid = plan.grid!;
  const temps = [...grid.temperatures].sort((a, b) => a - b);
  const span = temps[temps.length - 1] - temps[0];
  const base = s.labels[s.baseline];
  const labels = s.variants.map((v) => s.labels[v]);
  // lnPpl[label][seed][temperature index]
  const ln = new Map<string, Map<number, number[]>>();
  for (const r of rows) {
    if (r.error) continue;
    const i = temps.indexOf(r.temperature);
    if (i < 0) continue;
    const bySeed = ln.get(r.dtype) ?? new Map<number, number[]>();
    const arr = bySeed.get(r.seed) ?? temps.map(() => NaN);
    arr[i] = r.ref_ppl > 0 ? Math.log(r.ref_ppl) : NaN;
    bySeed.set(r.seed, arr);
    ln.set(r.dtype, bySeed);
  }
  const seeds = [...new Set(rows.map((r) => r.seed))].sort((a, b) => a - b);
  const at = (label: string, seed: number) => ln.get(label)?.get(seed) ?? temps.map(() => NaN);
  const rise = (ys: (seed: number) => number[]) => {
    const e = meanInterval(seeds.map((sd) => slope(temps, ys(sd)) * span));
    return e;
  };
  const own = Object.fromEntries(labels.map((l) => [l, rise((sd) => at(l, sd))]));
  const stats: Record<string, Estimate | number | string> = { seeds: seeds.length, temperature_span: span };
  for (const l of labels) stats[`rise_${l}`] = own[l];
  const parts = [
    `From temperature ${temps[0]} to ${temps[temps.length - 1]}, ${base}'s log-perplexity (nats per token) of its own text changed by ${withInterval(own[base], true)}.`,
  ];
  const verdicts: Verdict[] = [];
  for (const l of labels.filter((x) => x !== base)) {
    const d = rise((sd) => {
      const a = at(l, sd);
      const b = at(base, sd);
      return a.map((x, i) => x - b[i]);
    });
    stats[`extra_rise_${l}`] = d;
    const side = sign(d);
    const v: Verdict = side === 'above' ? 'agrees' : side === 'below' ? 'disagrees' : 'inconclusive';
    verdicts.push(v);
    parts.push(
      `${l}'s rise minus ${base}'s, seed by seed: ${withInterval(d, true)}: ${
        v === 'agrees'
          ? 'more sensitive to temperature, as the paper found'
          : v === 'disagrees'
            ? 'less sensitive than the unquantized model, unlike the paper'
            : Number.isFinite(d.lo)
              ? `no difference detectable with ${d.n} seeds (the interval includes 0)`
              : 'too few seeds for an interval'
      }.`,
    );
  }
  const series = labels.map((l) => {
    const cols = temps.map((_, i) => meanInterval(seeds.map((sd) => at(l, sd)[i])));
    return {
      label: l,
      mean: cols.map((e) => num(e.mean)),
      lo: cols.map((e) => num(e.lo)),
      hi: cols.map((e) => num(e.hi)),
    };
  });
  const runs = temps.length * seeds.length;
  return outcome(plan, {
    measured: parts.join(' '),
    verdict: combine(verdicts),
    conditions: `${modelWords(s)}; prompt “${grid.prompt}”; temperatures ${temps.join(', ')} × ${seeds.length} seeds = ${runs} runs per precision (${labels.join(', ')}), ${grid.maxNewTokens[0]} new tokens each, top-k and top-p off; every text scored by ${base}.`,
    chart: {
      kind: 'line',
      title: `${base}'s log-perplexity of each precision's text`,
      xLabel: 'temperature',
      yLabel: `ln PPL under ${base} (nats/token)`,
      x: temps,
      series,
    },
    stats,
  });
}

type Ok = Exclude<PrecisionEntry, { error: unknown }>;
const okEntry = (e: PrecisionEntry | undefined): e is Ok => !!e && !('error' in e);

function failures(r: QualityReport, labels: string[]): string {
  const bad = labels.filter((l) => !okEntry(r.results[l]));
  return bad
    .map((l) => {
      const e = r.results[l];
      return `${l} gave no result${e && 'error' in e ? ` (${e.error.message})` : ''}.`;
    })
    .join(' ');
}

function reportConditions(s: PresetStep[], r: QualityReport[], plan: PresetPlan): string {
  const what = s.map(
    (x, i) =>
      `${modelWords(x)}: ${x.variants.map((v) => x.labels[v]).join(', ')} (${r[i].windows} windows of ${r[i].ctx} tokens)`,
  );
  return `${what.join('; ')}; the lab's built-in sample text (${plan.text?.length ?? 0} characters), teacher-forced, scored as llama.cpp's perplexity tool does (second half of each window).`;
}

function kldBars(s: PresetStep, r: QualityReport, stems: string[]): { role: string; label: string; e: Estimate }[] {
  return stems
    .filter((v) => okEntry(r.results[s.labels[v]]))
    .map((v) => {
      const e = r.results[s.labels[v]] as Ok;
      return { role: s.roles[v], label: s.labels[v], e: normalInterval(e.kld_mean, e.kld_se, e.count) };
    });
}

const barChart = (title: string, yLabel: string, xs: { role: string; e: Estimate }[]): BarsChart => ({
  kind: 'bars',
  title,
  yLabel,
  bars: xs.map((x) => ({ label: x.role, value: x.e.mean, lo: num(x.e.lo), hi: num(x.e.hi) })),
});

/** "; fp4's is 1.83× nf4's" for a ratio of two mean KLDs. */
const w0 = (ratio: number, a: string, b: string) => (Number.isFinite(ratio) ? `; ${a}'s is ${fmt(ratio)}× ${b}'s` : '');

function diffWords(d: Estimate, a: string, b: string, extra = ''): { v: Verdict; text: string } {
  const side = sign(d);
  if (!Number.isFinite(d.lo))
    return { v: 'inconclusive', text: `${a} minus ${b}: ${fmt(d.mean, true)} (no interval: too few positions).` };
  if (side === 'includes')
    return { v: 'agrees', text: `${a} minus ${b}: ${withInterval(d, true)}, no difference detected.` };
  return {
    v: 'disagrees',
    text: `${a} minus ${b}: ${withInterval(d, true)}, so ${side === 'above' ? b : a} stayed closer to the baseline here${extra}.`,
  };
}

/** Roy 2023's nf4 = fp4 = fp4 with double quantization, from one report against fp32. */
export function summariseNf4Fp4(plan: PresetPlan, r: QualityReport): PresetOutcome {
  const s = plan.steps[0];
  const base = s.labels[s.baseline];
  const quant = s.variants.filter((v) => v !== s.baseline);
  const bars = kldBars(s, r, quant);
  const by = new Map(bars.map((b) => [b.role, b]));
  const stats: Record<string, Estimate | number | string> = {};
  for (const b of bars) stats[`kld_${b.role}`] = b.e;
  const parts = [
    `Mean KL divergence from ${base} per token: ${bars.map((b) => `${b.role} ${withInterval(b.e)}`).join('; ')}.`,
  ];
  const verdicts: Verdict[] = [];
  const pairs: [string, string][] = [
    ['fp4', 'nf4'],
    ['fp4 dq', 'fp4'],
  ];
  for (const [a, b] of pairs) {
    const x = by.get(a);
    const y = by.get(b);
    if (!x || !y) continue;
    const d = difference(x.e, y.e);
    stats[`kld_${a}_minus_${b}`] = d;
    const w = diffWords(d, a, b, w0(x.e.mean / y.e.mean, a, b));
    verdicts.push(w.v);
    parts.push(w.text);
  }
  const sizes = quant.map((v) => `${s.roles[v]} ${formatBytes(s.bytes[v]) || 'size unknown'}`);
  parts.push(`Files: ${sizes.join(', ')}.`);
  const fail = failures(
    r,
    quant.map((v) => s.labels[v]),
  );
  if (fail) parts.push(fail);
  // "About equal" holds only if no pair differs: one detected difference contradicts it.
  const verdict: Verdict = verdicts.includes('disagrees') ? 'disagrees' : combine(verdicts);
  return outcome(plan, {
    measured: parts.join(' '),
    verdict,
    conditions: reportConditions([s], [r], plan),
    chart: barChart(`Mean KL divergence from ${base} (nats per token)`, 'mean KLD', bars),
    stats,
  });
}

/** Lee et al. 2024: methods at the same bits, each against fp32, and each against round-to-nearest. */
export function summariseMethods(plan: PresetPlan, r: QualityReport): PresetOutcome {
  const s = plan.steps[0];
  const base = s.labels[s.baseline];
  const quant = s.variants.filter((v) => v !== s.baseline);
  const bars = kldBars(s, r, quant);
  const stats: Record<string, Estimate | number | string> = {};
  for (const b of bars) stats[`kld_${b.role}`] = b.e;
  const parts = [
    `At the same bits (${quant.map((v) => s.labels[v]).join(', ')}), mean KL divergence from ${base} per token: ${bars
      .map((b) => `${b.role} ${withInterval(b.e)}`)
      .join('; ')}.`,
  ];
  const rtn = bars.find((b) => b.role === 'RTN');
  const verdicts: Verdict[] = [];
  if (rtn) {
    for (const b of bars.filter((x) => x !== rtn)) {
      const d = difference(b.e, rtn.e);
      stats[`kld_${b.role}_minus_RTN`] = d;
      const side = sign(d);
      verdicts.push(side === 'below' ? 'agrees' : side === 'above' ? 'disagrees' : 'inconclusive');
      parts.push(
        `${b.role} minus RTN: ${withInterval(d, true)}: ${
          side === 'below'
            ? `${b.role} moved the model less than round-to-nearest`
            : side === 'above'
              ? `${b.role} moved it more than round-to-nearest`
              : 'no difference detected'
        }.`,
      );
    }
  } else {
    const sorted = [...bars].sort((a, b) => a.e.mean - b.e.mean);
    if (sorted.length >= 2) {
      const d = difference(sorted[1].e, sorted[0].e);
      stats[`kld_${sorted[1].role}_minus_${sorted[0].role}`] = d;
      const w = diffWords(d, sorted[1].role, sorted[0].role);
      verdicts.push(w.v === 'disagrees' ? 'agrees' : 'inconclusive');
      parts.push(w.text);
    }
  }
  const fail = failures(
    r,
    quant.map((v) => s.labels[v]),
  );
  if (fail) parts.push(fail);
  const verdict = verdicts.includes('agrees') ? 'agrees' : combine(verdicts);
  return outcome(plan, {
    measured: parts.join(' '),
    verdict,
    conditions: reportConditions([s], [r], plan),
    chart: barChart(`Mean KL divergence from ${base} at the same bits (nats per token)`, 'mean KLD', bars),
    stats,
  });
}

/** Bits per byte with its standard error (from ln PPL's: bpb = ln_ppl x count / ln 2 / text bytes). */
function bitsPerByte(e: Ok): Estimate {
  return normalInterval(e.bits_per_byte, (e.ln_ppl_se * e.count) / Math.LN2 / e.bytes, e.count);
}

/** Badshah & Sajjad 2024: the larger model at its fewest bits against the smaller at high precision, same text. */
export function summariseSizeMatched(plan: PresetPlan, reports: readonly QualityReport[]): PresetOutcome {
  const [L, S] = plan.steps;
  const [rl, rs] = reports;
  const lv = L.variants[0];
  const sv = S.variants[0];
  const el = rl.results[L.labels[lv]];
  const es = rs.results[S.labels[sv]];
  const conditions = reportConditions(plan.steps, [...reports], plan);
  const chartOf = (bars: { role: string; e: Estimate }[]) =>
    barChart('Bits per byte of the same text (lower is better)', 'bits per byte', bars);
  if (!okEntry(el) || !okEntry(es)) {
    return outcome(plan, {
      measured: `${failures(rl, [L.labels[lv]])} ${failures(rs, [S.labels[sv]])}`.trim(),
      verdict: 'inconclusive',
      conditions,
      chart: chartOf([]),
      stats: {},
    });
  }
  const bl = bitsPerByte(el);
  const bs = bitsPerByte(es);
  const d = difference(bs, bl);
  const sizeL = L.bytes[lv];
  const sizeS = S.bytes[sv];
  const ratio = sizeL !== undefined && sizeS !== undefined ? sizeL / sizeS : NaN;
  const matched = Number.isFinite(ratio) && ratio <= 1.25;
  const side = sign(d);
  const verdict: Verdict = side === 'below' ? 'disagrees' : side === 'above' && matched ? 'agrees' : 'inconclusive';
  const nameL = `${L.modelName} at ${L.labels[lv]} (${formatBytes(sizeL) || 'size unknown'})`;
  const nameS = `${S.modelName} at ${S.labels[sv]} (${formatBytes(sizeS) || 'size unknown'})`;
  const parts = [
    `The larger model, ${nameL}, scored ${withInterval(bl)} bits per byte; the smaller, ${nameS}, scored ${withInterval(bs)}.`,
    `Smaller minus larger: ${withInterval(d, true)}: ${
      side === 'above'
        ? 'the larger model at low bits was better'
        : side === 'below'
          ? 'the smaller model at high precision was better, unlike the paper'
          : 'no difference detected'
    }${Number.isFinite(ratio) ? `, with ${fmt(ratio)}× the memory` : ''}.`,
  ];
  if (!matched && Number.isFinite(ratio))
    parts.push(
      "The files are not matched in size (the larger model is over 1.25× the smaller one), so this is not the paper's comparison.",
    );
  return outcome(plan, {
    measured: parts.join(' '),
    verdict,
    conditions,
    chart: chartOf([
      { role: `${L.modelName} ${L.labels[lv]}`, e: bl },
      { role: `${S.modelName} ${S.labels[sv]}`, e: bs },
    ]),
    stats: { bpb_larger: bl, bpb_smaller: bs, smaller_minus_larger: d, size_ratio: ratio },
  });
}
