// Smallest real worker: proves the module-worker + comlink pipeline of the built site, and that
// ONNX Runtime (through transformers.js, as the runner will use it) loads its wasm from our own
// server with threads. The browser smoke test drives it through the page.
import { expose } from 'comlink';
import { ortWasmPaths } from '../src/lib/page/ort-assets.ts';

const api = {
  /** Echo, to prove the round trip. */
  ping(message: string): string {
    return `pong: ${message}`;
  },

  /** What the worker sees: isolation, cores, and where it will load ORT from. */
  info(): { crossOriginIsolated: boolean; hardwareConcurrency: number; wasmPaths: { mjs: string; wasm: string } } {
    return {
      crossOriginIsolated: self.crossOriginIsolated,
      hardwareConcurrency: navigator.hardwareConcurrency,
      wasmPaths: ortWasmPaths(),
    };
  },

  /**
   * Multiplies two row-major matrices with transformers.js' ONNX `matmul` op on the WASM backend,
   * with the app's wasmPaths and the thread count asked for; returns the product and ORT's settings.
   */
  async ortMatmul(
    a: number[],
    aDims: [number, number],
    b: number[],
    bDims: [number, number],
    numThreads: number,
  ): Promise<{ data: number[]; dims: number[]; numThreads: number; version: string }> {
    const { env, matmul, Tensor } = await import('@huggingface/transformers');
    const wasm = env.backends.onnx.wasm!;
    wasm.wasmPaths = ortWasmPaths();
    wasm.numThreads = numThreads;
    const out = await matmul(new Tensor('float32', Float32Array.from(a), aDims), new Tensor('float32', Float32Array.from(b), bDims));
    return {
      data: Array.from(out.data as Float32Array),
      dims: out.dims,
      numThreads: wasm.numThreads ?? -1,
      version: String(env.backends.onnx.versions?.web),
    };
  },
};

export type PingApi = typeof api;
expose(api);
