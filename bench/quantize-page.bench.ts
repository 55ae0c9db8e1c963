// Benchmark (not a test): the page's main thread while the Quantize dialog runs GPTQ in the builder
// worker. Builds the site, opens aidreams260K through the file input, quantizes it to q4 with gptq
// on the built-in calibration text, and prints the longest main-thread task (CPU ms, from a
// Chromium trace) during the run. Target: no task over 50 ms.
// Run: npx tsx bench/quantize-page.bench.ts [--method gptq] [--bits 4] [--site .cache/browser-site]
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_SITE_DIR, REPO_ROOT, ensureSite, launchChromium, serveStatic } from '../src/node/browser';
import { lastTrace, mainThreadTasks } from '../src/node/trace';

const { values } = parseArgs({
  options: {
    method: { type: 'string', default: 'gptq' },
    bits: { type: 'string', default: '4' },
    site: { type: 'string', default: DEFAULT_SITE_DIR },
  },
});
const LONG_MS = 50;
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

const built = ensureSite(values.site, console.log);
if (built > 0) console.log(`site built in ${(built / 1000).toFixed(0)} s`);
const server = await serveStatic(values.site);
const browser = await launchChromium();
try {
  const page = browser.page;
  const cdp = await page.context().newCDPSession(page);
  await page.goto(`${server.url}?device=wasm&autorun=0`);
  await page.locator('#env[data-ready="true"]').waitFor();
  const model = join(REPO_ROOT, 'models/aidreams260K');
  await page.setInputFiles('#open-files', [join(model, 'aidreams260K.bin'), join(model, 'tok512.bin')]);
  await page
    .locator('#import-status')
    .filter({ hasText: /Imported|Error/ })
    .waitFor({ timeout: 120_000 });
  await page.locator('#quantize').click({ timeout: 120_000 });
  const dialog = page.locator('dialog[open]');
  const checked = await dialog
    .locator('input[type="checkbox"]:checked')
    .evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value));
  for (const v of checked) await dialog.locator(`input[type="checkbox"][value="${v}"]`).uncheck();
  await dialog.locator('input[type="checkbox"][value="q4"]').check();
  await dialog.locator('#quantize-method').selectOption(values.method);
  if (values.bits !== '4') await dialog.locator('#quantize-bits').selectOption(values.bits);
  await dialog.locator('#calib-source').selectOption('builtin');
  console.log(`load average before: ${load()}`);
  const started = performance.now();
  const tasks = await mainThreadTasks(cdp, async () => {
    await dialog.locator('button[type="submit"]').click();
    await dialog.waitFor({ state: 'detached', timeout: 600_000 });
  });
  const seconds = (performance.now() - started) / 1000;
  const status = await page.locator('#import-status').textContent();
  const sorted = [...tasks].sort((a, b) => b.cpuMs - a.cpuMs);
  const long = tasks.filter((t) => t.cpuMs > LONG_MS);
  console.log(`status: ${status}`);
  console.log(
    `${values.method} ${values.bits}-bit of aidreams260K in the page: ${seconds.toFixed(1)} s wall (trace included)`,
  );
  console.log(
    `main-thread tasks: ${tasks.length}; longest ${sorted[0]?.cpuMs.toFixed(1)} ms CPU (${sorted[0]?.wallMs.toFixed(1)} ms wall); ` +
      `next: ${sorted
        .slice(1, 5)
        .map((t) => t.cpuMs.toFixed(1))
        .join(', ')} ms; over ${LONG_MS} ms: ${long.length}`,
  );
  console.log(`trace: ${lastTrace}`);
  console.log(`load average after: ${load()}`);
  if (browser.errors.length > 0) console.log(`page errors: ${browser.errors.join(' | ')}`);
} finally {
  await browser.close();
  await server.close();
}
