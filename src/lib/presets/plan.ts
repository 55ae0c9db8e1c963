// Which model and precisions each guided experiment runs, decided from the models the page can
// open (so a new variant or a second model turns a preset on without code changes), or why it
// cannot run; and its size (runs x tokens), bounded and estimated before it starts.

import { count, describeSweep, planSweep } from '../eval/plan';
import type { SweepGrid } from '../eval/sweep';
import { FP32_STEM, variantFromStem, type VariantInfo } from '../variants/table';
import type { PresetId } from './definitions';

/** A model as the presets see it: its variants (empty when not known yet) and whether its weights are random. */
export interface PresetModel {
  key: string;
  name: string;
  randomWeights: boolean;
  variants: readonly VariantInfo[];
}

/** How big a sweep preset is: seeds per temperature and new tokens per generation. */
export interface PresetSize {
  runs: number;
  tokens: number;
}

export const SIZE_RANGES = {
  runs: { min: 2, max: 32, default: 8, label: 'Seeds per temperature' },
  tokens: { min: 4, max: 96, default: 32, label: 'New tokens per run' },
} as const;

export const DEFAULT_SIZE: PresetSize = { runs: SIZE_RANGES.runs.default, tokens: SIZE_RANGES.tokens.default };

/** The temperatures of Roy 2023's sensitive range. */
export const PRESET_TEMPERATURES = [0.5, 0.6, 0.7, 0.8];
export const PRESET_PROMPT = 'I dreamed';

/** One model's part of a preset: load these variants as columns, then run the lab with this baseline. */
export interface PresetStep {
  modelKey: string;
  modelName: string;
  randomWeights: boolean;
  /** Variant stems, the baseline first. */
  variants: string[];
  baseline: string;
  /** Each stem's label in the lab's results (the variant label; the stem where two labels clash). */
  labels: Record<string, string>;
  /** Each stem's role in the finding: '4-bit', 'unquantized', 'nf4', 'fp4', 'fp4 dq', a method, 'larger', 'smaller'. */
  roles: Record<string, string>;
  /** Each stem's file size in bytes, when known. */
  bytes: Record<string, number | undefined>;
}

export interface PresetPlan {
  id: PresetId;
  kind: 'sweep' | 'report';
  steps: PresetStep[];
  /** The sweep (sweep presets). */
  grid?: SweepGrid;
  /** The text scored (report presets). */
  text?: string;
  /** Runs (generations or scoring passes) and the tokens they handle at most. */
  runs: number;
  tokens: number;
  /** The plan in words, shown before it starts. */
  estimate: string;
  /** Why another model than the current one is used, when it is. */
  note?: string;
}

export type Availability = { ok: true; plan: PresetPlan } | { ok: false; reason: string };

const clampInt = (x: number, r: { min: number; max: number; default: number }) =>
  Number.isFinite(x) ? Math.min(r.max, Math.max(r.min, Math.round(x))) : r.default;

/** A size within SIZE_RANGES (out-of-range values are clamped, non-numbers become the default). */
export function clampSize(s: Partial<PresetSize>): PresetSize {
  return { runs: clampInt(s.runs ?? NaN, SIZE_RANGES.runs), tokens: clampInt(s.tokens ?? NaN, SIZE_RANGES.tokens) };
}

/** The labels the lab reports each variant under: its label, or its stem when two share a label. */
export function labelsOf(vs: readonly VariantInfo[]): Record<string, string> {
  return Object.fromEntries(
    vs.map((v) => [v.stem, vs.filter((w) => w.label === v.label).length > 1 ? v.stem : v.label]),
  );
}

function step(m: PresetModel, chosen: VariantInfo[], roles: Record<string, string>): PresetStep {
  return {
    modelKey: m.key,
    modelName: m.name,
    randomWeights: m.randomWeights,
    variants: chosen.map((v) => v.stem),
    baseline: chosen[0].stem,
    labels: labelsOf(chosen),
    roles,
    bytes: Object.fromEntries(chosen.map((v) => [v.stem, v.bytes])),
  };
}

