// Any Hub model by id, through a Model host, on the built page: a test mirror of the Hub (a Node
// server on another loopback port, so CORS and COEP are real) serves aidreams260K converted by the
// CLI in the Hub layout. The page lists its precisions with their sizes, loads fp32 and q8 from the
// mirror and writes llama2.c's greedy reference text in the fp32 column; each way of failing to
// open a repository gets its named message; the Model host persists and is shared only when it is
// not the Hub; a variant whose weights are in .onnx_data chunks loads from the host. WASM columns throughout.
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKPOINT, greedyReferences, TOKENIZER } from '../helpers/aidreams';
import { runCli } from '../helpers/cli';
import { AIDREAMS_REPO, aidreamsHubFolder } from '../helpers/hub-fixture';
import { startHubMirror, type HubMirror } from '../helpers/hub-mirror';
import { cleanupTempDirs, tempDir } from '../helpers/model-dirs';
import { column, gotoReady, outputOf, waitDone, waitReady } from './columns';
import { openSite, type Site } from './harness';

const KEY = `hub:${AIDREAMS_REPO}`;
const HUB = 'https://huggingface.co';

/** A size as the page words it: MB with one decimal from 1 MB, whole kB below (written out here, not imported). */
const sizeWords = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(0)} kB`);

/** The stems of the variant checkboxes the page offers, in its order. */
const offered = (page: Page) =>
  page.locator('input[data-stem]').evaluateAll((els) => els.map((e) => e.getAttribute('data-stem')));

/** Opens `text` through the #hub-model field and waits until the listing has ended; returns #hub-status. */
async function openById(page: Page, text: string) {
  const status = page.locator('#hub-status');
  const before = Number(await status.getAttribute('data-attempt'));
  await page.locator('#hub-model').fill(text);
  await page.locator('#hub-open').click();
  await page.waitForFunction((n) => {
    const el = document.querySelector('#hub-status');
    return Number(el?.getAttribute('data-attempt')) > n && el?.getAttribute('data-state') !== 'listing';
  }, before);
  return {
    state: await status.getAttribute('data-state'),
    kind: await status.getAttribute('data-kind'),
    text: (await status.textContent())?.trim() ?? '',
  };
}

describe('Hub models by id through a Model host', () => {
  let site: Site;
  let page: Page;
  let mirror: HubMirror;
  let fixture: string;
  const ref = greedyReferences().find((r) => r.prompt === 'I dreamed')!;

  beforeAll(async () => {
    fixture = await aidreamsHubFolder();
    mirror = await startHubMirror();
    mirror.addRepo(AIDREAMS_REPO, fixture);
    mirror.addRepo('quantlab-test/gated', fixture, { access: 'gated' });
    const bare = tempDir();
    mkdirSync(join(bare, 'no-onnx'));
    writeFileSync(join(bare, 'no-onnx', 'config.json'), '{"model_type":"llama"}');
    mirror.addRepo('quantlab-test/no-onnx', join(bare, 'no-onnx'));
    mkdirSync(join(bare, 'whisper', 'onnx'), { recursive: true });
    writeFileSync(join(bare, 'whisper', 'config.json'), '{"model_type":"whisper"}');
    writeFileSync(join(bare, 'whisper', 'onnx', 'model.onnx'), 'not used');
    mirror.addRepo('quantlab-test/whisper', join(bare, 'whisper'));
    site = await openSite();
    page = site.page;
  });

  afterAll(async () => {
    await site?.close();
    await mirror?.close();
    cleanupTempDirs();
  });

  it('opens model=hub:owner/name on host=<mirror>, lists every precision with its size, and writes the reference text in fp32', async () => {
    const t0 = performance.now();
    await gotoReady(page, `${site.server.url}?device=wasm&host=${encodeURIComponent(mirror.url)}&model=${KEY}`);
    await expect.poll(() => page.locator('#model').inputValue()).toBe(KEY);
    expect(await page.locator('#hub-status').getAttribute('data-state')).toBe('ok');
    // Every onnx/*.onnx of the fixture on disk is offered, each with its size.
    const files = readdirSync(join(fixture, 'onnx')).filter((f) => f.endsWith('.onnx'));
    expect(((await offered(page)) as string[]).sort()).toEqual(files.map((f) => f.slice(0, -'.onnx'.length)).sort());
    for (const f of files) {
      const label = await page.locator(`label:has(input[data-stem="${f.slice(0, -'.onnx'.length)}"])`).textContent();
      expect(label, f).toContain(sizeWords(statSync(join(fixture, 'onnx', f)).size));
    }
    const listedMs = performance.now() - t0;

    // Columns: fp32 and q8, nothing else.
    for (const stem of (await offered(page)) as string[]) {
      const box = page.locator(`input[data-stem="${stem}"]`);
      if (stem === 'model' || stem === 'model_quantized') await box.check();
      else await box.uncheck();
    }
    await expect.poll(() => page.locator('article.column').count()).toBe(2);
    mirror.clearLog();
    const t1 = performance.now();
    await page.locator('#load').click();
    await waitReady(page, 'model');
    await waitReady(page, 'model_quantized');
    const loadMs = performance.now() - t1;

    await page.locator('#prompt').fill(ref.prompt);
    await page.locator('#temperature').fill('0');
    await page.locator('#max-new-tokens').fill(String(ref.greedy_ids.length));
    await page.locator('#generate').click();
    await waitDone(page, 'model', 0);
    await waitDone(page, 'model_quantized', 0);
    expect(ref.prompt + (await outputOf(page, 'model'))).toBe(ref.text);
    expect(Number(await column(page, 'model_quantized').getAttribute('data-tokens'))).toBeGreaterThan(0);

    // Every file came from the mirror, asked for by the page's origin (cross-origin), and nothing
    // left this machine.
    const got = mirror.log.filter((e) => e.method === 'GET' && e.status === 200).map((e) => e.path);
    for (const file of [
      'config.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'onnx/model.onnx',
      'onnx/model_quantized.onnx',
    ])
      expect(got, file).toContain(`/${AIDREAMS_REPO}/resolve/main/${file}`);
    const origin = new URL(site.server.url).origin;
    expect(new Set(mirror.log.map((e) => e.origin))).toEqual(new Set([origin]));
    expect(origin).not.toBe(mirror.url);
    expect(site.browser.externalRequests).toEqual([]);
    expect(site.browser.requests.filter((u) => u.includes('huggingface.co'))).toEqual([]);
    const bytes = mirror.log.reduce((n, e) => n + e.bytes, 0);
    console.log(
      `[hub] listing ${listedMs.toFixed(0)} ms; fp32 + q8 downloaded (${(bytes / 1e6).toFixed(2)} MB from the mirror) and loaded in ${loadMs.toFixed(0)} ms`,
    );
  });

  it('loads a variant whose weights are in .onnx_data chunks from the host, writing the same text as its single-file twin', async () => {
    // The same checkpoint, converted with its fp32 weights in several .onnx_data files.
    const ext = join(tempDir('quantlab-hub-ext-'), 'aidreams260K-ext');
    const imp = await runCli([
      'import',
      CHECKPOINT,
      '--tokenizer',
      TOKENIZER,
      '--out',
      ext,
      '--data-chunk-bytes',
      '300000',
      '--quiet',
    ]);
    expect(imp.code, imp.err).toBe(0);
    const chunks = readdirSync(join(ext, 'onnx'))
      .filter((f) => f.startsWith('model.onnx_data'))
      .sort();
    expect(chunks.length).toBeGreaterThan(1);
    const repo = 'quantlab-test/aidreams260K-ext';
    mirror.addRepo(repo, ext);
    await gotoReady(page, `${site.server.url}?device=wasm&host=${encodeURIComponent(mirror.url)}&model=hub:${repo}`);
    await expect.poll(() => page.locator('#model').inputValue()).toBe(`hub:${repo}`);
    // Offered, flagged, and sized as the whole download (the .onnx and every chunk).
    const label = page.locator('label:has(input[data-stem="model"])');
    const total = ['model.onnx', ...chunks].reduce((n, f) => n + statSync(join(ext, 'onnx', f)).size, 0);
    expect(await label.textContent()).toContain(sizeWords(total));
    expect(await label.textContent()).toContain('external data');
    for (const stem of (await offered(page)) as string[]) {
      const box = page.locator(`input[data-stem="${stem}"]`);
      if (stem === 'model') await box.check();
      else await box.uncheck();
    }
    await expect.poll(() => page.locator('article.column').count()).toBe(1);
    mirror.clearLog();
    await page.locator('#load').click();
    await waitReady(page, 'model');
    await page.locator('#prompt').fill(ref.prompt);
    await page.locator('#temperature').fill('0');
    await page.locator('#max-new-tokens').fill(String(ref.greedy_ids.length));
    await page.locator('#generate').click();
    await waitDone(page, 'model', 0);
    expect(ref.prompt + (await outputOf(page, 'model'))).toBe(ref.text);
    const got = mirror.log.filter((e) => e.method === 'GET' && e.status === 200).map((e) => e.path);
    for (const f of chunks) expect(got, f).toContain(`/${repo}/resolve/main/onnx/${f}`);
    expect(site.browser.externalRequests).toEqual([]);
  });

  it('opens the same repository typed into the Hub model field', async () => {
    const builtIn = (await page.locator('#model option[value^="served:"]').first().getAttribute('value'))!;
    await page.locator('#model').selectOption(builtIn);
    await expect.poll(() => page.locator('#model').inputValue()).toBe(builtIn);
    mirror.clearLog();
    const s = await openById(page, ` ${AIDREAMS_REPO} `);
    expect(s.state, s.text).toBe('ok');
    expect(s.text).toContain(`listed by ${mirror.url}`);
    await expect.poll(() => page.locator('#model').inputValue()).toBe(KEY);
    expect(await offered(page)).toContain('model_quantized');
    expect(mirror.log.map((e) => e.path)).toContain(`/api/models/${AIDREAMS_REPO}/tree/main/onnx`);
  });

  it('names each failure with what the host answered and what to try, keeping the current model', async () => {
    const bad = await openById(page, 'aidreams260K');
    expect([bad.state, bad.kind]).toEqual(['error', 'malformed-id']);
    expect(bad.text).toContain('"aidreams260K" is not a Hub repository id: it has no owner');
    expect(bad.text).toContain('Write it as owner/name');

    mirror.missingRepoStatus = 404;
    const missing = await openById(page, 'quantlab-test/missing');
    mirror.missingRepoStatus = 401;
    expect([missing.state, missing.kind]).toEqual(['error', 'not-found']);
    expect(missing.text).toContain(
      `${mirror.url} has no public repository quantlab-test/missing: ${mirror.url} answered 404 RepoNotFound: “Repository not found”`,
    );
    expect(missing.text).toContain('A private repository looks missing too');

    const gated = await openById(page, 'quantlab-test/gated');
    expect([gated.state, gated.kind]).toEqual(['error', 'gated']);
    expect(gated.text).toContain(`quantlab-test/gated is a gated repository: ${mirror.url} answered 401 GatedRepo`);
    expect(gated.text).toContain('QuantLab cannot sign in');

    const noOnnx = await openById(page, 'quantlab-test/no-onnx');
    expect([noOnnx.state, noOnnx.kind]).toEqual(['error', 'no-onnx']);
    expect(noOnnx.text).toContain(`quantlab-test/no-onnx has no onnx/ on ${mirror.url} (404 EntryNotFound`);
    expect(noOnnx.text).toContain('onnx-community/');

    const whisper = await openById(page, 'quantlab-test/whisper');
    expect([whisper.state, whisper.kind]).toEqual(['error', 'unsupported-architecture']);
    expect(whisper.text).toContain("it is a whisper model, which QuantLab's runner does not drive");
    expect(whisper.text).toContain('llama, qwen2');

    await mirror.stop();
    try {
      // Never listed: nothing to fall back on.
      const down = await openById(page, 'quantlab-test/gated');
      expect([down.state, down.kind]).toEqual(['error', 'unreachable']);
      expect(down.text).toContain(`Could not reach ${mirror.url} to list quantlab-test/gated`);
      expect(down.text).toContain('set Model host to a mirror');
      // Listed before: the saved listing opens, and the status says the host was not reached.
      const saved = await openById(page, AIDREAMS_REPO);
      expect(saved.state).toBe('ok');
      expect(saved.text).toContain(`Could not reach ${mirror.url} to list ${AIDREAMS_REPO}`);
      expect(saved.text).toContain('from the listing saved');
      // A column whose files are not cached says which host it could not reach.
      await page.locator('input[data-stem="model_q4"]').check();
      await column(page, 'model_q4').waitFor();
      await page.locator('#load').click();
      const error = column(page, 'model_q4').locator('.column-error');
      await error.waitFor({ timeout: 60_000 });
      expect(await error.textContent()).toContain(
        `Could not reach the Model host ${mirror.url} to load ${AIDREAMS_REPO}`,
      );
    } finally {
      await mirror.restart();
    }
    // None of those replaced the model that was open.
    expect(await page.locator('#model').inputValue()).toBe(KEY);
  });

  it('keeps the Model host across a reload, in the share link only while it is not the Hub', async () => {
    await expect.poll(() => new URL(page.url()).searchParams.get('host')).toBe(mirror.url);
    await gotoReady(page, `${site.server.url}?device=wasm`);
    expect(await page.locator('#model-host').inputValue()).toBe(mirror.url);
    await expect.poll(() => page.locator('#model').inputValue()).toBe(KEY);
    await expect.poll(() => new URL(page.url()).searchParams.get('host')).toBe(mirror.url);

    await page.locator('#model-host').fill('mirror.example.org');
    await page.locator('#model-host-set').click();
    await expect
      .poll(() => page.locator('#model-host-status').textContent())
      .toContain('Model host "mirror.example.org" is not a URL');
    expect(await page.locator('#model-host-status').getAttribute('class')).toContain('error');

    // Back to the Hub, on the built-in model (the Hub itself is unreachable from here).
    const builtIn = (await page.locator('#model option[value^="served:"]').first().getAttribute('value'))!;
    await page.locator('#model').selectOption(builtIn);
    await page.locator('#model-host').fill(`${HUB}/`);
    await page.locator('#model-host-set').click();
    await expect.poll(() => page.locator('#model-host').inputValue()).toBe(HUB);
    await expect.poll(() => new URL(page.url()).searchParams.has('host')).toBe(false);
    await expect.poll(() => new URL(page.url()).searchParams.get('model')).toBe(builtIn);
    await gotoReady(page, `${site.server.url}?device=wasm`);
    expect(await page.locator('#model-host').inputValue()).toBe(HUB);
    expect(new URL(page.url()).searchParams.has('host')).toBe(false);
    expect(site.browser.externalRequests).toEqual([]);
  });
});
