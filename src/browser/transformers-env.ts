// transformers.js settings for a column or builder worker: ONNX Runtime's wasm from our own
// server, user models served from OPFS through a custom cache, Hub files cached in Cache Storage
// and downloaded through a counting fetch (progress, faults, cancel: hub-downloads.ts).

import { env } from '@huggingface/transformers';
import { transformersRemoteHost } from '../lib/hub/host';
import { parseHubUrl } from '../lib/download/hub-file';
import { appRootUrl } from '../lib/page/ort-assets';
import { LOCAL_PREFIX, type ModelRef } from '../lib/model/ref';
import { HUB_CACHE } from './hub-cache';
import { hubCacheHit, hubCacheStored, hubFetch } from './hub-downloads';
import { readModelFile } from './opfs-store';

/** Answers transformers.js's cache look-ups: OPFS for user models, Cache Storage for the Hub. */
class QuantlabCache {
  async match(key: string | Request): Promise<Response | undefined> {
    const url = typeof key === 'string' ? key : key.url;
    const at = url.indexOf(`${LOCAL_PREFIX}/`);
    if (at >= 0) {
      const [id, ...path] = url.slice(at + LOCAL_PREFIX.length + 1).split('/');
      const file = await readModelFile(decodeURIComponent(id), path.map(decodeURIComponent).join('/'));
      return file ? new Response(file, { headers: { 'content-length': String(file.size) } }) : undefined;
    }
    // Served models (the app's models/ folder): transformers.js 4.3.1 skips its local-file
    // check when localModelPath is an absolute URL, so answer them here from our own server.
    if (!env.allowRemoteModels && url.startsWith(new URL('models/', appRootUrl()).href)) {
      const res = await fetch(url);
      return res.ok ? res : undefined;
    }
    if (!isHubFile(url)) return undefined;
    const hit = await (await caches.open(HUB_CACHE)).match(url);
    if (hit) hubCacheHit(url, hit);
    return hit;
  }
  async put(key: string | Request, response: Response): Promise<void> {
    const url = typeof key === 'string' ? key : key.url;
    if (!isHubFile(url)) return;
    await (await caches.open(HUB_CACHE)).put(url, response);
    hubCacheStored(url);
  }
}

/**
 * Only Hub files (`…/resolve/…`) are kept: transformers.js also offers this cache ONNX Runtime's
 * wasm, which comes from our own server and must follow its updates.
 */
function isHubFile(url: string): boolean {
  return (
    /^https?:/.test(url) && !url.includes(`${LOCAL_PREFIX}/`) && typeof caches !== 'undefined' && !!parseHubUrl(url)
  );
}

export function configureBrowserTransformers(): void {
  env.allowLocalModels = true;
  env.localModelPath = new URL('models/', appRootUrl()).href;
  env.useBrowserCache = false;
  env.useCustomCache = true;
  env.customCache = new QuantlabCache() as unknown as typeof env.customCache;
  env.fetch = hubFetch;
  // ONNX Runtime fetches its .wasm itself: compiled while it downloads (instantiateStreaming), and
  // from the browser's code cache on later visits. transformers.js's own cache would hand it an
  // ArrayBuffer instead, compiled from scratch on every visit and after the whole download.
  env.useWasmCache = false;
  // ONNX Runtime's own settings (its files, threads) are the worker's: workers/column-runtime.ts.
}

/**
 * Only Hub models may reach the network, and only their Model host (ref.host; the Hub when
 * absent); local and served ones must never fall back to it.
 */
export function allowNetworkFor(ref: ModelRef): void {
  env.allowRemoteModels = ref.kind === 'hub';
  env.remoteHost = transformersRemoteHost(ref.kind === 'hub' ? ref.host : undefined);
}
