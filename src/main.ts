// Entry point: starts the builder worker and the playground state, mounts the Svelte app, and puts
// the worker handles and the state on window.quantlab so the browser tests can drive the real page.
import { mount } from 'svelte';
import App from './App.svelte';
import { prestartColumnWorker, startBuilderWorker, startColumnWorker } from './browser/workers';
import { Lab } from './state/lab.svelte.ts';
import { Library } from './state/library.svelte.ts';
import { Playground } from './state/playground.svelte.ts';

declare global {
  interface Window {
    /** Test hook: the page's comlink handles, worker factories and playground state. */
    quantlab?: {
      builder: ReturnType<typeof startBuilderWorker>;
      startColumnWorker: typeof startColumnWorker;
      playground: Playground;
      lab: Lab;
    };
  }
}

// The first column's worker loads its scripts while the page starts (time to first token).
prestartColumnWorker();
const builder = startBuilderWorker();
const pg = new Playground(new Library(builder), startColumnWorker);
const lab = new Lab(pg, startColumnWorker);
window.quantlab = { builder, startColumnWorker, playground: pg, lab };

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');
mount(App, { target, props: { pg, lab } });
void pg.init(location.search);
addEventListener('pagehide', () => {
  pg.persistNow();
  lab.saveNow();
});