const utf8Bytes = (s: string) => new TextEncoder().encode(s).length;

/** The MatMulNBits family (q4, q4f16, their 8/3/2-bit and block-size siblings), where methods are compared. */
function nbitsInfo(v: VariantInfo): { key: string; bits: number; method: string } | undefined {
  const o = v.options ?? {};
  const dtype = typeof o.dtype === 'string' ? o.dtype : undefined;
  // Without a manifest: model_q4, model_q4f16 and the model_q<bits>[f16]nbits siblings.
  const name = /^model_q(\d)(f16)?(nbits)?(?:_|$)/.exec(v.stem);
  const named =
    name && (name[1] === '4' || name[3]) ? { family: name[2] ? 'q4f16' : 'q4', bits: Number(name[1]) } : undefined;
  const family = dtype ?? named?.family;
  if (family !== 'q4' && family !== 'q4f16') return undefined;
  const bits = typeof o.bits === 'number' ? o.bits : (named?.bits ?? 4);
  const block = typeof o.blockSize === 'number' ? o.blockSize : undefined;
  const method = typeof o.method === 'string' ? o.method : 'rtn';
  return { key: `${family} ${bits}-bit${block ? `, block ${block}` : ''}`, bits, method };
}

/** Variants of the same bits grouped by method: the group with the most methods (fewest bits on a tie). */
export function methodGroups(
  vs: readonly VariantInfo[],
): { key: string; bits: number; byMethod: Map<string, VariantInfo> }[] {
  const groups = new Map<string, { key: string; bits: number; byMethod: Map<string, VariantInfo> }>();
  for (const v of vs) {
    const n = nbitsInfo(v);
    if (!n) continue;
    const g = groups.get(n.key) ?? { key: n.key, bits: n.bits, byMethod: new Map() };
    if (!g.byMethod.has(n.method)) g.byMethod.set(n.method, v);
    groups.set(n.key, g);
  }
  return [...groups.values()].sort((a, b) => b.byMethod.size - a.byMethod.size || a.bits - b.bits);
}

/** The models to try, in order: the current one if trained, the trained ones, the current one even with random weights. */
function candidates(models: readonly PresetModel[], currentKey: string): PresetModel[] {
  const cur = models.find((m) => m.key === currentKey);
  const trained = models.filter((m) => !m.randomWeights && m !== cur);
  return [...(cur && !cur.randomWeights ? [cur] : []), ...trained, ...(cur?.randomWeights ? [cur] : [])];
}

type Pick = { chosen: VariantInfo[]; roles: Record<string, string> } | { missing: string };

function pickTemperature(m: PresetModel): Pick {
  const fp32 = m.variants.find((v) => v.stem === FP32_STEM);
  if (!fp32) return { missing: `${m.name} has no fp32 variant (onnx/model.onnx) to compare with` };
  // bnb4 nf4 is the format Roy 2023 used; q4 is the MatMulNBits 4-bit most models ship. No float16 compute.
  const four = ['model_bnb4', 'model_q4']
    .map((s) => m.variants.find((v) => v.stem === s))
    .filter((v): v is VariantInfo => v !== undefined);
  if (four.length === 0) return { missing: `${m.name} has no 4-bit variant (bnb4 or q4)` };
  return {
    chosen: [fp32, ...four],
    roles: Object.fromEntries([[fp32.stem, 'unquantized'], ...four.map((v) => [v.stem, '4-bit'])]),
  };
}

const NF4_FP4 = [
  ['model_bnb4', 'nf4'],
  ['model_bnb4_fp4', 'fp4'],
  ['model_bnb4_fp4_dq', 'fp4 dq'],
] as const;

