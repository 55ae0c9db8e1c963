// HQQ and the 2/3-bit widths end to end on aidreams260K through the CLI: `quantize --method hqq
// --bits N --name STEM` writes onnx/STEM.onnx with a manifest entry saying how it is stored, `eval
// --dtypes` and `generate --dtype` take the stem, and on the built-in evaluation text (HQQ needs no
// calibration text) HQQ's mean KLD against fp32 is at or below RTN's at 4, 3 and 2 bits.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_TEXT } from '../../src/lib/eval/sample';
import { configureNodeTransformers } from '../../src/node/transformers-env';
import { runCli as run } from '../helpers/cli';
import { aidreamsSource, cleanupTempDirs, writeModel } from '../helpers/model-dirs';

const BITS = [4, 3, 2] as const;

describe('quantlab quantize --method hqq --bits N --name STEM', () => {
  let dir: string;
  let results: Record<string, { kld_mean: number; kld_p99: number; same_top_pct: number; ppl: number }>;
  beforeAll(async () => {
    configureNodeTransformers({ allowRemote: false });
    dir = await writeModel(aidreamsSource(), 'aidreams260K');
    for (const bits of BITS)
      for (const method of ['rtn', 'hqq']) {
        const r = await run(['quantize', dir, '--dtype', 'q4', '--bits', String(bits), '--method', method]);
        expect(r.code, r.err).toBe(0);
      }
    const named = await run(['quantize', dir, '--dtype', 'q4', '--bits', '3', '--method', 'hqq', '--asym']);
    expect(named.code, named.err).toBe(0);
    const r = await run(['quantize', dir, '--dtype', 'q4', '--method', 'hqq', '--bits', '2', '--name', 'dream-2bit']);
    expect(r.code, r.err).toBe(0);
    const text = join(dir, 'eval.txt');
    writeFileSync(text, SAMPLE_TEXT);
    const stems = [
      'model_q4',
      'model_q4_hqq',
      'model_q3nbits',
      'model_q3nbits_hqq',
      'model_q2nbits',
      'model_q2nbits_hqq',
    ];
    const e = await run([
      'eval',
      dir,
      '--dtypes',
      ['fp32', ...stems, 'dream-2bit'].join(','),
      '--text',
      text,
      '--json',
    ]);
    expect(e.code, e.err).toBe(0);
    results = JSON.parse(e.out).results;
  }, 240_000);
  afterAll(cleanupTempDirs);

  it('names each file by bits and method, and lists a --name stem in the manifest', () => {
    expect(readdirSync(join(dir, 'onnx')).sort()).toEqual([
      'dream-2bit.onnx',
      'model.onnx',
      'model_q2nbits.onnx',
      'model_q2nbits_hqq.onnx',
      'model_q3nbits.onnx',
      'model_q3nbits_hqq.onnx',
      'model_q3nbits_hqq_asym.onnx',
      'model_q4.onnx',
      'model_q4_hqq.onnx',
      'quantlab-manifest.json',
    ]);
    const m = JSON.parse(readFileSync(join(dir, 'onnx/quantlab-manifest.json'), 'utf8'));
    const byFile = Object.fromEntries(m.variants.map((v: { file: string }) => [v.file, v]));
    expect(byFile['dream-2bit.onnx'].options).toMatchObject({
      dtype: 'q4',
      bits: 2,
      method: 'hqq',
      name: 'dream-2bit',
    });
    expect(byFile['model_q3nbits_hqq_asym.onnx'].options).toMatchObject({ bits: 3, method: 'hqq', symmetric: false });
    expect(byFile['model_q3nbits_hqq_asym.onnx'].format).toBe(
      'MatMulNBits 3-bit levels in 4-bit storage, block 32, asymmetric, float32 scales, HQQ',
    );
    expect(byFile['model_q2nbits.onnx'].format).toBe('MatMulNBits 2-bit, block 32, symmetric, float32 scales');
    // The size is honest: 3-bit levels take 4-bit storage, 2-bit levels half of that (+ 32-bit scales per 32).
    expect(byFile['model_q3nbits.onnx'].bitsPerWeightQuantized).toBeCloseTo(
      byFile['model_q4.onnx'].bitsPerWeightQuantized,
      9,
    );
    expect(byFile['model_q2nbits.onnx'].bitsPerWeightQuantized).toBeGreaterThan(2.9);
    expect(byFile['model_q2nbits.onnx'].bitsPerWeightQuantized).toBeLessThan(3.2);
    // A named file holds the same weights as the derived name would have (the name is in its metadata only).
    expect(byFile['dream-2bit.onnx'].bitsPerWeightQuantized).toBe(
      byFile['model_q2nbits_hqq.onnx'].bitsPerWeightQuantized,
    );
  });

  it("HQQ's mean KLD against fp32 is at or below RTN's at 4, 3 and 2 bits; fewer bits, more divergence", () => {
    const row = (s: string) => results[s];
    for (const [rtn, hqq] of [
      ['model_q4', 'model_q4_hqq'],
      ['model_q3nbits', 'model_q3nbits_hqq'],
      ['model_q2nbits', 'model_q2nbits_hqq'],
    ]) {
      console.log(
        `[hqq] ${rtn.padEnd(14)} KLD ${row(rtn).kld_mean.toFixed(5)}  hqq ${row(hqq).kld_mean.toFixed(5)}  (same top ${row(rtn).same_top_pct.toFixed(1)} / ${row(hqq).same_top_pct.toFixed(1)} %)`,
      );
      expect(row(hqq).kld_mean, hqq).toBeLessThanOrEqual(row(rtn).kld_mean);
    }
    expect(row('model_q4').kld_mean).toBeLessThan(row('model_q3nbits').kld_mean);
    expect(row('model_q3nbits').kld_mean).toBeLessThan(row('model_q2nbits').kld_mean);
    expect(row('dream-2bit').kld_mean).toBe(row('model_q2nbits_hqq').kld_mean);
  });

  it('generate --dtype takes a --name stem, and names what is missing', async () => {
    const r = await run([
      'generate',
      dir,
      '--dtype',
      'dream-2bit',
      '--prompt',
      'I dreamed',
      '--max-new-tokens',
      '8',
      '--json',
    ]);
    expect(r.code, r.err).toBe(0);
    const out = JSON.parse(r.out);
    expect(out.variant).toBe('dream-2bit');
    expect(out.ids.length).toBe(8);
    const missing = await run(['generate', dir, '--dtype', 'dream-5bit']);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/has no onnx\/model_dream-5bit\.onnx/);
  });
});
