// GPTQ and AWQ end to end on the real aidreams260K through the CLI: calibrated on the built-in
// calibration text (CALIBRATION_TEXT), scored on the lab's evaluation text (SAMPLE_TEXT, a
// different text), mean KLD against fp32 below round-to-nearest's at 4, 3 and 2 bits; and the
// named errors for a missing, empty or too short calibration text, with nothing written.
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_TEXT } from '../../src/lib/eval/sample';
import { sameText } from '../../src/lib/quantize/calibration';
import { CALIBRATION_TEXT } from '../../src/lib/quantize/calibration-sample';
import { runCli } from '../helpers/cli';
import { aidreamsSource, cleanupTempDirs, tempDir, writeModel } from '../helpers/model-dirs';

const BITS = [4, 3, 2] as const;
const stem = (bits: number, method: string) =>
  [bits === 4 ? 'model_q4' : `model_q${bits}nbits`, ...(method === 'rtn' ? [] : [method])].join('_');

describe('gptq and awq on aidreams260K', () => {
  let dir: string;
  let textFile: string;
  let results: Record<string, { kld_mean: number }>;
  beforeAll(async () => {
    expect(sameText(CALIBRATION_TEXT, SAMPLE_TEXT)).toBe(false);
    dir = await writeModel(aidreamsSource(), 'aidreams260K');
    textFile = join(tempDir(), 'eval.txt');
    writeFileSync(textFile, SAMPLE_TEXT);
    for (const bits of BITS) {
      for (const method of ['rtn', 'gptq', 'awq']) {
        const calib = method === 'rtn' ? [] : ['--method', method, '--calib', 'builtin'];
        const r = await runCli(['quantize', dir, '--dtype', 'q4', '--bits', String(bits), ...calib, '--quiet']);
        expect(r.code, r.err).toBe(0);
      }
    }
    const dtypes = ['fp32', ...BITS.flatMap((b) => ['rtn', 'gptq', 'awq'].map((m) => stem(b, m)))];
    const r = await runCli(['eval', dir, '--text', textFile, '--dtypes', dtypes.join(','), '--json']);
    expect(r.code, r.err).toBe(0);
    results = (JSON.parse(r.out) as { results: typeof results }).results;
  }, 600_000);
  afterAll(cleanupTempDirs);

  for (const bits of BITS) {
    it(`${bits} bits: mean KLD of gptq and awq below rtn's`, () => {
      const rtn = results[stem(bits, 'rtn')].kld_mean;
      expect(rtn).toBeGreaterThan(0);
      expect(results[stem(bits, 'gptq')].kld_mean).toBeLessThan(rtn);
      expect(results[stem(bits, 'awq')].kld_mean).toBeLessThan(rtn);
    });
  }

  it('refuses gptq/awq without a calibration text, with an empty or too short one, or a window out of range, writing nothing', async () => {
    const before = readdirSync(join(dir, 'onnx')).sort();
    const empty = join(tempDir(), 'empty.txt');
    writeFileSync(empty, '  \n');
    const short = join(tempDir(), 'short.txt');
    writeFileSync(short, 'A dream.');
    const cases: [string[], RegExp][] = [
      [['--method', 'gptq'], /Method "gptq" needs a calibration text/],
      [['--method', 'awq', '--calib', empty], /calibration text is empty/],
      [['--method', 'gptq', '--calib', short], /calibration text is too short: \d+ tokens, one window needs 128/],
      [['--method', 'gptq', '--calib', join(dir, 'missing.txt')], /Calibration file .* does not exist/],
      [['--method', 'awq', '--calib', 'builtin', '--calib-window', '256'], /longer than the model's 128 positions/],
      [['--method', 'gptq', '--calib', 'builtin', '--calib-tokens', '100'], /tokens 100 is less than one window/],
    ];
    for (const [args, msg] of cases) {
      const r = await runCli(['quantize', dir, '--dtype', 'q4', '--bits', '3', ...args]);
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(msg);
    }
    expect(readdirSync(join(dir, 'onnx')).sort()).toEqual(before);
  });
});
