// The pure parts of downloads (src/lib/download): reading Hub URLs back, progress and rate from a
// fake clock, each fault's message, and the Storage panel's grouping. Expected figures are worked
// out here by hand from the bytes and times fed in.
import { describe, expect, it } from 'vitest';
import { groupCacheEntries } from '../../src/lib/download/cache-entries';
import { checkBody, describeFault, faultOfHubError } from '../../src/lib/download/faults';
import { parseHubUrl } from '../../src/lib/download/hub-file';
import { DownloadTracker, fileLine, formatPart, RATE_WINDOW_MS, sourceSummary } from '../../src/lib/download/progress';

const HOST = 'http://127.0.0.1:4321';
const url = (path: string, repo = 'owner/model') => `${HOST}/${repo}/resolve/main/${path}`;

describe('parseHubUrl', () => {
  it('reads host, repo, revision and path, with a mirror path prefix and escapes', () => {
    expect(parseHubUrl(url('onnx/model_q4.onnx'))).toEqual({
      host: HOST,
      repo: 'owner/model',
      revision: 'main',
      path: 'onnx/model_q4.onnx',
    });
    expect(parseHubUrl('https://example.org/hf/a/b/resolve/v1.0/tokenizer.json')).toEqual({
      host: 'https://example.org/hf',
      repo: 'a/b',
      revision: 'v1.0',
      path: 'tokenizer.json',
    });
    expect(parseHubUrl('https://huggingface.co/a/b/resolve/main/dir%20x/f%2B1.json')?.path).toBe('dir x/f+1.json');
  });

  it('gives undefined for URLs that name no Hub file', () => {
    expect(parseHubUrl('http://site/models/quantlab-tiny/config.json')).toBeUndefined();
    expect(parseHubUrl('https://huggingface.co/a/b/resolve/main')).toBeUndefined();
    expect(parseHubUrl('not a url')).toBeUndefined();
  });
});

