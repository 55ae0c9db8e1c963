// Download tracking in a column worker: transformers.js's fetch (env.fetch) is the counting fetch
// of src/lib/download/tracked-fetch.ts, and the Hub cache reports its hits and writes here, so one
// load's Hub files are seen as they come (network or browser cache) and can be cancelled. One load
// at a time per worker; snapshots go to the page at most every POST_EVERY_MS, and at once when a
// file starts or ends.

import { parseHubUrl } from '../lib/download/hub-file';
import { DownloadTracker, type DownloadSnapshot } from '../lib/download/progress';
import { isDownload, trackedFetch, type FetchLike } from '../lib/download/tracked-fetch';

const POST_EVERY_MS = 150;
/**
 * After a failure, the load's other downloads may go on this long (to finish and reach the cache,
 * so that Retry does not fetch them again) before they are aborted.
 */
const SETTLE_MS = 3000;

interface LoadDownloads {
  tracker: DownloadTracker;
  ctrl: AbortController;
  /** Hub requests sent whose body has not ended, and files read in full not yet in the cache. */
  unsettled: Set<string>;
  onSettled?: () => void;
  post(now?: boolean): void;
}

let active: LoadDownloads | undefined;

/** The load's record of `url`, when it is a Hub file. */
const loadOf = (url: string) => (active && parseHubUrl(url) ? active : undefined);

const settled = (l: LoadDownloads, url: string) => {
  if (l.unsettled.delete(url)) l.onSettled?.();
};

/**
 * Hub files this worker downloaded while no load was tracked (the memory check reads config.json
 * just before the load), by URL, with their bytes: the load that then finds one in the cache
 * counts it as downloaded, not as a cache hit from an earlier visit.
 */
const fetchedBefore = new Map<string, number>();

const counted: FetchLike = trackedFetch((input, init) => fetch(input, init), {
  signal: () => active?.ctrl.signal,
  start(url, total) {
    const l = loadOf(url);
    l?.tracker.start(url, total);
    l?.post(true);
  },
  progress(url, loaded) {
    const l = loadOf(url);
    if (!l && parseHubUrl(url)) fetchedBefore.set(url, loaded);
    l?.tracker.progress(url, loaded);
    l?.post();
  },
  end(url, ok) {
    const l = loadOf(url);
    if (!l) {
      if (!ok) fetchedBefore.delete(url);
      return;
    }
    l.tracker.end(url, ok);
    // Read in full: settled once it is in the cache.
    if (!ok) settled(l, url);
    l.post(true);
  },
});

/** The fetch transformers.js uses in this worker (tracked while a load runs, counted and checked always). */
export const hubFetch: FetchLike = async (input, init) => {
  const url = String(input);
  const l = isDownload(init) ? loadOf(url) : undefined;
  l?.unsettled.add(url);
  try {
    const res = await counted(input, init);
    // A "missing" answer has no body to wait for.
    if (l && !res.ok) settled(l, url);
    return res;
  } catch (err) {
    if (l) settled(l, url);
    throw err;
  }
};

/** The Hub cache answered `url` (QuantlabCache.match). */
export function hubCacheHit(url: string, res: Response): void {
  const l = loadOf(url);
  if (!l) return;
  const before = fetchedBefore.get(url);
  fetchedBefore.delete(url);
  if (before !== undefined) {
    l.tracker.start(url, before);
    l.tracker.progress(url, before);
    l.tracker.end(url, true);
  } else l.tracker.cached(url, Number(res.headers.get('content-length')) || 0);
  l.post(true);
}

/** The Hub cache has stored `url` (QuantlabCache.put). */
export function hubCacheStored(url: string): void {
  if (active) settled(active, url);
}

/**
 * Tracks the Hub downloads of the load starting now until finish(); cancel() aborts them (the
 * load then fails as 'cancelled').
 */
export function trackDownloads(onSnapshot: (s: DownloadSnapshot) => void): {
  cancel(): void;
  /**
   * Stops tracking and returns the last snapshot. After a failure the load's other downloads get
   * SETTLE_MS to finish and reach the cache (so that Retry does not fetch them again); what is
   * still in flight then is aborted.
   */
  finish(failed: boolean): Promise<DownloadSnapshot>;
} {
  const tracker = new DownloadTracker(() => performance.now());
  let timer: ReturnType<typeof setTimeout> | undefined;
  const send = () => {
    clearTimeout(timer);
    timer = undefined;
    onSnapshot(tracker.snapshot());
  };
  const mine: LoadDownloads = {
    tracker,
    ctrl: new AbortController(),
    unsettled: new Set(),
    post(now = false) {
      if (now) send();
      else timer ??= setTimeout(send, POST_EVERY_MS);
    },
  };
  active = mine;
  return {
    cancel: () => mine.ctrl.abort(),
    async finish(failed) {
      if (failed && active === mine) {
        const deadline = performance.now() + SETTLE_MS;
        while (mine.unsettled.size > 0 && performance.now() < deadline) {
          await new Promise<void>((r) => {
            mine.onSettled = r;
            setTimeout(r, 100);
          });
        }
        mine.ctrl.abort();
      }
      clearTimeout(timer);
      if (active === mine) active = undefined;
      return tracker.snapshot();
    },
  };
}
