// The eval engine's model interface (src/lib/eval/model.ts) over a worker behind comlink: a
// worker's error arrives as a thrown QuantlabError (src/browser/rpc.ts), and an AbortSignal
// becomes the worker's cancel(), so the same orchestration runs in the CLI and in the page.
import type { EvalModel, Generation, Logits } from '../lib/eval/model';
import type { GenerateParams, GenerateResult } from '../lib/runner/types';

/** What a worker must offer (a column worker's handle, Remote<ColumnApi>, does). */
export interface EvalWorker {
  logits(ids: number[]): Promise<Logits>;
  encode(text: string): Promise<number[]>;
  decode(ids: number[]): Promise<string>;
  bosId(): Promise<number | undefined>;
  /** `onToken`: new tokens so far, as the worker streams them. */
  generate(params: GenerateParams, onToken?: (tokens: number) => void): Promise<GenerateResult>;
  cancel(): Promise<void> | void;
}

/** Adapts a worker handle to EvalModel. */
export function workerEvalModel(api: EvalWorker): EvalModel {
  return {
    logits: (ids) => api.logits(ids),
    encode: (text) => api.encode(text),
    decode: (ids) => api.decode(ids),
    bosId: () => api.bosId(),
    async generate(params, signal, onToken): Promise<Generation> {
      if (signal?.aborted) return { promptIds: [], ids: [], text: '', cancelled: true };
      const onAbort = () => void api.cancel();
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        const g = await api.generate(params, onToken);
        return { promptIds: g.promptIds, ids: g.ids, text: g.text, cancelled: g.cancelled };
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    },
  };
}
