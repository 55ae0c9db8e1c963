// Downloads on the built page from the test Hub mirror (a Node server on another loopback port, so
// the page's requests are cross-origin under COEP): per-file progress while a throttled file comes
// in, aidreams260K's fp32 column writing llama2.c's greedy text, a second load from the browser
// cache with no request (the mirror stopped), each fault's message and a Retry that fetches only
// what is missing, Cancel, and the Storage panel's sizes, quota and delete. The page opens the model
// by id on the mirror (host= and model=hub: in its URL); the mirror's request log says what went
// over the network.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { greedyReferences } from '../helpers/aidreams';
import { AIDREAMS_REPO, aidreamsHubFolder } from '../helpers/hub-fixture';
import { startHubMirror, type HubMirror, type MirrorFault } from '../helpers/hub-mirror';
import { cleanupTempDirs } from '../helpers/model-dirs';
import { openSite, type Site } from './harness';
import { column, gotoReady, outputOf, waitSettled } from './columns';

const STEM = 'model';
const ONNX = 'onnx/model.onnx';
/** The files transformers.js reads for one text-generation variant (generation_config.json is optional to it). */
const FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', ONNX];
const HUB_CACHE = 'quantlab-hub-v1';

describe('downloads from a model host', () => {
  let mirror: HubMirror;
  let site: Site;
  let page: Page;
  let dir: string;
  let pageUrl: string;
  const ref = greedyReferences()[0];
  const sizes: Record<string, number> = {};
  const fileUrl = (f: string) => `${mirror.url}/${AIDREAMS_REPO}/resolve/main/${f}`;

  /**
   * File downloads the mirror logged: GETs of resolve/, without the one-byte probes (transformers.js
   * asks for bytes=0-0 to learn a size; Chromium for bytes=N-N before it resumes a download its
   * HTTP cache holds part of, after a cut or a cancel, with a range request for the rest).
   */
  const probe = (range: string | undefined) => /^bytes=(\d+)-\1$/.test(range ?? '');
  const fetched = () =>
    mirror.log
      .filter((r) => r.method === 'GET' && r.path.includes('/resolve/') && !probe(r.range))
      .map((r) => ({
        file: r.path.split('/resolve/main/')[1],
        status: r.status,
        outcome: r.outcome,
        bytes: r.bytes,
        range: r.range,
      }));
  /** The file's bytes the request asked for, from where its range starts to the end. */
  const rangeStart = (range: string | undefined) => Number(/^bytes=(\d+)-\d*$/.exec(range ?? 'bytes=0-')?.[1] ?? NaN);
  /** Files fetched in full (200, complete). */
  const completed = () =>
    fetched()
      .filter((r) => r.status === 200 && r.outcome === 'complete')
      .map((r) => r.file);

  const status = () => column(page, STEM).getAttribute('data-status');
  const generation = async () => Number(await column(page, STEM).getAttribute('data-generation'));
  const waitStatus = (want: RegExp, timeout = 60_000) => expect.poll(status, { timeout, interval: 50 }).toMatch(want);
  /** A file's row in the column's download list, read in one go (null: not listed). */
  const fileRow = (file: string) =>
    page.evaluate((file) => {
      const li = document.querySelector(`article.column li.file[data-file="${file}"]`);
      if (!li) return null;
      return {
        state: li.getAttribute('data-state') ?? '',
        loaded: Number(li.getAttribute('data-loaded')),
        total: Number(li.getAttribute('data-total')),
        text: (li.textContent ?? '').trim(),
      };
    }, file);
  const inCache = (f: string) =>
    page.evaluate(async ({ name, url }) => (await (await caches.open(name)).match(url)) !== undefined, {
      name: HUB_CACHE,
      url: fileUrl(f),
    });
  const clearCache = () => page.evaluate((name) => caches.delete(name), HUB_CACHE);
  /** The column's load time (ms), as its figures show it. */
  const loadMs = () => page.evaluate(() => window.quantlab!.playground.columns[0].timings?.loadMs ?? NaN);
  /** Shown text plus prompt is llama2.c's greedy text, token for token. */
  async function expectReference() {
    const ids = await page.evaluate(() => window.quantlab!.playground.columns[0].ids);
    expect(ids).toEqual(ref.greedy_ids);
    expect(ref.prompt + (await outputOf(page, STEM))).toBe(ref.text);
  }
  async function unload() {
    // Only a loaded column has a worker to unload (a failed load has ended its worker already).
    if (!/^(ready|done)$/.test((await status()) ?? '')) return;
    await column(page, STEM).locator('button', { hasText: 'Unload' }).click();
    await waitStatus(/^idle$/);
  }
  /** Presses Generate and waits until the column has settled on the new generation; returns its status. */
  async function generate(): Promise<string> {
    const gen = await generation();
    await page.locator('#generate').click();
    return settled(gen);
  }
  /** waitSettled, saying what the column shows when it does not settle. */
  async function settled(gen: number): Promise<string> {
    try {
      return await waitSettled(page, STEM, gen);
    } catch (err) {
      const shown = (await column(page, STEM).textContent())?.replace(/\s+/g, ' ');
      throw new Error(`${String(err)}; status ${await status()}: ${shown}; mirror log ${JSON.stringify(mirror.log)}`, {
        cause: err,
      });
    }
  }
  /** Runs `fn` with a mirror fault on, removed however `fn` ends. */
  async function withFault<T>(fault: MirrorFault, fn: () => Promise<T>): Promise<T> {
    const off = mirror.addFault(fault);
    try {
      return await fn();
    } finally {
      off();
    }
  }
  const sumOf = (files: string[]) => files.reduce((s, f) => s + sizes[f], 0);
  const hostText = () => mirror.url.slice(7).replace(/\./g, '\\.');

  beforeAll(async () => {
    dir = await aidreamsHubFolder();
    for (const f of FILES) sizes[f] = statSync(join(dir, f)).size;
    mirror = await startHubMirror();
    mirror.addRepo(AIDREAMS_REPO, dir);
    site = await openSite();
    page = site.page;
    const q = new URLSearchParams({
      device: 'wasm',
      host: mirror.url,
      model: `hub:${AIDREAMS_REPO}`,
      variants: STEM,
      temperature: '0',
      seed: '1',
      max_new_tokens: String(ref.greedy_ids.length),
      prompt: ref.prompt,
      live: '0',
    });
    pageUrl = `${site.server.url}?${q}`;
    await gotoReady(page, pageUrl);
    await column(page, STEM).waitFor();
  });

  afterAll(async () => {
    await site?.close();
    await mirror?.close();
    cleanupTempDirs();
  });

  it('shows each file with bytes, total and rate while it downloads, then writes the reference text', async () => {
    // About 3 s for the weights, so that progress is seen several times.
    const bytesPerSecond = Math.ceil(sizes[ONNX] / 3);
    mirror.clearLog();
    const seen: { loaded: number; total: number; text: string }[] = [];
    let line = '';
    const outcome = await withFault({ path: `*/${ONNX}`, kind: 'throttle', bytesPerSecond }, async () => {
      const gen = await generation();
      await page.locator('#generate').click();
      await expect
        .poll(
          async () => {
            const row = await fileRow(ONNX);
            if (row?.state === 'downloading' && row.loaded > 0 && row.loaded !== seen.at(-1)?.loaded) seen.push(row);
            return seen.length;
          },
          { timeout: 30_000, interval: 100 },
        )
        .toBeGreaterThanOrEqual(3);
      line = (await column(page, STEM).locator('.downloads .dl-total').textContent())?.trim() ?? '';
      return settled(gen);
    });
    console.log(`[downloads] progress seen: ${JSON.stringify(seen)}; ${line}`);
    for (const s of seen) {
      expect(s.total).toBe(sizes[ONNX]);
      expect(s.loaded).toBeLessThan(sizes[ONNX]);
      // "onnx/model.onnx 112 / 963 kB, 305 kB/s"
      expect(s.text).toMatch(/^onnx\/model\.onnx [\d.]+ \/ [\d.]+ (kB|MB), [\d.]+ (kB|MB)\/s$/);
    }
    expect(seen.map((s) => s.loaded)).toEqual([...seen.map((s) => s.loaded)].sort((a, b) => a - b));
    // The rate shown is the throttle's, within a factor of two (a moving window over chunky reads).
    const rate = /, ([\d.]+) (kB|MB)\/s$/.exec(seen.at(-1)!.text)!;
    const shown = Number(rate[1]) * (rate[2] === 'MB' ? 1e6 : 1e3);
    expect(shown).toBeGreaterThan(bytesPerSecond / 2);
    expect(shown).toBeLessThan(bytesPerSecond * 2);
    expect(line).toMatch(new RegExp(`^Downloading [\\d.]+ / [\\d.]+ (kB|MB) from ${hostText()}, [\\d.]+ (kB|MB)/s`));

    expect(outcome).toBe('done');
    await expectReference();
    const summary = column(page, STEM).locator('.files-summary');
    expect(await summary.getAttribute('data-source')).toBe('network');
    expect(await summary.textContent()).toMatch(/^Downloaded 5 files \([\d.]+ (kB|MB)\) from 127\.0\.0\.1:\d+$/);
    // Each file once, whole, asked for by the site's origin (cross-origin to the mirror).
    expect(completed().sort()).toEqual([...FILES].sort());
    expect(fetched()).toHaveLength(FILES.length);
    expect([...new Set(mirror.log.map((r) => r.origin))]).toEqual([site.server.url.replace(/\/$/, '')]);
  });

  it('loads again from the browser cache with no request, also with the host stopped', async () => {
    await unload();
    mirror.clearLog();
    let t0 = performance.now();
    expect(await generate()).toBe('done');
    console.log(
      `[downloads] from the cache: load ${(await loadMs()).toFixed(0)} ms, Generate to done ${(performance.now() - t0).toFixed(0)} ms`,
    );
    await expectReference();
    expect(mirror.log).toEqual([]);
    const summary = column(page, STEM).locator('.files-summary');
    expect(await summary.getAttribute('data-source')).toBe('cache');
    expect(await summary.textContent()).toMatch(/^5 files \([\d.]+ (kB|MB)\) from browser cache, no download$/);

    // The host unreachable, the page reloaded: the same text from the cache.
    await mirror.stop();
    try {
      const before = site.browser.requests.length;
      t0 = performance.now();
      await gotoReady(page, pageUrl);
      await column(page, STEM).waitFor();
      console.log(`[downloads] reload with the host stopped: page ready in ${(performance.now() - t0).toFixed(0)} ms`);
      t0 = performance.now();
      expect(await generate()).toBe('done');
      console.log(
        `[downloads] host stopped, from the cache: load ${(await loadMs()).toFixed(0)} ms, Generate to done ${(performance.now() - t0).toFixed(0)} ms`,
      );
      await expectReference();
      // No file was asked of the host (the page's attempt to list the repository again is not a download).
      expect(
        site.browser.requests.slice(before).filter((u) => u.startsWith(mirror.url) && u.includes('/resolve/')),
      ).toEqual([]);
      expect(await summary.getAttribute('data-source')).toBe('cache');
    } finally {
      await mirror.restart();
    }
  });

  const faults: { name: string; fault: MirrorFault; message: () => RegExp; detail: RegExp }[] = [
    {
      name: '404',
      fault: { path: `*/${ONNX}`, kind: 'status', status: 404 },
      message: () => new RegExp(`onnx/model\\.onnx of ${AIDREAMS_REPO} was not found on ${hostText()} \\(HTTP 404\\)`),
      detail: /Check the model id and precision, and the Model host/,
    },
    {
      name: '500',
      fault: { path: `*/${ONNX}`, kind: 'status', status: 500 },
      message: () =>
        new RegExp(
          `${hostText()} failed to send onnx/model\\.onnx of ${AIDREAMS_REPO} \\(HTTP 500, a server error on its side\\)`,
        ),
      detail: /Try again later with Retry/,
    },
    {
      // Cut mid-body (a reset also throws away what the browser had not read yet).
      name: 'dropped connection',
      fault: { path: `*/${ONNX}`, kind: 'drop' },
      message: () =>
        new RegExp(
          `The download of onnx/model\\.onnx of ${AIDREAMS_REPO} from ${hostText()} broke off after [\\d.]+ / [\\d.]+ kB \\(the connection dropped`,
        ),
      detail: /Nothing of this file was kept/,
    },
    {
      // Chromium itself fails a body shorter than its content-length (ERR_CONTENT_LENGTH_MISMATCH)
      // as a network error, which the page cannot tell from a drop: the message says both.
      name: 'truncated body',
      fault: { path: `*/${ONNX}`, kind: 'truncate' },
      message: () =>
        new RegExp(
          `The download of onnx/model\\.onnx of ${AIDREAMS_REPO} from ${hostText()} broke off after [\\d.]+ / [\\d.]+ kB \\(.*the host sent less than it announced\\)`,
        ),
      detail: /Nothing of this file was kept/,
    },
  ];

  for (const f of faults) {
    it(`a ${f.name} gives its message; Retry, once it is fixed, fetches only what is missing`, async () => {
      await unload();
      await clearCache();
      mirror.clearLog();
      const error = column(page, STEM).locator('.column-error');
      const before: string[] = [];
      await withFault(f.fault, async () => {
        expect(await generate()).toBe('error');
        const text = (await error.textContent())?.replace(/\s+/g, ' ').trim() ?? '';
        console.log(`[downloads] ${f.name}: ${text}`);
        expect(text).toMatch(/^Could not load:/);
        expect(text).toMatch(f.message());
        expect(text).toMatch(f.detail);
        // Nothing of the faulty file is in the cache; the files read before it are.
        expect(completed()).not.toContain(ONNX);
        expect(await inCache(ONNX)).toBe(false);
        for (const file of FILES) if (await inCache(file)) before.push(file);
        for (const file of ['tokenizer.json', 'tokenizer_config.json', 'config.json']) expect(before).toContain(file);
      });

      mirror.clearLog();
      await error.locator('button', { hasText: 'Retry' }).click();
      await waitStatus(/^(done|error|idle)$/);
      const after = await status();
      if (after !== 'done')
        console.log(
          `[downloads] ${f.name}: Retry ended ${after}: ${await column(page, STEM).textContent()} ${JSON.stringify(mirror.log)}`,
        );
      expect(after).toBe('done');
      await expectReference();
      const log = fetched();
      const again = log.map((r) => r.file);
      console.log(
        `[downloads] ${f.name}: in the cache after the fault ${JSON.stringify(before)}, fetched on Retry ${JSON.stringify(log)}`,
      );
      // Each request got the rest of its file (all of it, or what Chromium's HTTP cache lacked).
      for (const r of log) expect(rangeStart(r.range) + r.bytes, r.file).toBe(sizes[r.file]);
      expect(again).toContain(ONNX);
      expect(new Set(again).size).toBe(again.length);
      for (const file of again) expect(before).not.toContain(file);
      expect(new Set([...before, ...again])).toEqual(new Set(FILES));
      expect(await inCache(ONNX)).toBe(true);
      expect(await column(page, STEM).locator('.files-summary').getAttribute('data-source')).toBe('mixed');
    });
  }

  it('Cancel stops a download: the column is idle, says so, keeps no partial file, and loads later', async () => {
    await unload();
    await clearCache();
    mirror.clearLog();
    await withFault({ path: `*/${ONNX}`, kind: 'throttle', bytesPerSecond: Math.ceil(sizes[ONNX] / 20) }, async () => {
      await page.locator('#generate').click();
      await expect
        .poll(async () => ((await fileRow(ONNX))?.state === 'downloading' ? (await fileRow(ONNX))!.loaded : 0), {
          timeout: 30_000,
          interval: 100,
        })
        .toBeGreaterThan(0);
      await column(page, STEM).locator('.downloads button', { hasText: 'Cancel' }).click();
      await waitStatus(/^idle$/, 10_000);
      // The mirror saw the client go away mid-body.
      await expect
        .poll(() => mirror.log.find((r) => r.path.endsWith(ONNX) && !r.range)?.outcome, { timeout: 5_000 })
        .toBe('aborted');
    });
    const notice = (await column(page, STEM).locator('.column-notice').textContent()) ?? '';
    console.log(`[downloads] cancel: ${notice}`);
    expect(notice).toMatch(
      /^Download cancelled: onnx\/model\.onnx \([\d.]+ \/ [\d.]+ (kB|MB)\) not kept; \d files read in full stay in the browser cache/,
    );
    expect(await column(page, STEM).locator('.column-error').count()).toBe(0);
    expect(mirror.log.find((r) => r.path.endsWith(ONNX) && !r.range)!.bytes).toBeLessThan(sizes[ONNX]);
    expect(await inCache(ONNX)).toBe(false);

    mirror.clearLog();
    expect(await generate()).toBe('done');
    await expectReference();
    const log = fetched();
    console.log(`[downloads] after cancel, Generate fetched ${JSON.stringify(log)}`);
    expect(log.map((r) => r.file)).toEqual([ONNX]);
    expect(rangeStart(log[0].range) + log[0].bytes).toBe(sizes[ONNX]);
  });

  it('the Storage panel lists the model with sizes and the quota; Delete removes it, and the next load downloads again', async () => {
    await page.locator('#storage summary').click();
    const model = page.locator(`#storage li.cached-model[data-repo="${AIDREAMS_REPO}"]`);
    await model.waitFor({ timeout: 10_000 });
    expect(Number(await model.getAttribute('data-bytes'))).toBe(sumOf(FILES));
    for (const f of FILES)
      expect(Number(await model.locator(`li[data-path="${f}"]`).getAttribute('data-bytes')), f).toBe(sizes[f]);
    expect(await model.getAttribute('data-host')).toBe(mirror.url.slice(7));
    // Only Hub files are kept there.
    expect(await page.locator('#storage li.cached-model').count()).toBe(1);
    const quota = page.locator('#storage .quota');
    await expect.poll(() => quota.getAttribute('data-quota')).toMatch(/^\d+$/);
    const q = Number(await quota.getAttribute('data-quota'));
    const usage = Number(await quota.getAttribute('data-usage'));
    console.log(`[downloads] storage estimate: usage ${usage} B of quota ${q} B`);
    expect(q).toBeGreaterThan(sumOf(FILES));
    expect(usage).toBeGreaterThan(0);
    expect(await quota.textContent()).toMatch(/This site uses .* of the .* the browser allows it/);

    await model.locator('button', { hasText: 'Delete' }).click();
    await page.locator('#storage .empty').waitFor({ timeout: 10_000 });
    expect(await page.locator('#storage li.cached-model').count()).toBe(0);
    for (const f of FILES) expect(await inCache(f), f).toBe(false);

    await unload();
    mirror.clearLog();
    const t0 = performance.now();
    expect(await generate()).toBe('done');
    console.log(
      `[downloads] after Delete, from the mirror (unthrottled): load ${(await loadMs()).toFixed(0)} ms, Generate to done ${(performance.now() - t0).toFixed(0)} ms`,
    );
    await expectReference();
    expect(completed().sort()).toEqual([...FILES].sort());
    expect(await column(page, STEM).locator('.files-summary').getAttribute('data-source')).toBe('network');
  });
});
