// The page's first acts, an entry of its own in index.html listed before main.ts: it runs as soon as
// its few kilobytes have loaded, while the app's bundle (the app, its components, chart.js) is still
// being parsed, and before that bundle's evaluation occupies the main thread (about 0.3 s on two
// cores). It starts the first column's worker (whose start needs a turn of the main thread once its
// script has been fetched), asks for the WebGPU adapter (the first column's choice of device waits
// for it) and reads the built-in model's file list (the columns wait for it). main.ts imports it too
// (the same module, evaluated once).
import { BUILTIN_MODEL_ID } from '../lib/catalog';
import { detectPlatform, type PlatformInfo } from '../lib/page/platform';
import { fetchServedModels, withEarlyRead } from './served-models';
import { prestartColumnWorker } from './workers';

prestartColumnWorker();

/** The browser's platform (WebGPU adapter, isolation, cores), asked for at the page's start. */
export const platformAtStart: Promise<PlatformInfo> = detectPlatform();

/** Reads a served model's file list; the built-in model's, the usual first, was asked for already. */
export const servedModelsAtStart = withEarlyRead(
  {
    id: BUILTIN_MODEL_ID,
    read: fetchServedModels(document.baseURI, BUILTIN_MODEL_ID, fetch, { manifestAtOnce: true }),
  },
  (id) => fetchServedModels(document.baseURI, id),
);
