// One column of the playground: one model variant in its own ONNX Runtime session, so columns
// run in parallel and one failure (bad file, lost device, out of memory) stays in its column.
//
// This entry is small (ONNX Runtime's JS and column-runtime.ts): it answers warm() and mailbox()
// itself, and hands every other call to the rest of the worker (column-api.ts: transformers.js, the
// runner), which it imports only once warm() has started the runtime (or a call needs it), so the
// runtime's fetch and compilation start first.
import type { ColumnApi } from './protocol';
import { serve } from '../src/browser/rpc';
import { BOOT_AT, setMailbox, startWasm } from './column-runtime';
import { QuantlabError } from '../src/lib/errors';

let restLoad: Promise<typeof import('./column-api')> | undefined;
/**
 * The rest of the worker, imported on the first call that needs it, or once warm() has asked for
 * the runtime: its parse (about 0.2 s of this thread on two cores) then runs while the runtime's
 * files download and compile off this thread, and no longer holds up warm()'s message.
 */
function rest(): Promise<typeof import('./column-api')> {
  if (restLoad) return restLoad;
  restLoad = import('./column-api').catch((err: unknown) => {
    throw new QuantlabError(
      'load-failed',
      `This column's worker could not load the rest of its code (${err instanceof Error ? err.message : String(err)})`,
      'Reload the page. If it happens again, check the connection to this site (it may also have been updated meanwhile).',
    );
  });
  // Reported by the calls that wait for it, not as an unhandled rejection when none comes.
  restLoad.catch(() => {});
  return restLoad;
}

type Later = Exclude<keyof ColumnApi, 'warm' | 'mailbox'>;
/** `name` of the rest's api, called once the rest has loaded (calls keep their order). */
function later<K extends Later>(name: K): ColumnApi[K] {
  return (async (...args: unknown[]) => {
    const { api } = await rest();
    return (api[name] as (...a: unknown[]) => unknown)(...args);
  }) as ColumnApi[K];
}

const api: ColumnApi = {
  async warm(device, threads) {
    const starting = startWasm(device, threads);
    void rest();
    const started = await starting;
    return { bootAt: BOOT_AT, wasm: started.span, threads: started.threads };
  },
  load: later('load'),
  modelShape: later('modelShape'),
  generate: later('generate'),
  cancel: later('cancel'),
  mailbox: setMailbox,
  cancelLoad: later('cancelLoad'),
  hang: later('hang'),
  floor: later('floor'),
  compareTokens: later('compareTokens'),
  logits: later('logits'),
  encode: later('encode'),
  decode: later('decode'),
  bosId: later('bosId'),
  dispose: later('dispose'),
};

serve(api);
