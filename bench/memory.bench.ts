// Benchmark (not a test): memory one playground column holds in Chromium, per fixture and
// precision, against the page's estimate (src/lib/page/memory-budget.ts); and, with --columns N,
// N columns of one fixture loading at once in the real playground (the six-column hang of issue 12).
//
// Memory is the resident set summed over the Chromium process tree from /proc (src/node/memory.ts),
// before and after one column loads in a fresh browser, and its peak while loading (sampled every
// 50 ms). Why /proc rather than the browser's own figures: a column's weights live in ONNX Runtime's
// WebAssembly heap inside a worker, and neither CDP's Performance.getMetrics (the page's JS heap
// only, not its workers' wasm memory) nor performance.measureUserAgentSpecificMemory (per-frame
// attribution that may take tens of seconds to report and leaves out memory the runtime holds
// outside JS objects) sees all of it; the resident set does, and the difference before/after one
// load in a fresh browser is that column's cost whatever process holds it.
//
// Run: npx tsx bench/memory.bench.ts [--models quantlab-tiny,aidreams260K,smollm2-135m]
//        [--dtypes fp32,fp16,q8,q4,bnb4,q4f16] [--prompt-tokens 64 --new-tokens 64]
//      npx tsx bench/memory.bench.ts --columns 6 --models smollm2-135m [--timeout 300 --budget-mb 100000]
//      npx tsx bench/memory.bench.ts --stack 4 --models quantlab-tiny --dtypes fp32,q4
//      npx tsx bench/memory.bench.ts --sequential model_q4f16,model,model_fp16,model_quantized,model_q4,model_bnb4
//        --models smollm2-135m --timeout 480
// Figures from 2026-12-02 (Chromium 156, 2 cores, 24 GiB; issue 12's closing note has the tables):
// - one column each: see WEIGHT_FACTORS and COLUMN_OVERHEAD_BYTES in src/lib/page/memory-budget.ts;
// - six 135M columns in the playground, all loading at once: the renderer reached 6.2 GB, loads took
//   70-194 s and two made no progress for 120 s (the watchdog ended them); one at a time (the load
//   gate) five loaded in 30-48 s each and the sixth made no progress for 120 s;
// - --sequential in the bench page (no watchdog): five loaded, then the sixth hung for 320 s with the
//   renderer flat at 5.2 GB; eight q4f16 columns hung at the fifth with the renderer at 3.7 GB. Eight
//   aidreams260K columns load in 43 s: the hang follows the memory held, not the number of workers.
// The fixtures are built as bench/run.ts builds them (.cache/bench/<model>), quantlab-tiny is the
// served model in public/models (npm run models).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { main } from '../src/cli/main';
import { FP32_STEM, stemOf, variantFromStem } from '../src/lib/variants/table';
import { ensureSite, launchChromium, serveStatic } from '../src/node/browser';
import { BENCH_MODEL_ID, openBenchPage } from '../src/node/bench-browser';
import { descendants, PeakSampler, processMemory, treeMemorySampler } from '../src/node/memory';
import { estimateColumnMemory, readModelShape, weightFormat } from '../src/lib/page/memory-budget';
import { greedyParams } from '../src/lib/bench/measure';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'quantlab-tiny,aidreams260K,smollm2-135m' },
    dtypes: { type: 'string', default: 'fp32,fp16,q8,q4,bnb4,q4f16' },
    'prompt-tokens': { type: 'string', default: '64' },
    'new-tokens': { type: 'string', default: '64' },
    columns: { type: 'string' },
    stack: { type: 'string' },
    timeout: { type: 'string', default: '300' },
    'budget-mb': { type: 'string', default: '0' },
    sequential: { type: 'string' },
  },
});

const REPO = resolve(import.meta.dirname, '..');
const CACHE = join(REPO, '.cache/bench');
const AIDREAMS = resolve(REPO, '../shared/models/aidreams260K');
const MB = 1024 * 1024;
const mb = (b: number) => `${(b / MB).toFixed(1)}`;

async function cli(args: string[]): Promise<void> {
  const code = await main(args);
  if (code !== 0) throw new Error(`quantlab ${args.join(' ')} failed (exit ${code})`);
}

