// Entry of bench.html, the page `quantlab bench` drives in headless Chromium: the playground's
// real column workers (on WASM, with an onToken callback as the playground passes one) and the
// floor worker, behind one object on window. It is its own page so no playground state loads
// models or restores settings beside the workers being timed.
import { proxy } from 'comlink';
import type { ColumnApi, FloorApi } from '../../workers/protocol';
import type { FloorResult } from '../lib/bench/floor';
import { runnerRunOf, type RunnerRun } from '../lib/bench/measure';
import { buildPrompt } from '../lib/bench/prompt';
import type { KvCacheLayout } from '../lib/onnx/session';
import { QuantlabError } from '../lib/errors';
import type { GpuAdapterInfo } from '../lib/bench/webgpu';
import type { GenerateParams, TokenEvent } from '../lib/runner/types';
import { guard, outcome } from './rpc';
import { wasmThreads } from './wasm-threads';
import { startColumnWorker, startFloorWorker, type WorkerHandle } from './workers';

/** A column generation as the page saw it: the runner's own timings plus page-clock start and end. */
export interface PageRun extends RunnerRun {
  startMs: number;
  endMs: number;
  /** Tokens the onToken callback's stream held at its longest (all of them once it caught up). */
  streamed: number;
  /** Stream events it received (about one a frame, not one a token). */
  events: number;
}

let columns: WorkerHandle<ColumnApi>[] = [];
let floor: WorkerHandle<FloorApi> | undefined;
/** The device the floor worker's ONNX Runtime was started for: its WASM build is chosen once per worker. */
let floorDevice: 'wasm' | 'webgpu' | undefined;

/** The error a call gets when its worker dies first. */
const stopped = (what: string) => (message: string) =>
  new QuantlabError(
    'internal',
    `The ${what} worker stopped: ${message}`,
    'It may have run out of memory; try fewer or smaller precisions.',
  );

function column(i: number): WorkerHandle<ColumnApi> {
  const c = columns[i];
  if (!c) throw new QuantlabError('internal', `No column ${i}: load columns first`);
  return c;
}

/** How the page asks for a generation: with a token stream, as the playground does (default), or without. */
export interface GenerateOptions {
  stream?: boolean;
}

async function generate(i: number, params: GenerateParams, o: GenerateOptions = {}): Promise<PageRun> {
  const stream = o.stream ?? true;
  let events = 0;
  let streamed = 0;
  const onToken = stream
    ? proxy((e: TokenEvent) => {
        events++;
        streamed = Math.max(streamed, e.ids.length);
      })
    : undefined;
  const startMs = performance.now();
  const c = column(i);
  const r = await guard(c, c.api.generate(params, onToken), stopped('column'));
  const endMs = performance.now();
  // Token events travel on their own channel and may trail the result: let them arrive (untimed).
  for (let wait = 0; stream && streamed < r.ids.length && wait < 200; wait++)
    await new Promise((done) => setTimeout(done, 10));
  return {
    ...runnerRunOf(r),
    startMs,
    endMs,
    streamed,
    events,
  };
}

async function gpuAdapter(): Promise<GpuAdapterInfo | null> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  const adapter = await gpu?.requestAdapter();
  if (!adapter) return null;
  const info = adapter.info;
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    // isFallbackAdapter moved from the adapter to its info in newer Chromium.
    is_fallback:
      Boolean((info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter) ||
      Boolean((adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter),
    shader_f16: adapter.features.has('shader-f16'),
  };
}

async function disposeColumns(): Promise<void> {
  for (const c of columns) {
    await c.api.dispose().catch(() => undefined);
    c.terminate();
  }
  columns = [];
}

