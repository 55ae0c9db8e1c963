// The Storage panel's view of the Hub cache: its entries (one per downloaded file URL) grouped by
// host and repository, with each file's size and the group's total, largest first.

import { hostLabel, parseHubUrl } from './hub-file';

export interface CacheEntry {
  url: string;
  bytes: number;
}

export interface CachedModel {
  /** host + repo: what deleting the group removes. */
  key: string;
  host: string;
  /** owner/name, or the URL's origin for entries that name no Hub file. */
  repo: string;
  files: { path: string; bytes: number; url: string }[];
  bytes: number;
}

/** Groups cache entries by host and repository; files sorted by path, groups by size (largest first). */
export function groupCacheEntries(entries: readonly CacheEntry[]): CachedModel[] {
  const groups = new Map<string, CachedModel>();
  for (const e of entries) {
    const hub = parseHubUrl(e.url);
    const host = hub ? hostLabel(hub.host) : safeOrigin(e.url);
    const repo = hub ? hub.repo : '(other files)';
    const path = hub ? (hub.revision === 'main' ? hub.path : `${hub.path} @${hub.revision}`) : e.url;
    const key = `${host} ${repo}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { key, host, repo, files: [], bytes: 0 }));
    g.files.push({ path, bytes: e.bytes, url: e.url });
    g.bytes += e.bytes;
  }
  const out = [...groups.values()];
  for (const g of out) g.files.sort((a, b) => a.path.localeCompare(b.path));
  return out.sort((a, b) => b.bytes - a.bytes || a.key.localeCompare(b.key));
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
