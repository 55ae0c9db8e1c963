// The browser-wasm side of `quantlab bench`: serves the built site with the model folder mounted
// as a served model, opens bench.html in headless Chromium and drives the real column workers and
// the floor worker there. Memory is the resident set summed over the whole Chromium process tree
// (browser included), sampled from /proc by this process.

import { basename } from 'node:path';
import { QuantlabError, type ErrorInfo } from '../lib/errors';
import type { ArrayBufferChurn } from '../lib/bench/churn';
import type { BenchPageApi, PageRun } from '../browser/bench-page';
import type { FloorResult } from '../lib/bench/floor';
import {
  greedyParams,
  measureConcurrency,
  measureInterleaved,
  type BenchCase,
  type ConcurrencyCase,
} from '../lib/bench/measure';
import {
  benchRow,
  concurrencyResult,
  type BenchMachine,
  type BenchRow,
  type ConcurrencyResult,
  settleOf,
} from '../lib/bench/report';
import type { GenerateParams, Outcome } from '../lib/runner/types';
import { launchChromium, serveStatic, type BrowserSession, type StaticServer } from './browser';
import { PeakSampler, treeMemorySampler } from './memory';
import { wasmThreadCount } from '../lib/page/device';
import { variantsFromFiles } from '../lib/variants/info';
import { listFolder } from './files';
import { describeAdapter, isSoftwareAdapter, type GpuAdapterInfo } from '../lib/bench/webgpu';

/** The served-model id the model folder is mounted under (site URL models/<id>/). */
export const BENCH_MODEL_ID = 'quantlab-bench';

interface PageInfo {
  crossOriginIsolated: boolean;
  threads: number;
  cores: number;
  userAgent: string;
}

type Unwrapped<F> = F extends (...a: infer A) => Promise<Outcome<infer T>> ? (...a: A) => Promise<T> : never;
export type BenchPage = { [K in Exclude<keyof BenchPageApi, 'info'>]: Unwrapped<BenchPageApi[K]> } & {
  info(): Promise<PageInfo>;
};

export interface BenchBrowser {
  page: BenchPage;
  session: BrowserSession;
  /** URL of onnx/<stem>.onnx as the page loads it. */
  modelFileUrl(stem: string): string;
  close(): Promise<void>;
}

/** Serves `siteDir` with `modelDir` at models/quantlab-bench/, opens bench.html in Chromium. */
export async function openBenchPage(siteDir: string, modelDir: string): Promise<BenchBrowser> {
  let server: StaticServer | undefined;
  let session: BrowserSession | undefined;
  try {
    server = await serveStatic(siteDir, { mounts: { [`/models/${BENCH_MODEL_ID}/`]: modelDir } });
    session = await launchChromium();
    const p = session.page;
    await p.goto(`${server.url}bench.html`);
    await p.waitForFunction(() => window.quantlabBench !== undefined, undefined, { timeout: 60_000 });
    const call = async (name: keyof BenchPageApi, args: unknown[]) => {
      const r = (await p.evaluate(
        ([n, a]) =>
          (window.quantlabBench![n as keyof BenchPageApi] as (...x: unknown[]) => unknown)(...(a as unknown[])),
        [name, args] as const,
      )) as Outcome<unknown> | PageInfo;
      if (name === 'info') return r;
      const o = r as Outcome<unknown>;
      if (!o.ok)
        throw new QuantlabError((o.error as ErrorInfo).code, `browser-wasm: ${o.error.message}`, o.error.detail);
      return o.value;
    };
    // Not thenable: `await page` must not call into the page.
    const page = new Proxy({} as BenchPage, {
      get: (_, name) => (name === 'then' ? undefined : (...args: unknown[]) => call(name as keyof BenchPageApi, args)),
    });
    const info = await page.info();
    if (!info.crossOriginIsolated)
      throw new QuantlabError(
        'internal',
        'bench.html is not cross-origin isolated, so ONNX Runtime would run on one thread',
        'The static server must send COOP/COEP headers.',
      );
    const url = server.url;
    const s = session;
    const sv = server;
    return {
      page,
      session,
      modelFileUrl: (stem) => `${url}models/${BENCH_MODEL_ID}/onnx/${stem}.onnx`,
      async close() {
        await s.close();
        await sv.close();
      },
    };
  } catch (err) {
    await session?.close();
    await server?.close();
    throw err;
  }
}