function pickNf4Fp4(m: PresetModel): Pick {
  const fp32 = m.variants.find((v) => v.stem === FP32_STEM);
  const have = NF4_FP4.map(([s, role]) => [m.variants.find((v) => v.stem === s), role] as const);
  const lacking = [
    ...(fp32 ? [] : ['fp32 (model)']),
    ...have
      .slice(0, 2)
      .filter(([v]) => !v)
      .map(([, r]) => r),
  ];
  if (lacking.length) return { missing: `${m.name} has no ${lacking.join(' or ')} variant` };
  const chosen = [fp32!, ...have.filter(([v]) => v).map(([v]) => v!)];
  return {
    chosen,
    roles: Object.fromEntries([[FP32_STEM, 'fp32'], ...have.filter(([v]) => v).map(([v, role]) => [v!.stem, role])]),
  };
}

function pickMethods(m: PresetModel): Pick {
  const fp32 = m.variants.find((v) => v.stem === FP32_STEM);
  if (!fp32) return { missing: `${m.name} has no fp32 variant to compare with` };
  const g = methodGroups(m.variants)[0];
  if (!g) return { missing: `${m.name} has no MatMulNBits (q4) variants` };
  if (g.byMethod.size < 2) {
    const [method, v] = [...g.byMethod][0];
    return {
      missing: `${m.name}: its ${g.key} variants were all made with one method (${method.toUpperCase()}: ${v.label})`,
    };
  }
  const chosen = [fp32, ...g.byMethod.values()];
  return {
    chosen,
    roles: Object.fromEntries([
      [FP32_STEM, 'fp32'],
      ...[...g.byMethod].map(([method, v]) => [v.stem, method.toUpperCase()]),
    ]),
  };
}

const PICKERS: Record<'temperature' | 'nf4-fp4' | 'methods', (m: PresetModel) => Pick> = {
  temperature: pickTemperature,
  'nf4-fp4': pickNf4Fp4,
  methods: pickMethods,
};

const HOW_TO: Record<'temperature' | 'nf4-fp4' | 'methods', string> = {
  temperature: 'Open a model with fp32 and 4-bit (q4 or bnb4) variants, or add a 4-bit one with Quantize….',
  'nf4-fp4':
    'Add them with Quantize… (bnb4, code fp4; then fp4 with double quantization), or `quantlab quantize <dir> --dtype bnb4 --quant-type fp4 [--double-quant]`.',
  methods:
    'Quantize the same bits with a second method (GPTQ, AWQ or HQQ besides round-to-nearest), in Quantize… or with `quantlab quantize <dir> --dtype q4 --method gptq`; then this compares them.',
};

function sweepPlan(id: PresetId, s: PresetStep, size: PresetSize): PresetPlan {
  const grid: SweepGrid = {
    prompt: PRESET_PROMPT,
    temperatures: PRESET_TEMPERATURES,
    topKs: [0],
    topPs: [1],
    maxNewTokens: [size.tokens],
    seeds: Array.from({ length: size.runs }, (_, i) => i),
  };
  const p = planSweep({ ...grid, seeds: size.runs }, s.variants.length);
  return {
    id,
    kind: 'sweep',
    steps: [s],
    grid,
    runs: p.generations,
    tokens: p.tokens,
    estimate: `${s.modelName}: ${describeSweep(p)}, each continuation then scored by ${s.labels[s.baseline]}`,
  };
}

function reportPlan(id: PresetId, steps: PresetStep[], text: string): PresetPlan {
  // A token stands for at least one UTF-8 byte; the BOS adds one.
  const perPass = utf8Bytes(text) + 1;
  const runs = steps.reduce((a, s) => a + s.variants.length, 0);
  return {
    id,
    kind: 'report',
    steps,
    text,
    runs,
    tokens: runs * perPass,
    estimate: `${steps.map((s) => `${s.modelName} (${s.variants.map((v) => s.labels[v]).join(', ')})`).join(' then ')}: ${runs} teacher-forced ${runs === 1 ? 'pass' : 'passes'} over the built-in sample (${count(text.length)} characters), at most ${count(runs * perPass)} tokens`,
  };
}

