// The page state of downloads: a Column's Cancel (the worker asked to cancel, not terminated; the
// column idle with a notice saying what was cut and kept) and the files a load reports, and the
// Storage panel's state (StorageState) over a fake cache: grouping, deleting one repository's
// files exactly, deleting all, and a failure shown as a message.

import { describe, expect, it } from 'vitest';
import { Column } from '../../src/state/column.svelte.ts';
import { StorageState, type StorageIo } from '../../src/state/storage.svelte.ts';
import type { CacheEntry } from '../../src/lib/download/cache-entries';
import type { DownloadSnapshot } from '../../src/lib/download/progress';
import type { Outcome } from '../../src/lib/runner/types';
import { fakeVariant, fakeWorkers } from './state-fakes';

const HOST = 'http://127.0.0.1:4000';
const url = (repo: string, path: string) => `${HOST}/${repo}/resolve/main/${path}`;

const SNAPSHOT: DownloadSnapshot = {
  host: HOST,
  files: [
    { file: 'config.json', source: 'cache', state: 'done', loaded: 600, total: 600, bytesPerSecond: 0 },
    { file: 'tokenizer.json', source: 'cache', state: 'done', loaded: 20_000, total: 20_000, bytesPerSecond: 0 },
    {
      file: 'onnx/model.onnx',
      source: 'network',
      state: 'failed',
      loaded: 400_000,
      total: 1_000_000,
      bytesPerSecond: 0,
    },
  ],
  loaded: 400_000,
  total: 1_000_000,
  bytesPerSecond: 0,
  current: null,
};

function hubColumn(outcome: () => Promise<Outcome<{ loadMs: number; threads: number; downloads?: DownloadSnapshot }>>) {
  const fw = fakeWorkers(
    (w) =>
      (w.loadOutcome = async () => {
        const o = await outcome();
        return o.ok ? { ok: true, value: { ...o.value, betweenTokens: 'every-8-ms' } } : o;
      }),
  );
  const c = new Column({ kind: 'hub', id: 'o/m', host: HOST }, fakeVariant('model'), {
    startWorker: fw.start,
    platform: () => ({ crossOriginIsolated: true, webgpu: null, hardwareConcurrency: 2 }),
    devicePreference: () => 'wasm',
  });
  return { c, workers: fw.workers };
}

describe('Column downloads', () => {
  it('Cancel asks the worker to cancel its downloads and leaves the column idle, saying what was cut and what was kept', async () => {
    let settle!: (o: Outcome<{ loadMs: number; threads: number }>) => void;
    const { c, workers } = hubColumn(() => new Promise((r) => (settle = r)));
    const loading = c.load();
    await Promise.resolve();
    expect(c.status).toBe('loading');
    c.downloads = SNAPSHOT;
    c.cancelDownload();
    // Its own message: a generation's cancel() must not cut a load's downloads.
    await expect.poll(() => workers[0].loadCancels).toBe(1);
    expect(workers[0].cancels).toBe(0);
    settle({ ok: false, error: { code: 'cancelled', message: 'Cancelled the download of onnx/model.onnx' } });
    expect(await loading).toBe(false);
    expect(c.status).toBe('idle');
    expect(c.error).toBeNull();
    expect(workers[0].terminated).toBe(false);
    expect(c.notice).toBe(
      'Download cancelled: onnx/model.onnx (0.4 / 1.0 MB) not kept; 2 files read in full stay in the browser cache. Generate loads it again.',
    );
    // Not loading: nothing to cancel.
    c.cancelDownload();
    await Promise.resolve();
    expect(workers[0].loadCancels).toBe(1);
  });

  it("keeps the files the load reports (from the worker's answer)", async () => {
    const done = { ...SNAPSHOT, files: SNAPSHOT.files.slice(0, 2), loaded: 0, total: 0 };
    const { c } = hubColumn(async () => ({ ok: true, value: { loadMs: 3, threads: 1, downloads: done } }));
    expect(await c.load()).toBe(true);
    expect(c.downloads).toEqual(done);
  });
});

function fakeIo(entries: CacheEntry[], fail = false) {
  const deleted: string[][] = [];
  let cleared = 0;
  const io: StorageIo = {
    list: async () => {
      if (fail) throw new Error('SecurityError');
      return entries.filter((e) => !deleted.flat().includes(e.url) && cleared === 0);
    },
    deleteFiles: async (urls) => void deleted.push([...urls]),
    clear: async () => void cleared++,
    estimate: async () => ({ usage: 5_000, quota: 1e10 }),
  };
  return { io, deleted, cleared: () => cleared };
}

describe('StorageState', () => {
  const ENTRIES = [
    { url: url('a/one', 'config.json'), bytes: 10 },
    { url: url('a/one', 'onnx/model.onnx'), bytes: 1000 },
    { url: url('b/two', 'config.json'), bytes: 20 },
  ];

  it('lists by repository with the quota, and deletes exactly one repository', async () => {
    const { io, deleted } = fakeIo(ENTRIES);
    const s = new StorageState(io);
    await s.refresh();
    expect(s.hub.map((g) => [g.repo, g.bytes])).toEqual([
      ['a/one', 1010],
      ['b/two', 20],
    ]);
    expect([s.usage, s.quota, s.listed]).toEqual([5_000, 1e10, true]);
    await s.removeModel(s.hub[0].key);
    expect(deleted).toEqual([[url('a/one', 'config.json'), url('a/one', 'onnx/model.onnx')]]);
    expect(s.hub.map((g) => g.repo)).toEqual(['b/two']);
  });

  it('deletes all, and says when the storage cannot be read', async () => {
    const ok = fakeIo(ENTRIES);
    const s = new StorageState(ok.io);
    await s.refresh();
    await s.removeAll();
    expect(ok.cleared()).toBe(1);
    expect(s.hub).toEqual([]);

    const bad = new StorageState(fakeIo(ENTRIES, true).io);
    await bad.refresh();
    expect(bad.error).toMatch(/^Could not read or change the browser's storage: SecurityError\. Reload the page/);
    expect(bad.busy).toBe(false);
  });
});