export interface BrowserBenchOptions {
  siteDir: string;
  /** WASM threads of the column and of the floor (default: the app's for the file, wasmThreadCount()). */
  threads?: number;
  /** Whether the column streams its tokens to the page as the playground does (default true). */
  stream?: boolean;
  /** Called with progress lines (stderr). */
  log?: (line: string) => void;
  /** Where the column and the floor run: 'wasm' (browser-wasm, default) or 'webgpu' (browser-webgpu). */
  device?: 'wasm' | 'webgpu';
}

/**
 * One row per precision, each in a freshly launched Chromium (so the memory figure of one
 * precision carries nothing over from the one before).
 */
export async function browserBench(
  c: BenchCase,
  o: BrowserBenchOptions,
): Promise<{ rows: BenchRow[]; machine?: NonNullable<BenchMachine['browser']>; adapter?: GpuAdapterInfo }> {
  const device = o.device ?? 'wasm';
  const runtime = device === 'webgpu' ? 'browser-webgpu' : 'browser-wasm';
  let adapter: GpuAdapterInfo | undefined;
  const sampler = new PeakSampler(treeMemorySampler(process.pid), 100);
  const rows: BenchRow[] = [];
  let machine: NonNullable<BenchMachine['browser']> | undefined;
  let churn: ArrayBufferChurn | undefined;
  try {
    for (const [k, dtype] of c.dtypes.entries()) {
      const stem = c.stems[k];
      const b = await openBenchPage(o.siteDir, c.dir);
      try {
        const info = await b.page.info();
        // The app's choice for this file (one per core, one for a small model), unless --threads says.
        const threads = o.threads ?? wasmThreadCount(platformOf(info), 1, weightBytes(c.dir, stem));
        if (device === 'webgpu') adapter = await requireAdapter(b.page);
        if (k === 0)
          o.log?.(
            `${runtime}: ${basename(c.dir)} in headless Chromium, ${threads} WASM thread(s) per worker${adapter ? `, adapter ${describeAdapter(adapter)}` : ''}${o.stream === false ? ', tokens not streamed' : ''}`,
          );
        let params: GenerateParams | undefined;
        let runnerPeak = 0;
        sampler.start().reset();
        const m = await measureInterleaved(
          {
            loadRunner: async () => (await b.page.loadColumns(BENCH_MODEL_ID, [stem], { threads, device }))[0],
            runRunner: async () => {
              if (!params) {
                const p = await b.page.buildPrompt(c.promptTokens);
                params = greedyParams(p.prompt, c.newTokens);
              }
              const r: PageRun = await b.page.generate(0, params, { stream: o.stream ?? true });
              if (r.promptIds.length !== c.promptTokens)
                throw new QuantlabError(
                  'internal',
                  `the column read ${r.promptIds.length} prompt tokens, not ${c.promptTokens}`,
                );
              return r;
            },
            // The first load only: later ones come after a floor has run.
            onRunnerWarm: () => (runnerPeak ||= sampler.peak),
            loadFloor: async () => {
              const f = await b.page.loadFloor(b.modelFileUrl(stem), undefined, threads, device);
              // Once a benchmark, between the runner's warm-up and the floor's (not timed).
              churn ??= (await b.page.arrayBufferChurn()) as ArrayBufferChurn;
              machine = {
                hardware_concurrency: info.cores,
                user_agent: info.userAgent,
                onnxruntime_web_version: f.ortVersion,
                cross_origin_isolated: info.crossOriginIsolated,
                threads: f.threads,
                // ONNX Runtime Web sizes one global thread pool per worker at init (OrtInit(threads, log
                // level)) with its default spin-wait; a session's allow_spinning entry does not reach it.
                spinning: true,
                array_buffer_churn: churn,
              };
              return f.loadMs;
            },
            runFloor: (ids, n) => b.page.runFloor(ids, n) as Promise<FloorResult>,
            // Both workers end: the next load starts each in a new worker, with a new WASM memory.
            unload: async () => void (await b.page.disposeAll()),
          },
          c.runs,
          c.minMs,
          { settle: settleOf(c), loads: c.loads },
        );
        const row0 = benchRow(dtype, runtime, m, { runnerBytes: runnerPeak, allBytes: sampler.peak });
        if (adapter) Object.assign(row0, adapterFields(adapter));
        rows.push(row0);
        sampler.stop();
        const row = rows[rows.length - 1];
        o.log?.(
          `${runtime} ${dtype}: decode ${row.decode_tokens_per_s.toFixed(1)} tok/s, floor ${row.floor_decode_tokens_per_s.toFixed(1)} tok/s`,
        );
        await b.page.disposeAll();
      } finally {
        await b.close();
      }
    }
  } finally {
    sampler.stop();
  }
  return { rows, machine, ...(adapter ? { adapter } : {}) };
}

