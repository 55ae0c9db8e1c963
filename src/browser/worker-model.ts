// The eval engine's model interface (src/lib/eval/model.ts) over a worker behind comlink: each
// call's Outcome becomes a value or a thrown QuantlabError, and an AbortSignal becomes the
// worker's cancel(), so the same orchestration runs in the CLI and in the page.
import { QuantlabError, type ErrorInfo } from '../lib/errors.ts';
import type { EvalModel, Generation, Logits } from '../lib/eval/model.ts';
import type { GenerateParams, GenerateResult, Outcome } from '../lib/runner/types.ts';

/** What a worker must offer (ColumnApi does). */
export interface EvalWorker {
  logits(ids: number[]): Promise<Outcome<Logits>>;
  encode(text: string): Promise<Outcome<number[]>>;
  decode(ids: number[]): Promise<Outcome<string>>;
  bosId(): Promise<Outcome<number | undefined>>;
  generate(params: GenerateParams): Promise<Outcome<GenerateResult>>;
  cancel(): Promise<void> | void;
}

const thrown = (e: ErrorInfo) => new QuantlabError(e.code, e.message, e.detail);

async function value<T>(p: Promise<Outcome<T>>): Promise<T> {
  const r = await p;
  if (!r.ok) throw thrown(r.error);
  return r.value;
}

/** Adapts a worker handle to EvalModel. */
export function workerEvalModel(api: EvalWorker): EvalModel {
  return {
    logits: (ids) => value(api.logits(ids)),
    encode: (text) => value(api.encode(text)),
    decode: (ids) => value(api.decode(ids)),
    bosId: () => value(api.bosId()),
    async generate(params, signal): Promise<Generation> {
      if (signal?.aborted) return { promptIds: [], ids: [], text: '', cancelled: true };
      const onAbort = () => void api.cancel();
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        const g = await value(api.generate(params));
        return { promptIds: g.promptIds, ids: g.ids, text: g.text, cancelled: g.cancelled };
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    },
  };
}
