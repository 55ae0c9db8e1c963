// One table of what every figure on the page means: what it measures, which way is better, and a
// typical value (the quality figures measured by the lab's own engine on the built-in model, see
// TYPICAL_RUN). MetricTerm.svelte shows an entry on hover and keyboard focus; the help panel lists them.

/** The figures the page explains. */
export type MetricKey =
  | 'kld_mean'
  | 'kld_pct'
  | 'same_top_pct'
  | 'ppl'
  | 'bits_per_byte'
  | 'ppl_ratio'
  | 'ln_ppl_ratio'
  | 'delta_p'
  | 'bits_per_weight'
  | 'floor_ratio'
  | 'decode_tps'
  | 'prefill_tps'
  | 'first_token'
  | 'load'
  | 'median_ms'
  | 'ceiling'
  | 'first_difference';

/** Which way a figure is better. */
export type Better = 'lower' | 'higher' | 'closer to 1' | 'closer to 0' | 'neither';

export interface MetricDefinition {
  /** Short name as the page writes it. */
  term: string;
  /** What it measures, one or two sentences. */
  measures: string;
  better: Better;
  /** A typical value, with where it comes from. */
  typical: string;
}

/**
 * The run the quality figures' typical values come from: the lab's report (`quantlab eval`, the
 * same engine) of aidreams260K on the lab's built-in sample, window 128, fp32 as the baseline.
 * tests/unit/metric-definitions.test.ts reruns it and checks the quoted values.
 */
export const TYPICAL_RUN = {
  ctx: 128,
  /** The quoted values per precision, rounded as the text quotes them. */
  values: {
    q8: { kld_mean: 0.005, same_top_pct: 95, ppl_ratio: 1.01, rms_dp_points: 1 },
    q4: { kld_mean: 0.05, same_top_pct: 84, ppl_ratio: 1.02, rms_dp_points: 3, p99_over_mean: 6 },
    fp32: { ppl: 157, bits_per_byte: 3.9 },
  },
} as const;

const ON_BUILTIN = 'aidreams260K on the lab sample';

