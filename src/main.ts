// Entry point: starts the page's worker and mounts the Svelte app. The worker handle is also put
// on window.quantlab so the browser tests can drive the real built page.
import { mount } from 'svelte';
import { wrap, type Remote } from 'comlink';
import App from './App.svelte';
import type { PingApi } from '../workers/ping.worker.ts';

declare global {
  interface Window {
    /** Test hook: the page's comlink handles. */
    quantlab?: { ping: Remote<PingApi> };
  }
}

const ping = wrap<PingApi>(new Worker(new URL('../workers/ping.worker.ts', import.meta.url), { type: 'module' }));
window.quantlab = { ping };

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');
mount(App, { target, props: { ping } });