const bench = {
  info: () => ({
    crossOriginIsolated: self.crossOriginIsolated,
    threads: wasmThreads(),
    cores: navigator.hardwareConcurrency,
    userAgent: navigator.userAgent,
  }),

  /** The page's WebGPU adapter as `quantlab bench` reports it, or null when the browser offers none. */
  adapter: () => outcome(gpuAdapter),

  /**
   * Replaces the columns by one per variant of the served model `id`, loaded one after another on
   * `device` (default WASM) with `threads` WASM threads each (default: the app's thread count).
   */
  loadColumns: (id: string, variants: string[], o: { threads?: number; device?: 'wasm' | 'webgpu' } = {}) =>
    outcome(async () => {
      await disposeColumns();
      const loadMs: number[] = [];
      for (const variant of variants) {
        const c = startColumnWorker();
        columns.push(c);
        loadMs.push(
          (
            await guard(
              c,
              c.api.load({ kind: 'served', id }, variant, o.device ?? 'wasm', undefined, o.threads),
              stopped('column'),
            )
          ).loadMs,
        );
      }
      return loadMs;
    }),

  /** A prompt of exactly n tokens for column 0's tokenizer. */
  buildPrompt: (n: number) =>
    outcome(() => {
      const api = column(0).api;
      return buildPrompt({ encode: (t) => api.encode(t), decode: (ids) => api.decode(ids) }, n);
    }),

  generate: (i: number, params: GenerateParams, o?: GenerateOptions) => outcome(() => generate(i, params, o)),

  /** Every column starts the same generation at once. */
  generateAll: (params: GenerateParams) => outcome(() => Promise.all(columns.map((_, i) => generate(i, params)))),

  loadFloor: (url: string, shape?: KvCacheLayout, threads?: number, device?: 'wasm' | 'webgpu') =>
    outcome(async () => {
      const want = device ?? 'wasm';
      if (floor && floorDevice !== want) {
        await floor.api.dispose().catch(() => undefined);
        floor.terminate();
        floor = undefined;
      }
      floor ??= startFloorWorker();
      floorDevice = want;
      return guard(floor, floor.api.load(url, shape, threads, device), stopped('floor'));
    }),

  runFloor: (promptIds: number[], newTokens: number) =>
    outcome(async (): Promise<FloorResult> => {
      if (!floor) throw new QuantlabError('internal', 'No floor worker: call loadFloor() first');
      return guard(floor, floor.api.run(promptIds, newTokens), stopped('floor'));
    }),

  /** What short-lived ArrayBuffers cost in the floor's worker (after loadFloor()). */
  arrayBufferChurn: () =>
    outcome(async () => {
      if (!floor) throw new QuantlabError('internal', 'No floor worker: call loadFloor() first');
      return guard(floor, floor.api.churn(), stopped('floor'));
    }),

  /** Ends every worker (their memory goes back with them). */
  disposeAll: () =>
    outcome(async () => {
      await disposeColumns();
      if (floor) {
        await floor.api.dispose().catch(() => undefined);
        floor.terminate();
        floor = undefined;
      }
    }),
};

export type BenchPageApi = typeof bench;

declare global {
  interface Window {
    /** bench.html only: what `quantlab bench` drives. */
    quantlabBench?: BenchPageApi;
  }
}

/**
 * The floor of `quantlab bench --first-token` (bench.html?floor-first-token=<.onnx URL>&ids=1,2,3):
 * as soon as the page runs, one floor worker loads the file into one ONNX Runtime session and runs
 * one step on the prompt ids; the token is written in #first-token, and its time (ms after
 * navigation) in body[data-first-token-ms].
 */
async function floorFirstToken(url: string, ids: number[]): Promise<void> {
  const f = startFloorWorker();
  const out = document.createElement('output');
  out.id = 'first-token';
  try {
    await guard(f, f.api.load(url), stopped('floor'));
    const r = await guard(f, f.api.run(ids, 1), stopped('floor'));
    out.textContent = String(r.ids[0]);
    document.body.append(out);
    document.body.dataset.firstTokenMs = String(performance.now());
  } catch (err) {
    document.body.dataset.firstTokenError = (err as Error).message;
  }
}

const query = new URLSearchParams(location.search);
const floorUrl = query.get('floor-first-token');
if (floorUrl) void floorFirstToken(floorUrl, (query.get('ids') ?? '').split(',').filter(Boolean).map(Number));

window.quantlabBench = bench;
document.body.dataset.ready = 'true';
