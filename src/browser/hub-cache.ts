// The browser cache of Hub downloads (Cache Storage 'quantlab-hub-v1', written by the column
// workers' QuantlabCache in transformers-env.ts) as the Storage panel sees it: its entries with
// sizes, deleting some or all, and the origin's quota and usage.

import type { CacheEntry } from '../lib/download/cache-entries';

/** The Cache Storage cache Hub files are kept in (one entry per file URL). */
export const HUB_CACHE = 'quantlab-hub-v1';

function cacheStorage(): CacheStorage | undefined {
  return typeof caches === 'undefined' ? undefined : caches;
}

/** Every cached Hub file with its size (content-length as stored, else the body's size). */
export async function listHubCache(): Promise<CacheEntry[]> {
  const cs = cacheStorage();
  if (!cs || !(await cs.has(HUB_CACHE))) return [];
  const cache = await cs.open(HUB_CACHE);
  const out: CacheEntry[] = [];
  for (const req of await cache.keys()) {
    const res = await cache.match(req);
    if (!res) continue;
    const declared = Number(res.headers.get('content-length'));
    const bytes = Number.isFinite(declared) && declared > 0 ? declared : (await res.blob()).size;
    out.push({ url: req.url, bytes });
  }
  return out;
}

/** Deletes these URLs from the Hub cache. */
export async function deleteHubFiles(urls: readonly string[]): Promise<void> {
  const cs = cacheStorage();
  if (!cs) return;
  const cache = await cs.open(HUB_CACHE);
  await Promise.all(urls.map((u) => cache.delete(u)));
}

/** Deletes the whole Hub cache. */
export async function clearHubCache(): Promise<void> {
  await cacheStorage()?.delete(HUB_CACHE);
}

/** The origin's storage use and quota (navigator.storage.estimate()), when the browser says. */
export async function storageEstimate(): Promise<{ usage?: number; quota?: number }> {
  if (typeof navigator === 'undefined' || !navigator.storage?.estimate) return {};
  const e = await navigator.storage.estimate();
  return { usage: e.usage, quota: e.quota };
}
