// V8 keeps a WASM module's compiled code between visits only if Chromium writes the module's code
// cache, and here it did so only when ONNX Runtime Web was started with two or more threads. With
// one thread per column (three columns on two cores) no cache was written, and every returning
// visit compiled ONNX Runtime again: on the floor page, one thread, the first token came after
// 1.7-2.1 s on every visit; with a worker that started ONNX Runtime on two threads after the first
// token of the visit before, 0.63-1.0 s (README, "First token from navigation"). So after start-up
// the page starts such a worker once and ends it (primeWasmCache, src/browser/wasm-cache.ts).

/**
 * Whether the page should start ONNX Runtime on two threads once to have the code cache written:
 * only on a cross-origin isolated page (else there is one thread anyway and no shared memory), with
 * two cores or more, when a column ran ONNX Runtime on WASM with a single thread.
 */
export function needsWasmCachePrimer(isolated: boolean, cores: number, columnThreads: readonly number[]): boolean {
  return isolated && cores >= 2 && columnThreads.some((t) => t === 1);
}
