// The guided experiments: each one a question from a seed paper, the paper's finding with its
// conditions, and what a model as small as the built-in one can and cannot show about it. The
// measured side of each is computed from the runs (summary.ts); nothing here is a result.

export const PRESET_IDS = ['temperature', 'nf4-fp4', 'size-matched', 'methods'] as const;
export type PresetId = (typeof PRESET_IDS)[number];

export interface PresetDefinition {
  id: PresetId;
  /** The question, as a button's heading. */
  title: string;
  /** Authors, year and arXiv id. */
  paper: string;
  /** What the paper found, in plain words, with the conditions it found it under. */
  finding: string;
  /** What a tiny model can and cannot show about it. */
  tiny: string;
  /** A sampling sweep (generations scored by the baseline) or teacher-forced quality reports. */
  kind: 'sweep' | 'report';
}

export const PRESETS: Record<PresetId, PresetDefinition> = {
  temperature: {
    id: 'temperature',
    title: 'Does 4-bit hurt more at temperature 0.5 to 0.8?',
    paper: 'Roy 2023 (arXiv 2309.05210)',
    finding:
      '4-bit models (bitsandbytes nf4/fp4) were more sensitive to temperature between 0.5 and 0.8 than unquantized ones: their output quality changed more across that range (Llama-2 and Falcon, 7B and larger).',
    tiny: "Here every precision writes from the same seeds, and the unquantized model scores each text (its perplexity of it): the slope of that score against temperature is the sensitivity. A model of a few hundred thousand weights shows whether its 4-bit text drifts faster with temperature; it cannot show how a 7B model's answers change in quality, and its short texts give wide intervals unless you run more seeds.",
    kind: 'sweep',
  },
  'nf4-fp4': {
    id: 'nf4-fp4',
    title: 'Are nf4 and fp4 (and fp4 with double quantization) equal?',
    paper: 'Roy 2023 (arXiv 2309.05210)',
    finding:
      'nf4, fp4 and fp4 with double quantization were about equal in speed, memory and output quality (bitsandbytes 4-bit on Llama-2 and Falcon).',
    tiny: "Here each 4-bit code is scored against fp32 on the same text (KL divergence per token, teacher-forced), and the files are weighed. A tiny model shows whether the codes differ in how far they move its next-token distribution; its weights are few and not shaped like a 7B model's, so which code fits them better may not carry over, and double quantization saves a share of the scales that is larger or smaller than in a big model. Speed is not timed here: Measure floor in the latency panel times each loaded column.",
    kind: 'report',
  },
  'size-matched': {
    id: 'size-matched',
    title: 'Does a larger model at 4 bits beat a smaller one at high precision?',
    paper: 'Badshah & Sajjad 2024 (arXiv 2405.03146)',
    finding:
      'Larger models were resilient to 4-bit quantization and beat smaller models kept at high precision for the same memory (7B to 70B instruct models at 4, 8, 16 and 32 bits).',
    tiny: 'Here both models score the same text in bits per byte (comparable across tokenizers), and their files are weighed. It needs two trained models of different sizes; with small ones it shows the trade-off at a few megabytes, not at the 7B-70B scale of the paper, where redundancy in the larger model is what lets it lose bits.',
    kind: 'report',
  },
  methods: {
    id: 'methods',
    title: 'Do quantization methods differ at the same bits?',
    paper: 'Lee et al. 2024 (arXiv 2409.11055)',
    finding:
      'At the same bits, methods differ: weight-only 4-bit (GPTQ, AWQ) kept accuracy close to the unquantized model in large models (up to 405B), while small models lost more at 4 bits.',
    tiny: "Here each method's variant is scored against fp32 on the same text (KL divergence per token). A tiny model is the regime where the paper saw the most loss, so differences between methods show clearly; it cannot show the large-model behaviour, and a method calibrated on the same text it is scored on looks better than it is.",
    kind: 'report',
  },
};
