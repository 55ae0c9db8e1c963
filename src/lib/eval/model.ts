// The little the quality report and the sweeps need from a loaded model, so the same
// orchestration drives a Runner in Node and a Runner behind comlink in a browser worker
// (where every method returns a promise).

import { QuantlabError } from '../errors';
import type { Runner } from '../runner/runner';
import type { GenerateParams } from '../runner/types';

export type Awaitable<T> = T | Promise<T>;

/** Teacher-forced logits, row-major [ids.length x vocab]. */
export interface Logits {
  data: Float32Array;
  vocab: number;
}

/** What one generation returns that the sweep reads. */
export interface Generation {
  promptIds: number[];
  /** New ids only. */
  ids: number[];
  text: string;
  cancelled: boolean;
}

/** One loaded model (one precision); Runner fits it through runnerEvalModel(). */
export interface EvalModel {
  logits(ids: number[]): Promise<Logits>;
  /** Token ids of a text as the model reads it (with the BOS the tokenizer adds, if any). */
  encode(text: string): Awaitable<number[]>;
  /** Text of ids, special tokens skipped. */
  decode(ids: number[]): Awaitable<string>;
  /** The tokenizer's BOS id, or undefined when it has none. */
  bosId(): Awaitable<number | undefined>;
  /** `onToken` hears the count of new tokens so far, as they come (for progress; it may skip counts). */
  generate(params: GenerateParams, signal?: AbortSignal, onToken?: (tokens: number) => void): Promise<Generation>;
}

/** A model with the name it is reported under (a dtype such as "q4", or any label). */
export interface LabeledModel {
  label: string;
  model: EvalModel;
}

/**
 * Rejects a model list that is empty (`none` names the problem), labels one model twice, or lacks
 * the baseline.
 */
export function checkLabels(models: readonly LabeledModel[], baseline: string, none: string): void {
  const bad = (msg: string, detail?: string) => new QuantlabError('bad-argument', msg, detail);
  const labels = models.map((m) => m.label);
  if (labels.length === 0) throw bad(none);
  const dup = labels.find((l, i) => labels.indexOf(l) !== i);
  if (dup !== undefined) throw bad(`"${dup}" is listed twice`);
  if (!labels.includes(baseline)) {
    throw bad(
      `Baseline "${baseline}" is not among the loaded precisions (${labels.join(', ')})`,
      'Load it too, or pick one of those as the baseline.',
    );
  }
}

/** Adapts an in-process Runner (Node CLI, tests, or inside a worker) to EvalModel. */
export function runnerEvalModel(runner: Runner): EvalModel {
  return {
    logits: (ids) => runner.logits(ids),
    encode: (text) => runner.encode(text),
    decode: (ids) => runner.decode(ids),
    bosId: () => {
      const id = (runner.tokenizer as { bos_token_id?: number | null }).bos_token_id;
      return typeof id === 'number' ? id : undefined;
    },
    generate: (params, signal, onToken) => runner.generate(params, onToken && ((e) => onToken(e.ids.length)), signal),
  };
}