describe('DownloadTracker', () => {
  function clock() {
    let t = 0;
    return { now: () => t, advance: (ms: number) => (t += ms) };
  }

  it('counts bytes per file and takes the rate over the recent window', () => {
    const c = clock();
    const tr = new DownloadTracker(c.now);
    tr.start(url('onnx/model.onnx'), 3_000_000);
    // 50 kB every 50 ms for 1 s: 1 MB/s.
    for (let i = 1; i <= 20; i++) {
      c.advance(50);
      tr.progress(url('onnx/model.onnx'), i * 50_000);
    }
    let s = tr.snapshot();
    expect(s.host).toBe(HOST);
    expect(s.current).toBe('onnx/model.onnx');
    expect(s.files).toHaveLength(1);
    expect(s.files[0]).toMatchObject({ file: 'onnx/model.onnx', source: 'network', state: 'downloading' });
    expect(s.files[0].loaded).toBe(1_000_000);
    expect(s.files[0].bytesPerSecond).toBeCloseTo(1e6, 3);
    expect(fileLine(s.files[0])).toBe('onnx/model.onnx 1.0 / 3.0 MB, 1.0 MB/s');

    // Then 10 kB every 50 ms for 2 s (200 kB/s): past the window only the new rate counts.
    for (let i = 1; i <= 40; i++) {
      c.advance(50);
      tr.progress(url('onnx/model.onnx'), 1_000_000 + i * 10_000);
    }
    s = tr.snapshot();
    expect(2000).toBeGreaterThan(RATE_WINDOW_MS);
    expect(s.files[0].bytesPerSecond).toBeCloseTo(200_000, 3);
    expect(s.loaded).toBe(1_400_000);
    expect(s.total).toBe(3_000_000);
  });

  it('adds up concurrent downloads and keeps cached files apart', () => {
    const c = clock();
    const tr = new DownloadTracker(c.now);
    tr.cached(url('config.json'), 600);
    tr.start(url('tokenizer.json'), 40_000);
    tr.start(url('onnx/model.onnx'), 1_000_000);
    c.advance(500);
    tr.progress(url('tokenizer.json'), 20_000); // 40 kB/s
    tr.progress(url('onnx/model.onnx'), 100_000); // 200 kB/s
    let s = tr.snapshot();
    expect(s.bytesPerSecond).toBeCloseTo(240_000, 3);
    expect(s.loaded).toBe(120_000);
    expect(s.total).toBe(1_040_000);
    expect(s.files.find((f) => f.file === 'config.json')).toEqual({
      file: 'config.json',
      source: 'cache',
      state: 'done',
      loaded: 600,
      total: 600,
      bytesPerSecond: 0,
    });

    c.advance(500);
    tr.progress(url('tokenizer.json'), 40_000);
    tr.end(url('tokenizer.json'), true);
    s = tr.snapshot();
    // Done: its average rate (40 kB in 1 s), no longer in the sum.
    const tok = s.files.find((f) => f.file === 'tokenizer.json')!;
    expect(tok.state).toBe('done');
    expect(tok.bytesPerSecond).toBeCloseTo(40_000, 3);
    expect(fileLine(tok)).toBe('tokenizer.json 40 kB, downloaded');
    expect(s.bytesPerSecond).toBeCloseTo(100_000, 3); // model.onnx: 100 kB over 1 s, nothing since 0.5 s
    // A hit for a file this load downloaded does not turn it into a cached one.
    tr.cached(url('tokenizer.json'), 40_000);
    expect(tr.snapshot().files.find((f) => f.file === 'tokenizer.json')!.source).toBe('network');

    tr.end(url('onnx/model.onnx'), false);
    s = tr.snapshot();
    expect(s.current).toBeNull();
    expect(tr.downloading).toBe(false);
    expect(fileLine(s.files.find((f) => f.file === 'onnx/model.onnx')!)).toBe('onnx/model.onnx 0.1 / 1.0 MB, failed');
    expect(fileLine(s.files.find((f) => f.file === 'config.json')!)).toBe('config.json 600 B, from browser cache');
  });

  it('says where a load read its files', () => {
    const c = clock();
    const all = new DownloadTracker(c.now);
    all.cached(url('config.json'), 600);
    all.cached(url('onnx/model.onnx'), 1_200_000);
    expect(sourceSummary(all.snapshot())).toEqual({
      source: 'cache',
      text: '2 files (1.2 MB) from browser cache, no download',
    });
    const mixed = new DownloadTracker(c.now);
    mixed.cached(url('config.json'), 600);
    mixed.start(url('onnx/model.onnx'), 1_200_000);
    mixed.progress(url('onnx/model.onnx'), 1_200_000);
    mixed.end(url('onnx/model.onnx'), true);
    expect(sourceSummary(mixed.snapshot())).toEqual({
      source: 'mixed',
      text: 'Downloaded 1 file (1.2 MB) from 127.0.0.1:4321; 1 file (600 B) from browser cache',
    });
    expect(sourceSummary(new DownloadTracker(c.now).snapshot())).toBeNull();
  });

  it('formats parts in the unit of the total', () => {
    expect(formatPart(1_234_567, 3_456_789)).toBe('1.2 / 3.5 MB');
    expect(formatPart(500, 40_000)).toBe('1 / 40 kB');
    expect(formatPart(1.5e9, 4.94e9)).toBe('1.50 / 4.94 GB');
    expect(formatPart(1234, 0)).toBe('1 kB');
  });
});

