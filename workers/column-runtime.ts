// What a column worker does before its app code (transformers.js, the runner) has loaded: start
// ONNX Runtime's WASM runtime, and count the page's messages. Imported by the worker's entry
// (column.worker.ts), whose chunk holds only this and ONNX Runtime's JS, so the runtime's
// fetch and compilation overlap the load of the rest (column-api.ts).
import * as ort from 'onnxruntime-web/webgpu';
import { wasmThreads } from '../src/browser/wasm-threads';
import { QuantlabError } from '../src/lib/errors';
import { identityModelBytes } from '../src/lib/onnx/identity-model';
import { wallNow } from '../src/lib/page/first-token';
import { ortWasmPaths } from '../src/lib/page/ort-assets';
import type { Device, Span } from '../src/lib/runner/types';

/** When this worker's script had run: its entry, with ONNX Runtime's JS, evaluated. */
export const BOOT_AT = wallNow();

/** Messages received from the page, every one counted from the start (the page counts what it posts). */
let received = 0;
self.addEventListener('message', () => void received++);
export const messagesReceived = (): number => received;

/** The page's count of messages posted to this worker (ColumnApi.mailbox), once it has shared it. */
let posted: Int32Array | undefined;
export const setMailbox = (p: Int32Array): void => void (posted = p);
export const mailbox = (): Int32Array | undefined => posted;

export interface WasmStart {
  /** When the runtime started, as a wall-clock span. */
  span: Span;
  /** Its WASM threads (fixed for this worker from then on). */
  threads: number;
}

/** ONNX Runtime's WASM runtime started (once per worker): its build and the start. */
let wasmStarted: { device: 'wasm' | 'webgpu'; done: Promise<WasmStart> } | undefined;

/**
 * Starts ONNX Runtime's WASM runtime: fetches and compiles the .wasm, starts its threads (`threads`,
 * else the app's setting; fixed from then on for this worker) by creating a one-node session.
 * transformers.js would do it inside its first session; done here, it can start before the model
 * is known, and before transformers.js has loaded, and its time is told apart from the session's.
 * A worker for WASM sessions only starts the smaller WASM-only build (ort-assets.ts); a WebGPU one
 * needs the full build, so a worker started for one device cannot load on the other.
 */
export function startWasm(device: Device, threads?: number): Promise<WasmStart> {
  const build = device === 'webgpu' ? 'webgpu' : 'wasm';
  if (wasmStarted && wasmStarted.device !== build)
    throw new QuantlabError(
      'internal',
      `This worker's ONNX Runtime was started for ${wasmStarted.device}, not ${build}`,
      'Start a new worker for it.',
    );
  if (!wasmStarted) {
    const wasm = ort.env.wasm;
    const n = threads !== undefined && threads >= 1 ? threads : wasmThreads();
    wasm.numThreads = n;
    wasm.wasmPaths = ortWasmPaths(build);
    const start = wallNow();
    const done = ort.InferenceSession.create(identityModelBytes(), { executionProviders: ['wasm'] })
      .then((s) => s.release())
      .then(() => ({ span: { start, end: wallNow() }, threads: n }));
    wasmStarted = { device: build, done };
  }
  return wasmStarted.done;
}
