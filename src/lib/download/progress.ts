// Download progress of one column's load: every file it asks for, read from the network (bytes
// done, total, rate) or from the browser cache, folded into one snapshot the column shows. The
// worker feeds it from its fetch wrapper and its cache; the clock is passed in, so it is tested in Node.

import { formatBytes } from '../variants/info';
import { hostLabel, parseHubUrl } from './hub-file';

export type FileSource = 'network' | 'cache';
export type FileState = 'downloading' | 'done' | 'failed';

export interface FileProgress {
  /** Path in the repository (onnx/model.onnx), or the URL when it names no Hub file. */
  file: string;
  source: FileSource;
  state: FileState;
  loaded: number;
  /** Bytes announced (content-length); 0 when unknown. */
  total: number;
  /** Network files: the recent rate while downloading, the average once done; 0 for cached files. */
  bytesPerSecond: number;
}

export interface DownloadSnapshot {
  /** Where the network files come from (a Hub host), when any did. */
  host?: string;
  files: FileProgress[];
  /** Over the network files: bytes read and announced. */
  loaded: number;
  total: number;
  /** Sum of the rates of the files downloading now. */
  bytesPerSecond: number;
  /** The network file read most recently, while any is downloading. */
  current: string | null;
}

interface Tracked {
  url: string;
  file: string;
  source: FileSource;
  state: FileState;
  loaded: number;
  total: number;
  startMs: number;
  endMs: number;
  /** (time, loaded) samples of the last RATE_WINDOW_MS, oldest first. */
  samples: [number, number][];
}

/** Rates are taken over this much recent time (long enough to smooth chunky reads, short enough to follow a change). */
export const RATE_WINDOW_MS = 1500;

export class DownloadTracker {
  #files = new Map<string, Tracked>();
  #current: string | null = null;
  #host: string | undefined;

  constructor(private readonly now: () => number) {}

  /** A network download of `url` has its response: `total` bytes announced (0: unknown). */
  start(url: string, total: number): void {
    const t = this.now();
    const hub = parseHubUrl(url);
    this.#host ??= hub?.host;
    this.#files.set(url, {
      url,
      file: hub?.path ?? url,
      source: 'network',
      state: 'downloading',
      loaded: 0,
      total: Math.max(0, total),
      startMs: t,
      endMs: t,
      samples: [[t, 0]],
    });
    this.#current = url;
  }

  /** `loaded` bytes of `url` have been read so far. */
  progress(url: string, loaded: number): void {
    const f = this.#files.get(url);
    if (!f || f.state !== 'downloading') return;
    const t = this.now();
    f.loaded = loaded;
    if (f.total > 0 && loaded > f.total) f.total = loaded;
    f.samples.push([t, loaded]);
    // Keep one sample at or before the window's start, as the base of the rate.
    while (f.samples.length > 2 && f.samples[1][0] <= t - RATE_WINDOW_MS) f.samples.shift();
    this.#current = url;
  }

  /** The download of `url` ended: read in full (ok) or not. */
  end(url: string, ok: boolean): void {
    const f = this.#files.get(url);
    if (!f || f.state !== 'downloading') return;
    f.state = ok ? 'done' : 'failed';
    f.endMs = this.now();
    if (ok && f.total === 0) f.total = f.loaded;
    if (this.#current === url) this.#current = null;
  }

  /** `url` was answered from the browser cache (a file downloaded in this load already stays a download). */
  cached(url: string, bytes: number): void {
    if (this.#files.has(url)) return;
    const t = this.now();
    const hub = parseHubUrl(url);
    this.#files.set(url, {
      url,
      file: hub?.path ?? url,
      source: 'cache',
      state: 'done',
      loaded: bytes,
      total: bytes,
      startMs: t,
      endMs: t,
      samples: [],
    });
  }

  /** Whether a network download is in flight. */
  get downloading(): boolean {
    return [...this.#files.values()].some((f) => f.state === 'downloading');
  }

  snapshot(): DownloadSnapshot {
    const t = this.now();
    const files = [...this.#files.values()].map((f) => ({
      file: f.file,
      source: f.source,
      state: f.state,
      loaded: f.loaded,
      total: f.total,
      bytesPerSecond: rateOf(f, t),
    }));
    const net = files.filter((f) => f.source === 'network');
    const current = this.#current ? this.#files.get(this.#current) : undefined;
    return {
      ...(this.#host ? { host: this.#host } : {}),
      files,
      loaded: net.reduce((s, f) => s + f.loaded, 0),
      total: net.reduce((s, f) => s + Math.max(f.total, f.loaded), 0),
      bytesPerSecond: net.filter((f) => f.state === 'downloading').reduce((s, f) => s + f.bytesPerSecond, 0),
      current: current?.state === 'downloading' ? current.file : null,
    };
  }
}

function rateOf(f: Tracked, t: number): number {
  if (f.source === 'cache') return 0;
  if (f.state !== 'downloading') {
    const ms = f.endMs - f.startMs;
    return ms > 0 ? (f.loaded / ms) * 1000 : 0;
  }
  const [t0, b0] = f.samples[0];
  const ms = t - t0;
  return ms > 0 ? ((f.loaded - b0) / ms) * 1000 : 0;
}

/** "850 kB/s", "1.2 MB/s". */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(Math.round(bytesPerSecond))}/s`;
}

/** "1.2 / 3.4 MB" (both in the unit of the total). */
export function formatPart(loaded: number, total: number): string {
  if (total <= 0) return formatBytes(loaded);
  const [div, unit, digits] = total >= 1e9 ? [1e9, 'GB', 2] : total >= 1e6 ? [1e6, 'MB', 1] : [1e3, 'kB', 0];
  return `${(loaded / div).toFixed(digits)} / ${(total / div).toFixed(digits)} ${unit}`;
}

/** One file's line: "onnx/model_q4.onnx 1.2 / 3.4 MB, 850 kB/s", "config.json 1 kB, from browser cache". */
export function fileLine(f: FileProgress): string {
  if (f.source === 'cache') return `${f.file} ${formatBytes(f.total)}, from browser cache`;
  if (f.state === 'done') return `${f.file} ${formatBytes(f.total)}, downloaded`;
  if (f.state === 'failed') return `${f.file} ${formatPart(f.loaded, f.total)}, failed`;
  return `${f.file} ${formatPart(f.loaded, f.total)}, ${formatRate(f.bytesPerSecond)}`;
}

/** Where a finished load's files came from: all cached, all downloaded, or both. */
export type LoadSource = 'cache' | 'network' | 'mixed';

/** What a load read, in one line, e.g. "6 files (1.1 MB) from browser cache, no download". */
export function sourceSummary(s: DownloadSnapshot): { source: LoadSource; text: string } | null {
  if (!s.files.length) return null;
  const cached = s.files.filter((f) => f.source === 'cache');
  const net = s.files.filter((f) => f.source === 'network');
  const n = (k: number) => `${k} file${k === 1 ? '' : 's'}`;
  const bytes = (fs: FileProgress[]) => formatBytes(fs.reduce((a, f) => a + f.total, 0));
  const from = s.host ? ` from ${hostLabel(s.host)}` : '';
  if (!net.length)
    return { source: 'cache', text: `${n(cached.length)} (${bytes(cached)}) from browser cache, no download` };
  const got = `Downloaded ${n(net.length)} (${bytes(net)})${from}`;
  if (!cached.length) return { source: 'network', text: got };
  return { source: 'mixed', text: `${got}; ${n(cached.length)} (${bytes(cached)}) from browser cache` };
}
