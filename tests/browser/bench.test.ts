// `quantlab bench --runtimes browser-wasm` in headless Chromium on aidreams260K: every field of
// every precision reported (the real column worker against the floor worker, both on WASM in the
// built bench.html), the four-column concurrency summary, and the floor decoding the same greedy
// ids as the column from the same file (and, in fp32, llama2.c's reference ids). Speed itself is
// not asserted.
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { greedyParams } from '../../src/lib/bench/measure';
import { BUILTIN_MODEL } from '../../src/lib/catalog';
import { SMALL_MODEL_BYTES } from '../../src/lib/page/device';
import { FIRST_TOKEN_STAGES } from '../../src/lib/page/first-token';
import { BENCH_MODEL_ID, openBenchPage } from '../../src/node/bench-browser';
import { greedyReferences } from '../helpers/aidreams';
import { BENCH_DTYPES, checkReport, quantizedAidreams } from '../helpers/bench';
import { runCli } from '../helpers/cli';
import { cleanupTempDirs } from '../helpers/model-dirs';

/** What Chromium reports as navigator.hardwareConcurrency on this machine. */
const CORES = availableParallelism();
const STEMS = ['model', 'model_fp16', 'model_quantized', 'model_q4', 'model_bnb4'];

describe('quantlab bench (browser-wasm)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await quantizedAidreams();
  }, 120_000);
  afterAll(cleanupTempDirs);

  it('reports every field of every precision and the concurrency of four columns', async () => {
    const r = await runCli([
      'bench',
      dir,
      '--runtimes',
      'browser-wasm',
      '--site',
      inject('siteDir'),
      '--dtypes',
      BENCH_DTYPES.join(','),
      '--runs',
      '1',
      '--prompt-tokens',
      '16',
      '--new-tokens',
      '8',
      '--concurrency',
      '--json',
    ]);
    // Nothing on stderr: no browser console error, no failed request.
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out);
    checkReport(report, dir, 'browser-wasm', { promptTokens: 16, newTokens: 8 });
    // The browser's memory is its whole process tree: well above a few MB for any precision.
    for (const row of report.results) expect(row.peak_memory_bytes).toBeGreaterThan(50 * 2 ** 20);
    const c = report.concurrency['browser-wasm'];
    // The playground's threads: one per core (at most 4) for a column alone, four sharing the cores,
    // but one thread for a model under SMALL_MODEL_BYTES, as aidreams260K's files all are.
    for (const stem of STEMS) expect(statSync(join(dir, 'onnx', `${stem}.onnx`)).size).toBeLessThan(SMALL_MODEL_BYTES);
    expect([c.threads_alone, c.threads_together]).toEqual([1, 1]);
  });

  it('times navigation to the first token in stages, on a first and a second visit, against the floor page', async () => {
    const r = await runCli([
      'bench',
      dir,
      '--runtimes',
      'none',
      '--first-token',
      '--site',
      inject('siteDir'),
      '--runs',
      '1',
      '--prompt-tokens',
      '16',
      '--new-tokens',
      '8',
      '--json',
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out);
    expect(report.results).toEqual([]);
    const f = report.first_token;
    expect(f).toMatchObject({ variant: 'model', runs: 1 });
    for (const k of ['cold_ms', 'warm_ms', 'floor_cold_ms', 'floor_warm_ms', 'cold_ratio', 'warm_ratio'])
      expect(f[k], k).toBeGreaterThan(0);
    expect(f.cold_ratio).toBeCloseTo(f.cold_ms / f.floor_cold_ms, 12);
    expect(f.cold_runs_ms).toEqual([f.cold_ms]);
    expect(f.warm_runs_ms).toEqual([f.warm_ms]);
    // Every column's first token, the first column's being the one the stages describe.
    for (const key of ['columns_cold_ms', 'columns_warm_ms']) {
      expect(f[key], key).toHaveLength(BUILTIN_MODEL.defaultVariants.length);
      for (const x of f[key]) expect(x, key).toBeGreaterThan(0);
    }
    expect(f.columns_cold_ms[0]).toBe(f.cold_ms);
    expect(f.columns_warm_ms[0]).toBe(f.warm_ms);
    for (const key of ['stages', 'warm_stages']) {
      expect(Object.keys(f[key]), key).toEqual([...FIRST_TOKEN_STAGES]);
      for (const s of FIRST_TOKEN_STAGES) expect(f[key][s], `${key}.${s}`).toBeGreaterThanOrEqual(0);
      // Every first token passes through a prefill of the prompt.
      expect(f[key].prefill, key).toBeGreaterThan(0);
    }
    // The page counts from navigation: its stages end by the first token.
    for (const s of FIRST_TOKEN_STAGES) expect(f.timeline[s].end_ms, s).toBeLessThanOrEqual(f.cold_ms + 1e-6);
    expect(f.timeline.first_decode_step.end_ms).toBeCloseTo(f.cold_ms, 6);
  });

  it("the floor worker decodes the column worker's greedy ids from the same file", async () => {
    const b = await openBenchPage(inject('siteDir'), dir);
    try {
      expect(await b.page.info()).toEqual({
        crossOriginIsolated: true,
        threads: Math.min(4, CORES),
        cores: CORES,
        userAgent: expect.stringMatching(/HeadlessChrome\//),
      });
      const ref = greedyReferences()[0];
      const n = 24;
      for (const [i, stem] of STEMS.entries()) {
        await b.page.loadColumns(BENCH_MODEL_ID, [stem]);
        const col = await b.page.generate(0, greedyParams(ref.prompt, n));
        expect(col.promptIds, stem).toEqual(ref.prompt_ids);
        expect(col.ids.length, stem).toBe(n);
        // The playground's streaming callback saw every token (batched: tests/unit/token-batch.test.ts).
        expect(col.streamed, stem).toBe(n);
        expect(col.events, stem).toBeGreaterThanOrEqual(1);
        const f = await b.page.loadFloor(b.modelFileUrl(stem));
        expect(f.shape, stem).toEqual({
          numLayers: 4,
          numKvHeads: 4,
          headDim: 16,
          kvType: stem === 'model_fp16' ? 'float16' : 'float32',
        });
        const floor = await b.page.runFloor(col.promptIds, n);
        expect(floor.ids, stem).toEqual(col.ids);
        // fp32 matches llama2.c's own greedy decoding of the checkpoint.
        if (i === 0) expect(col.ids).toEqual(ref.greedy_ids.slice(0, n));
      }
      await b.page.disposeAll();
      expect(b.session.externalRequests).toEqual([]);
      expect(b.session.failedRequests).toEqual([]);
      expect(b.session.errors).toEqual([]);
    } finally {
      await b.close();
    }
  });
});