export const METRICS: Record<MetricKey, MetricDefinition> = {
  kld_mean: {
    term: 'mean KLD',
    measures:
      "Kullback-Leibler divergence of this precision's next-token distribution from the baseline's, in nats, averaged over the scored tokens: how much information is lost per token.",
    better: 'lower',
    typical: `q8 about 0.005, q4 about 0.05 (${ON_BUILTIN}); 0 means identical distributions.`,
  },
  kld_pct: {
    term: 'KLD percentiles',
    measures:
      'The KL divergence at the worst (max, 99.9 %, 99 %, ...) and best (1 %, min) scored tokens: where the mean hides rare large departures.',
    better: 'lower',
    typical: `q4's 99 % is about 6x its mean (${ON_BUILTIN}).`,
  },
  same_top_pct: {
    term: 'same top %',
    measures:
      "Share of scored tokens where this precision's most likely next token is the baseline's: how often greedy decoding would agree at a position.",
    better: 'higher',
    typical: `q8 about 95 %, q4 about 84 % (${ON_BUILTIN}); 100 % for the baseline itself.`,
  },
  ppl: {
    term: 'perplexity (PPL)',
    measures:
      'exp of the mean negative log-likelihood of the text: roughly how many tokens the model hesitates between at each step.',
    better: 'lower',
    typical: `about 157 for aidreams260K (a 260K-parameter toy) on the lab sample; large models score 5 to 20 on plain English.`,
  },
  bits_per_byte: {
    term: 'bits/byte',
    measures: 'Bits the model needs per byte of text: perplexity made comparable across tokenizers.',
    better: 'lower',
    typical: `about 3.9 for aidreams260K on the lab sample; 8 would be no better than raw bytes.`,
  },
  ppl_ratio: {
    term: 'PPL ratio',
    measures: "This precision's perplexity divided by the baseline's on the same tokens: 1 means no loss.",
    better: 'closer to 1',
    typical: `q8 about 1.01, q4 about 1.02 (${ON_BUILTIN}).`,
  },
  ln_ppl_ratio: {
    term: 'ln(PPL/PPL base)',
    measures: 'The log of the perplexity ratio: the mean difference in log-likelihood per token, in nats.',
    better: 'closer to 0',
    typical: 'near 0 for 8-bit, a few hundredths for 4-bit on the built-in model; 0 means no loss.',
  },
  delta_p: {
    term: 'Δp',
    measures:
      "Change in the probability given to the text's actual next token, in percentage points (mean: bias; RMS: typical size).",
    better: 'closer to 0',
    typical: `RMS about 1 point for q8, 3 points for q4 (${ON_BUILTIN}).`,
  },
  bits_per_weight: {
    term: 'bits per weight',
    measures:
      'Storage per weight of the quantized matrices (scales and zero points included), then over the whole model file. bf16 rounds values to bfloat16 but stores them as fp32, so its file is 32 bits per weight.',
    better: 'lower',
    typical: 'fp32 32, fp16 16, q8 about 8, q4 about 4.5 to 5 (with block scales).',
  },
  floor_ratio: {
    term: 'floor ratio',
    measures:
      "The column's greedy decode speed divided by a raw ONNX Runtime loop on the same session and tokens (Measure floor): how much the page's own loop costs.",
    better: 'closer to 1',
    typical: '0.6 to 1.0 on a 2-core machine; per-run timings spread widely on a busy machine.',
  },
  decode_tps: {
    term: 'decode tok/s',
    measures: 'New tokens per second after the first one: the steady generation speed.',
    better: 'higher',
    typical:
      'hundreds per second for aidreams260K on WASM; 4-bit can be slower than 8-bit on WASM (no 4-bit SIMD kernels).',
  },
  prefill_tps: {
    term: 'prefill tok/s',
    measures: 'Prompt tokens read per second before the first new token.',
    better: 'higher',
    typical: 'usually several times the decode speed: the prompt is read in one pass.',
  },
  first_token: {
    term: 'first token',
    measures: 'Milliseconds from pressing Generate to the first new token (reading the prompt included).',
    better: 'lower',
    typical: 'tens of ms for the built-in model on WASM.',
  },
  load: {
    term: 'load',
    measures: 'Milliseconds to fetch the files and create the ONNX Runtime session of this precision.',
    better: 'lower',
    typical: 'under a second for the built-in model; seconds to minutes for Hub models being downloaded.',
  },
  median_ms: {
    term: 'median ms/tok',
    measures: 'The median time per new token: robust to the odd slow token the chart shows as a spike.',
    better: 'lower',
    typical: 'a few ms per token for the built-in model on WASM.',
  },
  ceiling: {
    term: 'ceiling tok/s',
    measures:
      'Memory bandwidth divided by the model file size: the decode speed possible if reading every weight once per token were the only cost.',
    better: 'higher',
    typical: 'thousands of tokens/s for small models; real speed is a fraction of it.',
  },
  first_difference: {
    term: 'first difference',
    measures:
      'The first generated token where this column writes something other than the fp32 column, with the same prompt, settings and seed.',
    better: 'neither',
    typical: 'later is closer to fp32; at temperature 0 8-bit often matches for dozens of tokens.',
  },
};

/** "Lower is better." and the like. */
export function betterSentence(b: Better): string {
  if (b === 'neither') return 'Neither direction is better in itself.';
  if (b === 'closer to 1' || b === 'closer to 0') return `${b[0].toUpperCase()}${b.slice(1)} is better.`;
  return `${b === 'lower' ? 'Lower' : 'Higher'} is better.`;
}

/** The whole definition as one text: what it measures, the direction of better, a typical value. */
export function describeMetric(key: MetricKey): string {
  const m = METRICS[key];
  return `${m.measures} ${betterSentence(m.better)} Typical: ${m.typical}`;
}

/** The definition a quality-report column (its data-k) falls under. */
export function metricOfReportColumn(dataK: string): MetricKey | undefined {
  if (dataK === 'kld_mean') return 'kld_mean';
  if (dataK.startsWith('kld_')) return 'kld_pct';
  if (dataK === 'mean_dp' || dataK === 'rms_dp') return 'delta_p';
  if (dataK in METRICS) return dataK as MetricKey;
  return undefined;
}
