// Entry point: mounts the Svelte app. The worker factories are also put on window.quantlab so
// the browser tests can drive the real built page.
import { mount } from 'svelte';
import { wrap, type Remote } from 'comlink';
import App from './App.svelte';
import type { PingApi } from '../workers/ping.worker.ts';
import { startBuilderWorker, startColumnWorker } from './browser/workers.ts';

declare global {
  interface Window {
    /** Test hook: the page's comlink handles and worker factories. */
    quantlab?: {
      ping: Remote<PingApi>;
      builder: ReturnType<typeof startBuilderWorker>;
      startColumnWorker: typeof startColumnWorker;
    };
  }
}

const ping = wrap<PingApi>(new Worker(new URL('../workers/ping.worker.ts', import.meta.url), { type: 'module' }));
const builder = startBuilderWorker();
window.quantlab = { ping, builder, startColumnWorker };

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');
mount(App, { target, props: { ping, builder } });
