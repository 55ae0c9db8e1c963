// The benchmark's floor in the browser: its own onnxruntime-web session on the same .onnx file a
// column loads, with the app's wasm files and thread count, and the smallest greedy decode loop
// (src/lib/bench/floor.ts). The playground's column is measured against it.
import { expose } from 'comlink';
import * as ort from 'onnxruntime-web/webgpu';
import { floorDecode, type FloorResult } from '../src/lib/bench/floor.ts';
import { kvCacheLayout, type KvCacheLayout, type OrtSession, type TensorCtor } from '../src/lib/onnx/session.ts';
import { QuantlabError, toErrorInfo } from '../src/lib/errors.ts';
import { ortWasmPaths } from '../src/lib/page/ort-assets.ts';
import type { Outcome } from '../src/lib/runner/types.ts';
import { wasmThreads } from '../src/browser/wasm-threads.ts';

let session: ort.InferenceSession | undefined;
let shape: KvCacheLayout | undefined;

async function outcome<T>(fn: () => T | Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    return { ok: false, error: toErrorInfo(err) };
  }
}

const api = {
  /**
   * Creates a WASM session on `url` (the same settings transformers.js gets in a column: the
   * app's wasm paths, its thread count, error-level logs). The KV cache layout comes from `shape`
   * or, when left out, from the session's own input metadata. Returns the load time in ms.
   */
  load(url: string, given?: KvCacheLayout): Promise<Outcome<{ loadMs: number; shape: KvCacheLayout; threads: number }>> {
    return outcome(async () => {
      await api.dispose();
      ort.env.wasm.wasmPaths = ortWasmPaths();
      ort.env.wasm.numThreads = wasmThreads();
      const t0 = performance.now();
      try {
        session = await ort.InferenceSession.create(url, { executionProviders: ['wasm'], logSeverityLevel: 3 });
      } catch (err) {
        throw new QuantlabError('load-failed', `The floor could not load ${url}: ${(err as Error).message ?? String(err)}`);
      }
      shape = given ?? kvCacheLayout(session);
      return { loadMs: performance.now() - t0, shape, threads: wasmThreads() };
    });
  },

  /** Greedy decode of `newTokens` ids after `promptIds` (prefill, then one token per step). */
  run(promptIds: number[], newTokens: number): Promise<Outcome<FloorResult>> {
    return outcome(() => {
      if (!session || !shape) throw new QuantlabError('internal', 'The floor has no session: call load() first');
      return floorDecode(ort.Tensor as unknown as TensorCtor, session as unknown as OrtSession, shape, promptIds, newTokens);
    });
  },

  async dispose(): Promise<void> {
    const s = session;
    session = undefined;
    shape = undefined;
    await s?.release();
  },
};

export type FloorApi = typeof api;
expose(api);
