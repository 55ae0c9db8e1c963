// How big a layer-sensitivity measurement is before it starts (weights x widths runs, each over
// every calibration window, plus the fp32 pass) and the limit past which the page refuses it,
// saying what to shrink; the estimate the Quantize dialog shows before the text is tokenized.

import { QuantlabError } from '../errors';
import { count } from '../eval/plan';

/** The page's bound: model passes over one window, and tokens through the model in all. */
export const SENSITIVITY_LIMITS = {
  /** (runs + 1) x windows forward passes of one window each. */
  passes: 20_000,
  /** passes x window length. */
  tokens: 2_000_000,
} as const;

/** Linear weights per decoder layer of a llama-shaped model: q, k, v, o, gate, up, down. */
export const LINEARS_PER_LAYER = 7;

export interface SensitivityPlan {
  weights: number;
  widths: number;
  windows: number;
  ctx: number;
  /** One run = one weight at one width over every window: weights x widths. */
  runs: number;
  /** Forward passes of one window: (runs + 1) x windows (the fp32 pass once). */
  passes: number;
  /** passes x ctx. */
  tokens: number;
}

/** Sizes a measurement of `weights` weights at `widths` widths over `windows` windows of `ctx` tokens. */
export function planSensitivity(weights: number, widths: number, windows: number, ctx: number): SensitivityPlan {
  const runs = weights * widths;
  const passes = (runs + 1) * windows;
  return { weights, widths, windows, ctx, runs, passes, tokens: passes * ctx };
}

/** "35 weights x 2 widths = 70 runs over 2 windows of 128 tokens: 142 passes, 18,176 tokens". */
export function describeSensitivity(p: SensitivityPlan): string {
  return (
    `${count(p.weights)} weights x ${p.widths} ${p.widths === 1 ? 'width' : 'widths'} = ${count(p.runs)} runs over ` +
    `${count(p.windows)} ${p.windows === 1 ? 'window' : 'windows'} of ${count(p.ctx)} tokens: ` +
    `${count(p.passes)} passes, ${count(p.tokens)} tokens`
  );
}

/** Undefined within SENSITIVITY_LIMITS; otherwise what is over. */
export function sensitivityOver(p: SensitivityPlan): string | undefined {
  if (p.passes > SENSITIVITY_LIMITS.passes) return `over the limit of ${count(SENSITIVITY_LIMITS.passes)} passes`;
  if (p.tokens > SENSITIVITY_LIMITS.tokens) return `over the limit of ${count(SENSITIVITY_LIMITS.tokens)} tokens`;
  return undefined;
}

/** Refuses a plan over SENSITIVITY_LIMITS by name, with the most windows that would fit. */
export function checkSensitivityPlan(p: SensitivityPlan): void {
  const over = sensitivityOver(p);
  if (!over) return;
  const perWindow = p.runs + 1;
  const fit = Math.min(
    Math.floor(SENSITIVITY_LIMITS.passes / perWindow),
    Math.floor(SENSITIVITY_LIMITS.tokens / (perWindow * p.ctx)),
  );
  throw new QuantlabError(
    'bad-argument',
    `This sensitivity measurement is too large: ${describeSensitivity(p)}, ${over}.`,
    fit > 0
      ? `Use fewer calibration tokens (at most ${count(fit)} windows of ${count(p.ctx)}, ${count(fit * p.ctx)} tokens), or fewer widths.`
      : 'Measure at fewer widths or with a shorter window.',
  );
}

/**
 * The dialog's estimate before anything is read: weights from config.json's layers (7 linears
 * each, lm_head kept), windows at most floor(min(tokens, text bytes + 1) / window) as a token is at
 * least one byte. Undefined when the config has no layer count.
 */
export function estimateSensitivity(
  config: { num_hidden_layers?: unknown } | undefined,
  widths: number,
  textBytes: number,
  tokens: number,
  ctx: number,
): SensitivityPlan | undefined {
  const layers = config?.num_hidden_layers;
  if (typeof layers !== 'number' || !Number.isInteger(layers) || layers <= 0) return undefined;
  if (!(ctx >= 2) || !(tokens >= ctx)) return undefined;
  const windows = Math.floor(Math.min(tokens, textBytes + 1) / ctx);
  return planSensitivity(layers * LINEARS_PER_LAYER, widths, windows, ctx);
}
