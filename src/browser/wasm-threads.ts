// How many WASM threads ONNX Runtime gets in a worker: its own module so a worker that uses
// onnxruntime-web directly (the benchmark's floor) gets the app's setting without transformers.js.

/** WASM threads: 2+ only when cross-origin isolated (SharedArrayBuffer), capped at 4. */
export function wasmThreads(): number {
  return self.crossOriginIsolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;
}
