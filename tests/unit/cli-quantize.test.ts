// `quantlab quantize` and `quantlab eval` on aidreams260K: variants written with their manifest,
// fp16 greedy equal to fp32 through transformers.js, KLD ordering fp16 << q8 << q4, and bad input
// refused by name with no file left behind.
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli';
import { Runner } from '../../src/lib/runner/runner';
import { configureNodeTransformers } from '../../src/node/transformers-env';
import { greedyReferences } from '../helpers/aidreams';
import { aidreamsSource, cleanupTempDirs, writeModel } from '../helpers/model-dirs';

const run = runCli;

const onnxFiles = (dir: string) => readdirSync(join(dir, 'onnx')).sort();

describe('quantlab quantize / eval', () => {
  let dir: string;
  beforeAll(async () => {
    configureNodeTransformers({ allowRemote: false });
    dir = await writeModel(aidreamsSource(), 'aidreams260K');
    const r = await run(['quantize', dir, '--dtype', 'fp16,q8,q4,bnb4', '--quiet']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
  }, 120_000);
  afterAll(cleanupTempDirs);

  it('writes transformers.js file names and a manifest describing each variant', async () => {
    expect(onnxFiles(dir)).toEqual([
      'model.onnx',
      'model_bnb4.onnx',
      'model_fp16.onnx',
      'model_q4.onnx',
      'model_quantized.onnx',
      'quantlab-manifest.json',
    ]);
    expect(
      (await run(['quantize', dir, '--dtype', 'bnb4', '--quant-type', 'fp4', '--double-quant', '--quiet'])).code,
    ).toBe(0);
    const m = JSON.parse(readFileSync(join(dir, 'onnx/quantlab-manifest.json'), 'utf8'));
    const byFile = Object.fromEntries(m.variants.map((v: { file: string }) => [v.file, v]));
    expect(Object.keys(byFile).sort()).toEqual([
      'model_bnb4.onnx',
      'model_bnb4_fp4_dq.onnx',
      'model_fp16.onnx',
      'model_q4.onnx',
      'model_quantized.onnx',
    ]);
    expect(byFile['model_bnb4_fp4_dq.onnx'].options).toMatchObject({
      dtype: 'bnb4',
      quantType: 'fp4',
      doubleQuant: true,
      blockSize: 64,
    });
    expect(byFile['model_q4.onnx'].bytes).toBe(readFileSync(join(dir, 'onnx/model_q4.onnx')).byteLength);
    // Per [K, N] weight: N * ceil(K/32) blocks of 16 packed bytes + a 4-byte fp32 scale (K = 172
    // is padded to 192, as MatMulNBits specifies). Per layer: q, k, v, o [64, 64], gate and up
    // [64, 172], down [172, 64]; the lm_head (tied embedding) stays fp32.
    const shapes = [
      [64, 64],
      [64, 64],
      [64, 64],
      [64, 64],
      [64, 172],
      [64, 172],
      [172, 64],
    ];
    const bits = shapes.reduce((a, [K, N]) => a + 8 * N * Math.ceil(K / 32) * 20, 0);
    const weights = shapes.reduce((a, [K, N]) => a + K * N, 0);
    expect(byFile['model_q4.onnx'].bitsPerWeightQuantized).toBeCloseTo(bits / weights, 6);
  });

  it('fp16 greedy output equals fp32 for all four references (through transformers.js)', async () => {
    const runner = new Runner();
    await runner.load({ modelId: dir, variant: 'model_fp16', device: 'cpu' });
    for (const ref of greedyReferences()) {
      const r = await runner.generate({
        prompt: ref.prompt,
        maxNewTokens: ref.greedy_ids.length,
        temperature: 0,
        topK: 0,
        topP: 1,
        repetitionPenalty: 1,
        seed: 0,
      });
      expect(r.ids).toEqual(ref.greedy_ids);
    }
    await runner.dispose();
  }, 60_000);

  it('eval orders mean KLD fp16 << q8 << q4, with fp32 against itself exactly 0', async () => {
    const textFile = join(dir, 'sample.txt');
    writeFileSync(
      textFile,
      greedyReferences()
        .map((r) => r.text)
        .join('\n'),
    );
    const r = await run(['eval', dir, '--dtypes', 'fp32,fp16,q8,q4', '--text', textFile, '--ctx', '64', '--json']);
    expect(r.code, r.err).toBe(0);
    const res = JSON.parse(r.out).results;
    expect(res.fp32.kld_mean).toBe(0);
    expect(res.fp32.same_top_pct).toBe(100);
    expect(res.fp16.kld_mean).toBeLessThan(res.q8.kld_mean / 100);
    expect(res.q8.kld_mean).toBeLessThan(res.q4.kld_mean);
    for (const d of ['fp16', 'q8', 'q4'])
      for (const k of ['ppl', 'kld_p99', 'same_top_pct', 'rms_dp'])
        expect(Number.isFinite(res[d][k]), `${d}.${k}`).toBe(true);
  }, 120_000);

  describe('bad input', () => {
    const cases: [string, string[], RegExp][] = [
      ['unknown dtype', ['--dtype', 'int3'], /Unknown dtype "int3"/],
      ['block size not a power of two', ['--dtype', 'q4', '--block-size', '48'], /Block size 48 is not a power of two/],
      ['block size out of range', ['--dtype', 'q4', '--block-size', '512'], /Block size 512/],
      ['bad bits', ['--dtype', 'q4', '--bits', '5'], /Unsupported bits 5/],
    ];
    for (const [name, args, msg] of cases) {
      it(name, async () => {
        const before = onnxFiles(dir);
        const r = await run(['quantize', dir, ...args]);
        expect(r.code).toBe(2);
        expect(r.err).toMatch(msg);
        expect(onnxFiles(dir)).toEqual(before);
      });
    }

    it('an already quantized model', async () => {
      const q = await writeModel(aidreamsSource(), 'already');
      copyFileSync(join(dir, 'onnx/model_q4.onnx'), join(q, 'onnx/model.onnx'));
      const r = await run(['quantize', q, '--dtype', 'q4']);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/already quantized/);
      expect(onnxFiles(q)).toEqual(['model.onnx']);
    });

    it('a corrupt model.onnx', async () => {
      const q = await writeModel(aidreamsSource(), 'corrupt');
      writeFileSync(join(q, 'onnx/model.onnx'), readFileSync(join(dir, 'onnx/model.onnx')).subarray(0, 1000));
      const r = await run(['quantize', q, '--dtype', 'q4']);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/onnx\/model\.onnx is not a valid ONNX/);
      expect(existsSync(join(q, 'onnx/model_q4.onnx'))).toBe(false);
    });

    it('eval of a precision the folder does not have names the file and the command to make it', async () => {
      const r = await run(['eval', dir, '--dtypes', 'fp32,int8', '--text', join(dir, 'config.json')]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/model_int8\.onnx/);
      expect(r.err).toMatch(/quantlab quantize .* --dtype int8/);
    });
  });
});
