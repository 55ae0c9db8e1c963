// `quantlab sensitivity` and `quantlab quantize --budget` on aidreams260K: the sensitivity report
// as JSON and CSV, one mixed-precision file whose manifest and MatMulNBits nodes carry each
// weight's bits, its mean KLD (quantlab eval, on the evaluation text, not the calibration text)
// against uniform variants around its size, and bad input refused with nothing written.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_TEXT } from '../../src/lib/eval/sample';
import { decodeModel, getIntAttr } from '../../src/lib/onnx/proto';
import { runCli } from '../helpers/cli';
import { aidreamsSource, cleanupTempDirs, tempDir, writeModel } from '../helpers/model-dirs';

interface Entry {
  file: string;
  bitsPerWeightQuantized: number;
  format: string;
  options: { plan?: { weight: string; bits: number; method: string }[] };
}

const manifest = (dir: string): Entry[] =>
  JSON.parse(readFileSync(join(dir, 'onnx/quantlab-manifest.json'), 'utf8')).variants;

describe('quantlab sensitivity / quantize --budget', () => {
  let dir: string;
  // The built-in calibration text (src/lib/quantize/calibration-sample.ts), not the evaluation text.
  const calib = 'builtin';
  let evalText: string;
  beforeAll(async () => {
    dir = await writeModel(aidreamsSource(), 'aidreams260K');
    evalText = join(tempDir(), 'eval.txt');
    writeFileSync(evalText, SAMPLE_TEXT);
    const r = await runCli(['quantize', dir, '--dtype', 'q4', '--quiet']);
    expect(r.code).toBe(0);
    expect((await runCli(['quantize', dir, '--dtype', 'q4', '--block-size', '16', '--quiet'])).code).toBe(0);
    expect((await runCli(['quantize', dir, '--dtype', 'q4', '--bits', '8', '--quiet'])).code).toBe(0);
  }, 120_000);
  afterAll(cleanupTempDirs);

  it('prints the sensitivity of every linear weight as JSON and writes it as CSV', async () => {
    const csv = join(tempDir(), 's.csv');
    const r = await runCli(['sensitivity', dir, '--calib', calib, '--bits', '2,4', '--json', '--csv', csv]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ calib_file: calib, method: 'rtn', bits: [2, 4], blockSize: 32, ctx: 128, tokens: 256 });
    expect(j.entries).toHaveLength(28 * 2);
    for (const e of j.entries) expect(e.kld_mean).toBeGreaterThan(0);
    const lines = readFileSync(csv, 'utf8').trim().split('\r\n');
    expect(lines).toHaveLength(1 + 28 * 2);
    expect(lines[0].startsWith('weight,layer,module,K,N,method,bits')).toBe(true);

    // quantize --budget plans from the saved report without measuring again (no --calib needed).
    const saved = join(tempDir(), 's.json');
    writeFileSync(saved, r.out);
    const q = await runCli(['quantize', dir, '--dtype', 'q4', '--budget', '4', '--sensitivity', saved, '--json']);
    expect(q.err).toBe('');
    expect(q.code).toBe(0);
    const [variant] = JSON.parse(q.out).variants;
    expect(variant.bitsPerWeightQuantized).toBeLessThanOrEqual(4);
    expect(new Set(variant.options.plan.map((c: { bits: number }) => c.bits))).toEqual(new Set([2, 4]));
    const other = await runCli([
      'quantize',
      dir,
      '--dtype',
      'q4',
      '--block-size',
      '16',
      '--budget',
      '4',
      '--sensitivity',
      saved,
    ]);
    expect(other.err).toMatch(/was measured with blockSize 32, this variant uses 16/);
  }, 120_000);

  it('writes one mixed file at the size of uniform q4 block 16, with a lower mean KLD than it', async () => {
    const byFile = Object.fromEntries(manifest(dir).map((e) => [e.file, e]));
    const b16 = byFile['model_q4_b16.onnx'].bitsPerWeightQuantized;
    const q4 = byFile['model_q4.onnx'].bitsPerWeightQuantized;
    const q8 = byFile['model_q8nbits.onnx'].bitsPerWeightQuantized;
    expect(q4).toBeLessThan(b16);
    const budget = Math.floor(b16 * 1000) / 1000;
    const r = await runCli(['quantize', dir, '--dtype', 'q4', '--budget', String(budget), '--calib', calib]);
    expect(r.code).toBe(0);
    const mixed = manifest(dir).find((e) => e.options.plan)!;
    expect(mixed.file).toMatch(/^model_q4_mix\w+\.onnx$/);
    expect(mixed.bitsPerWeightQuantized).toBeLessThanOrEqual(budget);
    expect(mixed.bitsPerWeightQuantized).toBeGreaterThan(q4);
    expect(mixed.format).toMatch(/^MatMulNBits mixed precision \(.*at 8-bit\)/);
    // The manifest lists every linear weight's bits and method, and the file's nodes agree.
    const plan = mixed.options.plan!;
    expect(plan).toHaveLength(28);
    const widths = new Set(plan.map((c) => c.bits));
    expect(widths.size).toBeGreaterThan(1);
    const model = decodeModel(new Uint8Array(readFileSync(join(dir, 'onnx', mixed.file))));
    const nodes = model.graph!.node.filter((n) => n.opType === 'MatMulNBits');
    expect(nodes).toHaveLength(28);
    for (const c of plan) {
      expect(c.method).toBe('rtn');
      const node = nodes.find((n) => n.input[1].startsWith(`${c.weight}_Q`))!;
      expect(getIntAttr(node, 'bits', 0)).toBe(c.bits === 3 ? 4 : c.bits);
    }

    const stem = mixed.file.replace(/\.onnx$/, '');
    const e = await runCli([
      'eval',
      dir,
      '--dtypes',
      `fp32,q4,model_q4_b16,${stem},model_q8nbits`,
      '--text',
      evalText,
      '--json',
    ]);
    expect(e.code).toBe(0);
    const kld = (k: string) => JSON.parse(e.out).results[k].kld_mean as number;
    expect(kld(stem)).toBeLessThan(kld('model_q4_b16'));
    expect(kld(stem)).toBeLessThan(kld('q4'));
    expect(kld(stem)).toBeGreaterThan(kld('model_q8nbits'));
    expect(q8).toBeGreaterThan(budget);
  }, 180_000);

  it('with zero points, a 4/8-bit mix at block 32 beats the larger uniform asymmetric block-16 file', async () => {
    // A budget between the uniform 4-bit (block 32) and 8-bit widths, just under the size of uniform q4 block 16
    // with zero points: the mix must have the lower mean KLD although its file is the smaller one.
    const u = await runCli([
      'quantize',
      dir,
      '--dtype',
      'q4',
      '--block-size',
      '16',
      '--asym',
      '--name',
      'u_b16_asym',
      '--quiet',
    ]);
    expect(u.code).toBe(0);
    const larger = manifest(dir).find((e) => e.file === 'u_b16_asym.onnx')!.bitsPerWeightQuantized;
    const budget = Math.floor(larger * 1000) / 1000;
    const r = await runCli([
      'quantize',
      dir,
      '--dtype',
      'q4',
      '--asym',
      '--budget',
      String(budget),
      '--widths',
      '4,8',
      '--calib',
      calib,
      '--name',
      'mix_asym',
      '--quiet',
    ]);
    expect(r.code).toBe(0);
    const mixed = manifest(dir).find((e) => e.file === 'mix_asym.onnx')!;
    expect(mixed.bitsPerWeightQuantized).toBeLessThan(larger);
    expect(new Set(mixed.options.plan!.map((c) => c.bits))).toEqual(new Set([4, 8]));
    const e = await runCli(['eval', dir, '--dtypes', 'fp32,u_b16_asym,mix_asym', '--text', evalText, '--json']);
    expect(e.code).toBe(0);
    const kld = (k: string) => JSON.parse(e.out).results[k].kld_mean as number;
    expect(kld('mix_asym')).toBeLessThan(kld('u_b16_asym'));
  }, 180_000);

  it('refuses a budget out of range, a dtype other than q4, and a missing, empty or short text, writing nothing', async () => {
    const before = readdirSync(join(dir, 'onnx')).sort();
    const manifestBefore = readFileSync(join(dir, 'onnx/quantlab-manifest.json'), 'utf8');
    const empty = join(tempDir(), 'empty.txt');
    writeFileSync(empty, ' \n');
    const short = join(tempDir(), 'short.txt');
    writeFileSync(short, 'Mia fed the birds.');
    const cases: [string[], RegExp][] = [
      [['--budget', '1', '--calib', calib], /budget of 1 bits per weight is below the smallest width/],
      [['--budget', '20', '--calib', calib], /budget of 20 bits per weight is above the largest width/],
      [['--budget', '5'], /No calibration text: --calib <file> is needed/],
      [['--budget', '5', '--calib', empty], /calibration text is empty/],
      [['--budget', '5', '--calib', short], /calibration text is too short: \d+ tokens, one window needs 128/],
      [['--budget', '5', '--calib', calib, '--calib-window', '256'], /longer than the model's 128 positions/],
      [['--budget', '5', '--calib', calib, '--calib-tokens', '64'], /tokens 64 is less than one window of 128/],
      [['--budget', '5', '--calib', calib, '--calib-window', '2'], /--calib-window must be a whole number >= 3/],
    ];
    for (const [flags, message] of cases) {
      const r = await runCli(['quantize', dir, '--dtype', 'q4', ...flags]);
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(message);
    }
    const q8 = await runCli(['quantize', dir, '--dtype', 'q8', '--budget', '5', '--calib', calib]);
    expect(q8.err).toMatch(/--budget makes one mixed-precision q4 or q4f16 file, not q8/);
    const noCalib = await runCli(['sensitivity', dir]);
    expect(noCalib.err).toMatch(/No calibration text/);
    const missing = await runCli(['sensitivity', dir, '--calib', join(dir, 'missing.txt')]);
    expect(missing.err).toMatch(/Calibration file .*missing.txt does not exist/);
    // One flag set: --calib-window, no --ctx.
    const ctx = await runCli(['sensitivity', dir, '--calib', calib, '--ctx', '64']);
    expect(ctx.err).toMatch(/Unknown option '--ctx'/);
    expect(readdirSync(join(dir, 'onnx')).sort()).toEqual(before);
    expect(readFileSync(join(dir, 'onnx/quantlab-manifest.json'), 'utf8')).toBe(manifestBefore);
  }, 120_000);
});