/** The larger (by fp32 file size) of two trained models at its fewest bits against the smaller at the precision nearest in size. */
function planSizeMatched(models: readonly PresetModel[], text: string): Availability {
  const trained = models.filter((m) => !m.randomWeights && m.variants.some((v) => v.stem === FP32_STEM));
  const random = models.filter((m) => m.randomWeights).map((m) => m.name);
  const sized = trained
    .map((m) => ({ m, fp32: m.variants.find((v) => v.stem === FP32_STEM)!.bytes }))
    .filter((x): x is { m: PresetModel; fp32: number } => x.fp32 !== undefined)
    .sort((a, b) => b.fp32 - a.fp32);
  const open = 'Open a second trained model of another size (Open files, or a Hub repository by id) to enable it.';
  if (sized.length < 2) {
    const names = trained.map((m) => m.name);
    return {
      ok: false,
      reason: `This needs two trained models of different sizes; ${
        names.length
          ? `only ${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} trained and sized here`
          : 'none is available here'
      }${random.length ? ` (${random.join(', ')} ${random.length === 1 ? 'has' : 'have'} random weights, so ${random.length === 1 ? 'its' : 'their'} scores would measure noise)` : ''}. ${open}`,
    };
  }
  const [big, small] = [sized[0], sized.find((x) => x.fp32 < sized[0].fp32)];
  if (!small) return { ok: false, reason: `The trained models here all have the same size. ${open}` };
  const low = big.m.variants
    .filter((v) => (variantFromStem(v.stem).bitsPerWeight ?? 32) <= 4 && !v.needsShaderF16 && v.bytes !== undefined)
    .sort((a, b) => a.bytes! - b.bytes!)[0];
  if (!low) return { ok: false, reason: `${big.m.name} has no 4-bit variant (q4 or bnb4). ${HOW_TO.temperature}` };
  const high = small.m.variants
    .filter((v) => (variantFromStem(v.stem).bitsPerWeight ?? 0) >= 16 && v.bytes !== undefined)
    .sort((a, b) => Math.abs(a.bytes! - low.bytes!) - Math.abs(b.bytes! - low.bytes!))[0];
  const steps = [step(big.m, [low], { [low.stem]: 'larger' }), step(small.m, [high], { [high.stem]: 'smaller' })];
  return { ok: true, plan: reportPlan('size-matched', steps, text) };
}

/**
 * What preset `id` would run: on the current model when it qualifies (and is trained), else on the
 * first trained model that does, else on the current one even with random weights; or why none can.
 * `text` is the report presets' text (the lab's built-in sample).
 */
export function planPreset(
  id: PresetId,
  models: readonly PresetModel[],
  currentKey: string,
  size: PresetSize,
  text: string,
): Availability {
  if (id === 'size-matched') return planSizeMatched(models, text);
  const misses: string[] = [];
  const cur = models.find((x) => x.key === currentKey);
  let curMiss = cur?.randomWeights
    ? `${cur.name} has random weights`
    : `the variants of ${cur?.name} are not known yet`;
  for (const m of candidates(models, currentKey)) {
    if (m.variants.length === 0) continue;
    const p = PICKERS[id](m);
    if ('missing' in p) {
      misses.push(p.missing);
      if (m === cur) curMiss = p.missing;
      continue;
    }
    const s = step(m, p.chosen, p.roles);
    const plan = id === 'temperature' ? sweepPlan(id, s, clampSize(size)) : reportPlan(id, [s], text);
    if (cur && cur.key !== m.key) plan.note = `Runs on ${m.name}: ${curMiss}.`;
    return { ok: true, plan };
  }
  return {
    ok: false,
    reason: `${misses.length ? `${[...new Set(misses)].join('; ')}.` : 'No model with known variants is available yet.'} ${HOW_TO[id]}`,
  };
}
