// Has Chromium write ONNX Runtime Web's WASM code cache (src/lib/page/wasm-cache.ts says why): a
// column worker starts its ONNX Runtime on WASM with two threads, then it is ended.
import type { ColumnApi } from '../../workers/protocol';
import { QuantlabError } from '../lib/errors';
import { guard } from './rpc';
import type { WorkerHandle } from './workers';

/** True once the worker's ONNX Runtime started; false if it failed (nothing else depends on it). */
export async function primeWasmCache(start: () => WorkerHandle<ColumnApi>): Promise<boolean> {
  const w = start();
  try {
    await guard(w, w.api.warm('wasm', 2), (m) => new QuantlabError('internal', `The cache worker stopped: ${m}`));
    return true;
  } catch {
    return false;
  } finally {
    w.terminate();
  }
}
