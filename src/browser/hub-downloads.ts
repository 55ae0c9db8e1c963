// Download tracking in a column worker: transformers.js's fetch (env.fetch) is the counting fetch
// of src/lib/download/tracked-fetch.ts, and the Hub cache reports its hits here, so one load's
// files are seen as they come (network or browser cache) and can be cancelled. One load at a time
// per worker; snapshots go to the page at most every POST_EVERY_MS, and at once when a file starts or ends.

import { DownloadTracker, type DownloadSnapshot } from '../lib/download/progress';
import { trackedFetch, type FetchLike } from '../lib/download/tracked-fetch';

const POST_EVERY_MS = 150;

interface LoadDownloads {
  tracker: DownloadTracker;
  ctrl: AbortController;
  post(now?: boolean): void;
}

let active: LoadDownloads | undefined;

/** The fetch transformers.js uses in this worker (tracked while a load runs, counted and checked always). */
export const hubFetch: FetchLike = trackedFetch((input, init) => fetch(input, init), {
  signal: () => active?.ctrl.signal,
  start(url, total) {
    active?.tracker.start(url, total);
    active?.post(true);
  },
  progress(url, loaded) {
    active?.tracker.progress(url, loaded);
    active?.post();
  },
  end(url, ok) {
    active?.tracker.end(url, ok);
    active?.post(true);
  },
});

/** The Hub cache answered `url` (QuantlabCache.match). */
export function hubCacheHit(url: string, res: Response): void {
  if (!active) return;
  active.tracker.cached(url, Number(res.headers.get('content-length')) || 0);
  active.post(true);
}

/**
 * Tracks the downloads of the load starting now until end(); cancel() aborts them (the load then
 * fails as 'cancelled').
 */
export function trackDownloads(onSnapshot: (s: DownloadSnapshot) => void): {
  cancel(): void;
  /** Stops tracking; returns the last snapshot. */
  end(): DownloadSnapshot;
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
    post(now = false) {
      if (now) send();
      else timer ??= setTimeout(send, POST_EVERY_MS);
    },
  };
  active = mine;
  return {
    cancel: () => mine.ctrl.abort(),
    end() {
      clearTimeout(timer);
      if (active === mine) active = undefined;
      return tracker.snapshot();
    },
  };
}
