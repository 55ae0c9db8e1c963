// WebGPU in the benchmark and the fused graph in the browser, on aidreams260K (SwiftShader here:
// every figure is correctness-only, and the report must say so). `quantlab bench --runtimes
// browser-webgpu` reports every field plus the adapter and the bandwidth ratio; `--forms` times
// the 4-bit forms on WASM; the fused graph's columns write llama2.c's greedy ids on
// both backends. Speed is not asserted.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FORMS } from '../../src/lib/bench/forms';
import { greedyParams } from '../../src/lib/bench/measure';
import { isSoftwareAdapter } from '../../src/lib/bench/webgpu';
import { buildModelFolder } from '../../src/lib/model/folder';
import { writeFolderAtomic } from '../../src/node/files';
import { BENCH_MODEL_ID, openBenchPage } from '../../src/node/bench-browser';
import { greedyReferences } from '../helpers/aidreams';
import { checkRow } from '../helpers/bench';
import { runCli } from '../helpers/cli';
import { aidreamsSource, cleanupTempDirs, tempDir, writeModel } from '../helpers/model-dirs';

const SMALL = ['--runs', '1', '--prompt-tokens', '8', '--new-tokens', '4', '--json'];

describe('browser-webgpu in quantlab bench', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await writeModel(aidreamsSource(), 'aidreams260K');
    for (const flags of [
      ['--dtype', 'q8,q4'],
      ['--dtype', 'q4', '--asym'],
      ['--dtype', 'q4', '--block-size', '64'],
      ['--dtype', 'q4', '--block-size', '128'],
      ['--dtype', 'q4', '--bits', '8'],
    ]) {
      const q = await runCli(['quantize', dir, ...flags, '--quiet']);
      expect(q.code, q.err).toBe(0);
    }
  }, 120_000);
  afterAll(cleanupTempDirs);

  it('reports every field, the adapter, correctness-only on a software adapter, and the bandwidth ratio', async () => {
    const args = ['bench', dir, '--runtimes', 'browser-webgpu', '--site', inject('siteDir'), '--dtypes', 'fp32,q4'];
    const r = await runCli([...args, '--bandwidth', '10', ...SMALL]);
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(r.out);
    const software = isSoftwareAdapter(report.adapter);
    expect(report.adapter).toMatchObject({ vendor: expect.any(String), architecture: expect.any(String) });
    expect(report.results.map((x: { dtype: string }) => x.dtype)).toEqual(['fp32', 'q4']);
    for (const row of report.results) {
      checkRow(row, 'browser-webgpu', 4);
      expect(row.adapter).toMatch(/\S/);
      expect(row.correctness_only).toBe(software);
      expect(row.bytes_per_token).toBeGreaterThan(0);
      expect(row.bandwidth_ceiling_ratio).toBeCloseTo((row.decode_tokens_per_s * row.bytes_per_token) / 10e9, 12);
    }
    // aidreams260K's fp32 graph reads more weight bytes per token than its q4 graph.
    expect(report.results[0].bytes_per_token).toBeGreaterThan(report.results[1].bytes_per_token);
    expect(report.warnings.some((w: string) => /software adapter .*correctness-only/.test(w))).toBe(software);
  }, 240_000);

  // WASM only: the forms on SwiftShader add minutes and no speed (chooseDefaults' correctness-only case is a unit test).
  it('times every 4-bit form on WASM; level 0 is token-exact, and the default too', async () => {
    const r = await runCli([
      'bench',
      dir,
      '--forms',
      '--runtimes',
      'browser-wasm',
      '--site',
      inject('siteDir'),
      ...SMALL,
    ]);
    expect(r.code, r.err).toBe(0);
    const { forms } = JSON.parse(r.out);
    for (const runtime of ['browser-wasm']) {
      const rows = forms.rows.filter((x: { runtime: string }) => x.runtime === runtime);
      expect(rows.map((x: { form: string }) => x.form)).toEqual(FORMS.map((f) => f.name));
      for (const x of rows) {
        expect(x.decode_tokens_per_s, `${runtime} ${x.form}`).toBeGreaterThan(0);
        if (x.accuracy_level === 0) expect(x.token_exact, `${runtime} ${x.form}`).toBe(true);
      }
      const d = forms.defaults.find((x: { runtime: string }) => x.runtime === runtime);
      expect(rows.find((x: { form: string }) => x.form === d.q4_form).token_exact).toBe(true);
    }
  }, 600_000);

  it("the fused graph's columns write llama2.c's greedy ids on WASM and on WebGPU", async () => {
    const fused = join(tempDir(), 'fused');
    await writeFolderAtomic(fused, await buildModelFolder(aidreamsSource(), { form: 'fused' }));
    const b = await openBenchPage(inject('siteDir'), fused);
    try {
      const ref = greedyReferences()[0];
      for (const device of ['wasm', 'webgpu'] as const) {
        await b.page.loadColumns(BENCH_MODEL_ID, ['model'], { device });
        const col = await b.page.generate(0, greedyParams(ref.prompt, 12));
        expect(col.ids, device).toEqual(ref.greedy_ids.slice(0, 12));
        await b.page.loadFloor(b.modelFileUrl('model'), undefined, undefined, device);
        expect((await b.page.runFloor(col.promptIds, 12)).ids, device).toEqual(col.ids);
      }
      await b.page.disposeAll();
      expect(b.session.failedRequests).toEqual([]);
    } finally {
      await b.close();
    }
  }, 300_000);
});