/** The fixture's folder, built (and quantized to `dtypes`) if missing. */
async function fixture(name: string, dtypes: string[]): Promise<string> {
  if (name === 'quantlab-tiny') return join(REPO, 'public/models/quantlab-tiny');
  const dir = join(CACHE, name);
  if (!existsSync(join(dir, 'onnx/model.onnx'))) {
    if (name === 'aidreams260K')
      await cli([
        'import',
        join(AIDREAMS, 'aidreams260K.bin'),
        '--tokenizer',
        join(AIDREAMS, 'tok512.bin'),
        '--out',
        dir,
        '--overwrite',
      ]);
    else if (name === 'smollm2-135m')
      await cli(['tiny', '--smollm2-135m', '--seed', '0', '--out', dir, '--overwrite', '--quiet']);
    else throw new Error(`Unknown model ${name}: use quantlab-tiny, aidreams260K, smollm2-135m`);
  }
  const missing = dtypes.filter((d) => d !== 'fp32' && !existsSync(join(dir, 'onnx', `${stemOf(d)}.onnx`)));
  if (missing.length) await cli(['quantize', dir, '--dtype', missing.join(','), '--quiet']);
  return dir;
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `count` columns of one precision in a fresh Chromium, loaded one after another: tree RSS before,
 * peak while loading, after loading and after the first column generates.
 */
async function measureColumn(
  site: string,
  dir: string,
  dtype: string,
  promptTokens: number,
  newTokens: number,
  count = 1,
) {
  const stem = dtype === 'fp32' ? FP32_STEM : stemOf(dtype)!;
  const b = await openBenchPage(site, dir);
  const read = treeMemorySampler(process.pid, 1);
  try {
    await settle(1000);
    const before = read();
    const sampler = new PeakSampler(read, 50).start();
    const t0 = performance.now();
    await b.page.loadColumns(BENCH_MODEL_ID, Array<string>(count).fill(stem));
    const loadMs = performance.now() - t0;
    const loadPeak = sampler.peak;
    await settle(500);
    const loaded = read();
    const p = await b.page.buildPrompt(promptTokens);
    await b.page.generate(0, greedyParams(p.prompt, newTokens));
    await settle(500);
    const generated = read();
    const peak = sampler.peak;
    sampler.stop();
    return { before, loadPeak, loaded, generated, peak, loadMs };
  } finally {
    await b.close();
  }
}

const dtypes = values.dtypes!.split(',').filter(Boolean);
const models = values.models!.split(',').filter(Boolean);
const site = join(CACHE, 'site');
ensureSite(site, (l) => console.error(`[memory] ${l}`));

if (values.sequential) {
  // The bench page (no budget, no watchdog) loading the given variants one after another: how the
  // six-column hang shows there. Prints the renderer's memory every 10 s until all have loaded or
  // --timeout passes.
  const dir = await fixture(models[0], dtypes);
  const stems = values.sequential.split(',');
  const b = await openBenchPage(site, dir);
  const t0 = Date.now();
  let done = false;
  const loads = b.page.loadColumns(BENCH_MODEL_ID, stems).then(
    (ms) => console.log(`[memory] all loaded at ${Date.now() - t0} ms: ${ms.map((m) => Math.round(m)).join(', ')} ms`),
    (e) => console.log(`[memory] failed at ${Date.now() - t0} ms: ${e}`),
  );
  void loads.finally(() => (done = true));
  while (!done && Date.now() - t0 < Number(values.timeout) * 1000) {
    await settle(10_000);
    const big = Math.max(...descendants(process.pid).map(processMemory));
    console.log(`[memory] ${Math.round((Date.now() - t0) / 1000)} s: renderer ${mb(big)} MB`);
  }
  if (!done) console.log(`[memory] not loaded after ${values.timeout} s`);
  await b.close();
  process.exit(0);
} else if (values.stack) {
  // The fixed cost of one more column: k columns of the same precision against one.
  const k = Number(values.stack);
  console.log(`| model | dtype | 1 column MB | ${k} columns MB | each further column MB |`);
  console.log('|---|---|---|---|---|');
  for (const name of models) {
    const dir = await fixture(name, dtypes);
    for (const dtype of dtypes) {
      const one = await measureColumn(site, dir, dtype, 8, 8, 1);
      const many = await measureColumn(site, dir, dtype, 8, 8, k);
      const a = one.loaded - one.before;
      const b = many.loaded - many.before;
      console.log(`| ${name} | ${dtype} | ${mb(a)} | ${mb(b)} | ${mb((b - a) / (k - 1))} |`);
    }
  }
} else if (values.columns) {
  await sixColumns(Number(values.columns), models[0], dtypes, Number(values.timeout) * 1000);
} else {
  console.log(
    '| model | dtype | file MB | estimate MB (weights + KV + overhead) | loaded MB | after generate MB | load peak MB | load s |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const name of models) {
    const dir = await fixture(name, dtypes);
    const shape = readModelShape(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
    for (const dtype of dtypes) {
      const stem = dtype === 'fp32' ? FP32_STEM : stemOf(dtype)!;
      const file = join(dir, 'onnx', `${stem}.onnx`);
      if (!existsSync(file)) continue;
      const bytes = Number(spawnSync('stat', ['-c', '%s', file], { encoding: 'utf8' }).stdout.trim());
      const v = variantFromStem(stem, bytes);
      const est = estimateColumnMemory({
        fileBytes: bytes,
        format: weightFormat(v),
        float16: v.needsShaderF16,
        device: 'wasm',
        shape,
        tokens: Number(values['prompt-tokens']) + Number(values['new-tokens']),
      });
      const m = await measureColumn(site, dir, dtype, Number(values['prompt-tokens']), Number(values['new-tokens']));
      console.log(
        `| ${name} | ${dtype} | ${mb(bytes)} | ${mb(est.total)} (${mb(est.weights)} + ${mb(est.kvCache)} + ${mb(est.overhead)}) | ${mb(m.loaded - m.before)} | ${mb(m.generated - m.before)} | ${mb(m.loadPeak - m.before)} | ${(m.loadMs / 1000).toFixed(1)} |`,
      );
    }
  }
}

/**
 * `n` columns of one fixture (its first n precisions, repeating) in the real playground, all
 * loading at once as Generate makes them: prints each column's status and the memory of every
 * Chromium process every 5 s until every column has ended its load or `timeoutMs` passes.
 */
async function sixColumns(n: number, name: string, dtypes: string[], timeoutMs: number): Promise<void> {
  const dir = await fixture(name, dtypes);
  // The playground offers the served model quantlab-tiny: serve the fixture under that name.
  const models = mkdtempSync(join(tmpdir(), 'quantlab-memory-'));
  mkdirSync(join(models, 'm'));
  symlinkSync(dir, join(models, 'm/quantlab-tiny'));
  spawnSync(process.execPath, [join(REPO, 'scripts/served-models-index.mjs'), join(models, 'm')], { stdio: 'inherit' });
  const server = await serveStatic(site, { mounts: { '/models/': join(models, 'm') } });
  const session = await launchChromium();
  try {
    const page = session.page;
    const stems = Array.from({ length: n }, (_, i) => dtypes[i % dtypes.length]).map((d) =>
      d === 'fp32' ? FP32_STEM : stemOf(d)!,
    );
    const url = `${server.url}?model=served:quantlab-tiny&variants=${[...new Set(stems)].join(',')}&live=0&max_new_tokens=16&temperature=0&device=wasm&memory_budget=${values['budget-mb']}`;
    await page.goto(url);
    await page
      .locator('article.column')
      .nth(n - 1)
      .waitFor();
    const count = await page.locator('article.column').count();
    console.log(
      `[memory] navigator.deviceMemory ${await page.evaluate(() => (navigator as { deviceMemory?: number }).deviceMemory)} GB, budget ${await page.locator('#memory-budget-hint').textContent()}`,
    );
    console.log(`[memory] ${count} columns of ${name}: ${stems.join(', ')}; pressing Generate`);
    await page.click('#generate');
    const t0 = Date.now();
    for (;;) {
      await settle(5000);
      const s = Math.round((Date.now() - t0) / 1000);
      const cols = await page.$$eval('article.column', (as) =>
        as.map(
          (a) =>
            `${a.getAttribute('data-variant')}=${a.getAttribute('data-status')}${a.querySelector('.error') ? '!' : ''}`,
        ),
      );
      const procs = descendants(process.pid)
        .map((pid) => {
          const type = /--type=([\w-]+)/.exec(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))?.[1] ?? 'browser';
          return { pid, type, rss: processMemory(pid) };
        })
        .filter((p) => p.rss > 50 * MB);
      const threads = procs.map((p) => {
        const st = readFileSync(`/proc/${p.pid}/status`, 'utf8');
        return `${p.type}:${p.pid} ${mb(p.rss)} MB ${/Threads:\s+(\d+)/.exec(st)?.[1]} threads`;
      });
      console.log(`[memory] ${s}s ${cols.join(' ')} | ${threads.join(', ')}`);
      const busy = cols.filter((c) => /=(loading|generating)$/.test(c)).length;
      if (busy === 0 || Date.now() - t0 > timeoutMs) break;
    }
    const texts = await page.$$eval('article.column', (as) =>
      as.map(
        (a) =>
          `${a.getAttribute('data-variant')}: ${a.getAttribute('data-status')} ${a.textContent?.replace(/\s+/g, ' ').slice(0, 300)}`,
      ),
    );
    for (const t of texts) console.log(`[memory] ${t}`);
    console.log(`[memory] console errors: ${session.errors.slice(0, 10).join('\n')}`);
  } finally {
    await session.close();
    await server.close();
    rmSync(models, { recursive: true, force: true });
  }
}
