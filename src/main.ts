// Entry point: starts the first column's worker and the playground state (the builder worker on its
// first task), mounts the Svelte app, and puts the worker handles and the state on window.quantlab
// so the browser tests can drive the real page.
// First (and before this bundle, as its own entry in index.html): starts the first column's worker
// and asks for the WebGPU adapter and the built-in model's file list.
import { platformAtStart, servedModelsAtStart } from './browser/prestart';
import { mount } from 'svelte';
import './styles/tokens.css';
import App from './App.svelte';
import { lazyWorker, startBuilderWorker, startColumnWorker, type LazyWorkerHandle } from './browser/workers';
import type { BuilderApi } from '../workers/protocol';
import { listModels } from './browser/opfs-store';
import { Lab } from './state/lab.svelte.ts';
import { Library } from './state/library.svelte.ts';
import { Playground } from './state/playground.svelte.ts';
import { Presets } from './state/presets.svelte.ts';
import { presetFromQuery } from './lib/page/preset-url';
import { Chart } from './components/charts';
import { needsWasmCachePrimer } from './lib/page/wasm-cache';
import { primeWasmCache } from './browser/wasm-cache';

declare global {
  interface Window {
    /** Test hook: the page's comlink handles, worker factories and playground state. */
    quantlab?: {
      builder: LazyWorkerHandle<BuilderApi>;
      startColumnWorker: typeof startColumnWorker;
      playground: Playground;
      lab: Lab;
      presets: Presets;
      /** chart.js, for its instances (Chart.getChart(canvas)): the tests read the colours charts resolved. */
      Chart: typeof Chart;
      /** The WASM code cache after start-up (lib/page/wasm-cache.ts): the first-token bench waits for it. */
      wasmCache: { state: 'pending' | 'priming' | 'primed' | 'failed' | 'not-needed' };
    };
  }
}

// The builder worker (importer, quantizers, ONNX Runtime) starts on its first task: at start-up it
// would take a core from the first column's worker; the stored models are listed from the page.
const builder = lazyWorker(startBuilderWorker);
const pg = new Playground(
  new Library(builder, () => listModels({ prune: false })),
  startColumnWorker,
  servedModelsAtStart,
  undefined,
  () => platformAtStart,
);
const lab = new Lab(pg, startColumnWorker);
const presets = new Presets(pg, lab);
const wasmCache: NonNullable<Window['quantlab']>['wasmCache'] = { state: 'pending' };
window.quantlab = { builder, startColumnWorker, playground: pg, lab, presets, Chart, wasmCache };

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');
mount(App, { target, props: { pg, lab, presets } });
// A preset link (?preset=...) is read before init mirrors the settings into the address bar.
const presetLink = presetFromQuery(location.search);
void presets.loadModels();
// init() runs once the app has been painted (at most 100 ms on, as a hidden tab paints nothing): the
// platform and the built-in model's file list (asked for by prestart.ts) are usually known by then,
// and init would otherwise go on in this task to make the columns and start the first generation,
// putting the first paint off by about 0.25 s (trial: first contentful paint at 0.84-1.04 s against
// 0.59-0.72). The first column's runtime start it asks for then goes straight to its worker:
// Chromium holds messages posted to a worker before the page has heard that its script ran, and
// this page hears that only between tasks.
await new Promise((resolve) => {
  requestAnimationFrame(() => setTimeout(resolve, 0));
  setTimeout(resolve, 100);
});
const navigation = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined;
const opened = pg.init(location.search, { reload: navigation?.type === 'reload' });
// The page-level ready flag (tests wait for it): set once init() has selected the start-up model
// and the app is on the page.
void opened
  .finally(() => document.documentElement.setAttribute('data-ready', 'true'))
  .then(() => presets.openWith(presetLink));
// Once started, ONNX Runtime's compiled code is kept for the next visit (lib/page/wasm-cache.ts).
void pg.started().then(async () => {
  const threads = pg.columns.filter((c) => c.device?.device === 'wasm').map((c) => c.threads);
  if (!needsWasmCachePrimer(self.crossOriginIsolated, navigator.hardwareConcurrency ?? 1, threads))
    return void (wasmCache.state = 'not-needed');
  wasmCache.state = 'priming';
  wasmCache.state = (await primeWasmCache(startColumnWorker)) ? 'primed' : 'failed';
});
addEventListener('pagehide', () => {
  pg.persistNow();
  lab.saveNow();
});
