// The benchmark's floor in the browser: its own onnxruntime-web session on the same .onnx file a
// column loads, with the app's wasm files and thread count, and the smallest greedy decode loop
// (src/lib/bench/floor.ts). The playground's column is measured against it.
import * as ort from 'onnxruntime-web/webgpu';
import { serve } from '../src/browser/rpc';
import { wasmThreads } from '../src/browser/wasm-threads';
import { arrayBufferChurn } from '../src/lib/bench/churn';
import { floorDecode } from '../src/lib/bench/floor';
import { kvCacheLayout, type KvCacheLayout, type OrtSession, type TensorCtor } from '../src/lib/onnx/session';
import { QuantlabError } from '../src/lib/errors';
import { ortWasmPaths } from '../src/lib/page/ort-assets';
import type { FloorApi } from './protocol';

let session: ort.InferenceSession | undefined;
let shape: KvCacheLayout | undefined;

const api = {
  async load(url: string, given?: KvCacheLayout, threads?: number, device: 'wasm' | 'webgpu' = 'wasm') {
    await api.dispose();
    // ONNX Runtime starts its WASM module once per worker: WebGPU needs the full build, WASM takes
    // the smaller WASM-only one (as the columns do).
    ort.env.wasm.wasmPaths = ortWasmPaths(device);
    ort.env.wasm.numThreads = threads !== undefined && threads >= 1 ? threads : wasmThreads();
    const t0 = performance.now();
    try {
      session = await ort.InferenceSession.create(url, { executionProviders: [device], logSeverityLevel: 3 });
    } catch (err) {
      throw new QuantlabError(
        'load-failed',
        `The floor could not load ${url}: ${(err as Error).message ?? String(err)}`,
      );
    }
    shape = given ?? kvCacheLayout(session);
    return {
      loadMs: performance.now() - t0,
      shape,
      threads: ort.env.wasm.numThreads ?? 1,
      ortVersion: ort.env.versions.web ?? '',
    };
  },

  async run(promptIds: number[], newTokens: number) {
    if (!session || !shape) throw new QuantlabError('internal', 'The floor has no session: call load() first');
    return floorDecode(
      ort.Tensor as unknown as TensorCtor,
      session as unknown as OrtSession,
      shape,
      promptIds,
      newTokens,
    );
  },

  churn: () => arrayBufferChurn(),

  async dispose(): Promise<void> {
    const s = session;
    session = undefined;
    shape = undefined;
    await s?.release();
  },
} satisfies FloorApi;

serve(api);