describe('download faults', () => {
  it('classifies a body by the bytes that came and how it ended', () => {
    const u = url('onnx/model.onnx');
    expect(checkBody(u, 1000, 1000, 'done')).toBeUndefined();
    expect(checkBody(u, 1000, 0, 'done')).toBeUndefined();
    expect(checkBody(u, 400, 1000, 'done')).toEqual({ kind: 'truncated', url: u, received: 400, expected: 1000 });
    expect(checkBody(u, 400, 1000, 'error')).toEqual({ kind: 'dropped', url: u, received: 400, expected: 1000 });
    // An error after every byte is still a broken read: nothing of it may be kept.
    expect(checkBody(u, 1000, 1000, 'error')?.kind).toBe('dropped');
  });

  it('names the file, the repository and the host, and what to do', () => {
    const u = url('onnx/model_q4.onnx');
    const missing = describeFault({ kind: 'status', url: u, status: 404 });
    expect(missing.message).toBe('onnx/model_q4.onnx of owner/model was not found on 127.0.0.1:4321 (HTTP 404)');
    expect(missing.detail).toMatch(/Model host \(127\.0\.0\.1:4321\)/);
    const server = describeFault({ kind: 'status', url: u, status: 503 });
    expect(server.message).toBe(
      '127.0.0.1:4321 failed to send onnx/model_q4.onnx of owner/model (HTTP 503, a server error on its side)',
    );
    expect(server.detail).toMatch(/^Try again later with Retry\. .*Retry fetches only what is missing/);
    expect(describeFault({ kind: 'status', url: u, status: 401 }).message).toMatch(/private, gated or does not exist/);
    const gone = describeFault({ kind: 'unreachable', url: u, reason: 'Failed to fetch' });
    expect(gone.code).toBe('offline');
    expect(gone.detail).toMatch(/Open a local model instead/);
    expect(
      describeFault({ kind: 'unreachable', url: 'https://huggingface.co/a/b/resolve/main/config.json' }).message,
    ).toBe('Could not reach the Hugging Face Hub to load a/b (no answer for config.json)');
    expect(gone.message).toBe(
      'Could not reach 127.0.0.1:4321 to load owner/model (no answer for onnx/model_q4.onnx: Failed to fetch)',
    );
    const dropped = describeFault({ kind: 'dropped', url: u, received: 1_000_000, expected: 3_000_000 });
    expect(dropped.message).toMatch(/broke off after 1\.0 \/ 3\.0 MB/);
    expect(dropped.detail).toMatch(/^Nothing of this file was kept/);
    const cut = describeFault({ kind: 'truncated', url: u, received: 1_000_000, expected: 3_000_000 });
    expect(cut.message).toBe(
      '127.0.0.1:4321 sent only 1.0 / 3.0 MB of onnx/model_q4.onnx of owner/model: the file is truncated',
    );
    expect(cut.detail).toMatch(/^The partial file was not kept/);
  });

  it("reads transformers.js's not-found error (status and quoted URL)", () => {
    const u = url('onnx/model.onnx');
    const err = Object.assign(new Error(`Could not locate file: "${u}".`), { status: 404 });
    expect(faultOfHubError(err)).toEqual({ kind: 'status', url: u, status: 404 });
    expect(faultOfHubError(new Error(`Could not locate file: "${u}".`))).toBeUndefined();
    expect(faultOfHubError('text')).toBeUndefined();
  });
});

describe('groupCacheEntries', () => {
  it('groups by host and repository with sizes, largest first', () => {
    const groups = groupCacheEntries([
      { url: url('onnx/model.onnx', 'a/small'), bytes: 100 },
      { url: url('config.json', 'a/big'), bytes: 50 },
      { url: url('onnx/model.onnx', 'a/big'), bytes: 1000 },
      { url: 'https://huggingface.co/a/big/resolve/main/config.json', bytes: 60 },
      { url: url('tokenizer.json', 'a/small'), bytes: 20 },
      { url: `${HOST}/a/big/resolve/v2/config.json`, bytes: 70 },
    ]);
    expect(
      groups.map((g) => ({ host: g.host, repo: g.repo, bytes: g.bytes, files: g.files.map((f) => [f.path, f.bytes]) })),
    ).toEqual([
      {
        host: '127.0.0.1:4321',
        repo: 'a/big',
        bytes: 1120,
        files: [
          ['config.json', 50],
          ['config.json @v2', 70],
          ['onnx/model.onnx', 1000],
        ],
      },
      {
        host: '127.0.0.1:4321',
        repo: 'a/small',
        bytes: 120,
        files: [
          ['onnx/model.onnx', 100],
          ['tokenizer.json', 20],
        ],
      },
      { host: 'huggingface.co', repo: 'a/big', bytes: 60, files: [['config.json', 60]] },
    ]);
    expect(groups[0].files.map((f) => f.url)).toContain(`${HOST}/a/big/resolve/v2/config.json`);
  });
});