/** The page's WebGPU adapter; a clear error when Chromium offers none. */
export async function requireAdapter(page: BenchPage): Promise<GpuAdapterInfo> {
  const a = await page.adapter();
  if (!a)
    throw new QuantlabError(
      'unsupported-device',
      'This Chromium offers no WebGPU adapter, so browser-webgpu cannot run',
      'Run it where Chromium has WebGPU (launched with --enable-unsafe-webgpu, as quantlab does), or benchmark --runtimes browser-wasm.',
    );
  return a;
}

/** The fields a browser-webgpu row carries about its adapter. */
export function adapterFields(a: GpuAdapterInfo): Pick<BenchRow, 'adapter' | 'correctness_only'> {
  return { adapter: describeAdapter(a), correctness_only: isSoftwareAdapter(a) };
}

/** The page's platform as the bench page reports it (no adapter: WASM rows). */
function platformOf(info: { crossOriginIsolated: boolean; cores: number }) {
  return { crossOriginIsolated: info.crossOriginIsolated, hardwareConcurrency: info.cores, webgpu: null };
}

/** Bytes of a variant's weights as the page counts them (its .onnx and .onnx_data files). */
function weightBytes(dir: string, stem: string): number {
  return variantsFromFiles(listFolder(dir)).find((v) => v.stem === stem)?.bytes ?? 0;
}

/**
 * Four (or however many) column workers generating at once against each alone, with the threads
 * the playground gives them: columns loaded together share the cores, a column alone gets every
 * core's thread (src/lib/page/device.ts). The together phase runs first, then each column is loaded
 * on its own.
 */
export async function browserConcurrency(c: ConcurrencyCase, o: BrowserBenchOptions): Promise<ConcurrencyResult> {
  const b = await openBenchPage(o.siteDir, c.dir);
  try {
    const info = await b.page.info();
    const platform = platformOf(info);
    const n = c.stems.length;
    // The largest file decides (a small model runs on one thread: device.ts).
    const bytes = Math.max(...c.stems.map((s) => weightBytes(c.dir, s)));
    const threads = { alone: wasmThreadCount(platform, 1, bytes), together: wasmThreadCount(platform, n, bytes) };
    let params: GenerateParams | undefined;
    o.log?.(
      `browser-wasm concurrency: ${c.dtypes.join(', ')}; ${threads.together} WASM thread(s) each together, ${threads.alone} for a column alone`,
    );
    const rounds = await measureConcurrency(
      {
        prepareTogether: async () => {
          await b.page.loadColumns(BENCH_MODEL_ID, c.stems, { threads: threads.together });
          params = greedyParams((await b.page.buildPrompt(c.promptTokens)).prompt, c.newTokens);
        },
        runTogether: async () =>
          (await b.page.generateAll(params!)).map((r, i) => ({
            dtype: c.dtypes[i],
            tokens: r.ids.length,
            startMs: r.startMs,
            endMs: r.endMs,
          })),
        prepareAlone: async (i) =>
          void (await b.page.loadColumns(BENCH_MODEL_ID, [c.stems[i]], { threads: threads.alone })),
        runAlone: async (i) => {
          const r = await b.page.generate(0, params!);
          return { dtype: c.dtypes[i], tokens: r.ids.length, ms: r.endMs - r.startMs };
        },
      },
      n,
      c.runs,
      c.minMs,
    );
    await b.page.disposeAll();
    return {
      ...concurrencyResult('browser-wasm', rounds),
      threads_alone: threads.alone,
      threads_together: threads.together,
    };
  } finally {
    await b.close();
  }
}
