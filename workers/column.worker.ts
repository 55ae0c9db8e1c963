// One column of the playground: one model variant in its own ONNX Runtime session, so columns
// run in parallel and one failure (bad file, lost device, out of memory) stays in its column.
//
// This entry is small (ONNX Runtime's JS and column-runtime.ts): it answers warm() and mailbox()
// itself, so the runtime's fetch and compilation start while the rest of the worker (column-api.ts:
// transformers.js, the runner) is still loading, and hands every other call to the rest once loaded.
// The rest is imported at once: the page asks for the runtime a few hundred ms after the worker's
// start (once its first paint is done, main.ts), and the rest's parse fills that wait; imported only
// on warm() instead, it competed with the runtime's start and second visits came 0.17-0.29 s later.
import type { ColumnApi } from './protocol';
import { serve } from '../src/browser/rpc';
import { BOOT_AT, setMailbox, startWasm } from './column-runtime';
import { QuantlabError } from '../src/lib/errors';

const rest = import('./column-api').catch((err: unknown) => {
  throw new QuantlabError(
    'load-failed',
    `This column's worker could not load the rest of its code (${err instanceof Error ? err.message : String(err)})`,
    'Reload the page. If it happens again, check the connection to this site (it may also have been updated meanwhile).',
  );
});
// Reported by the calls that wait for it, not as an unhandled rejection when none comes.
rest.catch(() => {});

type Later = Exclude<keyof ColumnApi, 'warm' | 'mailbox'>;
/** `name` of the rest's api, called once the rest has loaded (calls keep their order). */
function later<K extends Later>(name: K): ColumnApi[K] {
  return (async (...args: unknown[]) => {
    const { api } = await rest;
    return (api[name] as (...a: unknown[]) => unknown)(...args);
  }) as ColumnApi[K];
}

const api: ColumnApi = {
  async warm(device, threads) {
    const started = await startWasm(device, threads);
    return { bootAt: BOOT_AT, wasm: started.span, threads: started.threads };
  },
  load: later('load'),
  modelShape: later('modelShape'),
  generate: later('generate'),
  cancel: later('cancel'),
  mailbox: setMailbox,
  cancelLoad: later('cancelLoad'),
  hang: later('hang'),
  pace: later('pace'),
  floor: later('floor'),
  compareTokens: later('compareTokens'),
  logits: later('logits'),
  encode: later('encode'),
  decode: later('decode'),
  bosId: later('bosId'),
  dispose: later('dispose'),
};

serve(api);
