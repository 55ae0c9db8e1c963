// Where the app serves ONNX Runtime Web's wasm runtime (vite.config.ts copies it there), and the
// absolute URLs to hand to `env.backends.onnx.wasm.wasmPaths`, valid from the page and from module
// workers alike. Without them transformers.js fetches the runtime from a CDN, which fails offline.

/** Vite's build.assetsDir: every built JS chunk, workers included, is emitted there. */
export const BUILD_ASSETS_DIR = 'assets';

/** Folder, relative to the app root, that holds the ORT wasm files in dev and in the build. */
export const ORT_WASM_DIR = 'ort/';

/**
 * The files transformers.js 4.3.1 loads: it imports `onnxruntime-web/webgpu`, whose one runtime
 * (WASM and WebGPU execution providers alike) is the asyncify build.
 */
export const ORT_WASM_FILES = {
  mjs: 'ort-wasm-simd-threaded.asyncify.mjs',
  wasm: 'ort-wasm-simd-threaded.asyncify.wasm',
} as const;

/**
 * ONNX Runtime's plain WASM build (no WebGPU, no asyncify): 14 MB against 27, so it compiles in
 * about half the time, and its calls skip asyncify's bookkeeping. The same JS API drives it, so a
 * worker whose sessions all run on WASM starts this one instead.
 */
export const ORT_WASM_CPU_FILES = {
  mjs: 'ort-wasm-simd-threaded.mjs',
  wasm: 'ort-wasm-simd-threaded.wasm',
} as const;

/**
 * Absolute URL (ending in '/') of the folder that holds index.html. A relative URL would resolve
 * against the worker script inside a worker, so it is computed here once: from the absolute
 * base in dev (or a build with an absolute base), else from this chunk's own URL, one level
 * below the root in `assets/`.
 */
export function appRootUrl(): string {
  const base = import.meta.env.BASE_URL;
  if (base.startsWith('/') || /^[a-z][a-z0-9+.-]*:/i.test(base)) {
    return new URL(base, globalThis.location.href).href;
  }
  return new URL(/* @vite-ignore */ '../', import.meta.url).href;
}

/**
 * Absolute URLs for `env.backends.onnx.wasm.wasmPaths` (transformers.js) or `ort.env.wasm.wasmPaths`:
 * the build that runs WebGPU sessions too, or with `device` 'wasm' the smaller WASM-only one.
 */
export function ortWasmPaths(device: 'wasm' | 'webgpu' = 'webgpu'): { mjs: string; wasm: string } {
  const dir = new URL(ORT_WASM_DIR, appRootUrl());
  const files = device === 'wasm' ? ORT_WASM_CPU_FILES : ORT_WASM_FILES;
  return { mjs: new URL(files.mjs, dir).href, wasm: new URL(files.wasm, dir).href };
}
