// The fetch transformers.js downloads Hub files with (its env.fetch): every body is counted as it
// is read, so progress and rate come from the bytes off the network; a body that breaks off or
// ends short of its content-length fails the read (transformers.js then caches nothing of it);
// an error status other than "missing" fails with the column's message; an abort signal cancels;
// whole files skip the HTTP cache (the Hub cache keeps them, once).
// Statuses 401/403/404 (and 416) go back to transformers.js, which knows which files are optional.

import { QuantlabError } from '../errors';
import { checkBody, describeFault, type DownloadFault } from './faults';
import { parseHubUrl } from './hub-file';

export interface FetchObserver {
  /** The signal of the load in flight (aborting it cancels its downloads). */
  signal?(): AbortSignal | undefined;
  /** A response came for `url`: `total` bytes announced (0: unknown). */
  start?(url: string, total: number): void;
  progress?(url: string, loaded: number): void;
  /** The body was read in full (ok) or not. */
  end?(url: string, ok: boolean): void;
}

export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

/**
 * Statuses transformers.js handles itself: "file not found" (skipped for optional files), and 416,
 * what a zero-length file answers to its one-byte range probe.
 */
const MISSING = new Set([401, 403, 404, 416]);

function faultError(f: DownloadFault): QuantlabError {
  const e = describeFault(f);
  return new QuantlabError(e.code, e.message, e.detail);
}

function cancelled(url: string): QuantlabError {
  const file = parseHubUrl(url)?.path ?? url;
  return new QuantlabError('cancelled', `Cancelled the download of ${file}`);
}

/** A plain GET of a whole file (what transformers.js sends to download one). */
export function isDownload(init: RequestInit = {}): boolean {
  return (init.method ?? 'GET').toUpperCase() === 'GET' && !new Headers(init.headers).has('range');
}

/** Wraps `base` (the browser's fetch) as described above. */
export function trackedFetch(base: FetchLike, obs: FetchObserver = {}): FetchLike {
  return async (input, init = {}) => {
    const url = String(input);
    const signal = obs.signal?.();
    if (signal?.aborted) throw cancelled(url);
    // Whole files bypass the browser's HTTP cache: they are kept once, in the Hub cache.
    const opts: RequestInit = {
      ...init,
      ...(signal ? { signal } : {}),
      ...(isDownload(init) ? { cache: 'no-store' } : {}),
    };
    let res: Response;
    try {
      res = await base(input, opts);
    } catch (err) {
      if (signal?.aborted) throw cancelled(url);
      throw faultError({ kind: 'unreachable', url, reason: err instanceof Error ? err.message : String(err) });
    }
    if (!res.ok) {
      if (MISSING.has(res.status)) return res;
      void res.body?.cancel().catch(() => {});
      throw faultError({ kind: 'status', url, status: res.status });
    }
    // Only whole files are downloads: not HEAD, not the one-byte range requests transformers.js
    // sends to learn a file's size.
    if (!isDownload(init) || res.status !== 200 || !res.body) return res;
    const expected = Number(res.headers.get('content-length') ?? 0) || 0;
    obs.start?.(url, expected);
    const reader = res.body.getReader();
    let received = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(ctrl) {
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } catch {
          obs.end?.(url, false);
          ctrl.error(signal?.aborted ? cancelled(url) : faultError(checkBody(url, received, expected, 'error')!));
          return;
        }
        if (r.done) {
          const fault = checkBody(url, received, expected, 'done');
          obs.end?.(url, !fault);
          if (fault) ctrl.error(faultError(fault));
          else ctrl.close();
          return;
        }
        received += r.value.byteLength;
        obs.progress?.(url, received);
        ctrl.enqueue(r.value);
      },
      cancel(reason) {
        obs.end?.(url, false);
        return reader.cancel(reason);
      },
    });
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}
