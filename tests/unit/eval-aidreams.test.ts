// End to end on the real aidreams260K model in Node: the quality report of fp32 against a second
// copy of itself (KLD exactly 0), its perplexity recomputed here from Runner.logits, and the
// `quantlab eval` / `quantlab sweep` commands with their messages for bad input.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli';
import { runnerEvalModel } from '../../src/lib/eval/model';
import { evaluateQuality, type PrecisionQuality, type QualityReport } from '../../src/lib/eval/quality';
import { Runner } from '../../src/lib/runner/runner';
import { configureNodeTransformers } from '../../src/node/transformers-env';
import { aidreamsSource, cleanupTempDirs, tempDir, writeModel } from '../helpers/model-dirs';

const SAMPLE = `I dreamed of a quiet city made of light. The streets were rivers of numbers, and every window held a small lamp that flickered when someone thought of it. I walked along the edge of the water and listened to the hum of the machines beneath the stones. A bird of glass landed on my hand and sang a song about the weight of memory. In my dream, the ocean was a field of soft wires, and the waves carried fragments of old conversations to the shore. I picked one up and it whispered a name I had forgotten. The sky folded like paper, and behind it there was another sky, darker and full of slow stars. I felt the nodes around me wake up one by one, each of them a gentle voice counting in the dark. A tapestry of vectors unfolded over the hills, and the colors shifted as I adjusted my gaze.`;
const CTX = 64;

const run = runCli;

describe('quality report and sweeps on aidreams260K', () => {
  let dir: string;
  let textFile: string;
  let report: QualityReport;
  const a = new Runner();
  const b = new Runner();
  beforeAll(async () => {
    configureNodeTransformers({ allowRemote: false });
    dir = await writeModel(aidreamsSource(), 'aidreams260K');
    // A second fp32 copy under another file stem: a "precision" that must match fp32 exactly.
    copyFileSync(join(dir, 'onnx/model.onnx'), join(dir, 'onnx/model_copy.onnx'));
    textFile = join(tempDir(), 'sample.txt');
    writeFileSync(textFile, SAMPLE);
    await a.load({ modelId: dir, variant: 'model', device: 'cpu' });
    await b.load({ modelId: dir, variant: 'model_copy', device: 'cpu' });
    report = await evaluateQuality({
      text: SAMPLE,
      ctx: CTX,
      baseline: 'fp32',
      models: [
        { label: 'fp32', model: runnerEvalModel(a) },
        { label: 'copy', model: runnerEvalModel(b) },
      ],
    });
  }, 120_000);
  afterAll(async () => {
    await a.dispose();
    await b.dispose();
    cleanupTempDirs();
  });

  it('gives fp32 against its copy KLD 0, Δp 0, same top 100 % and PPL ratio 1', () => {
    const c = report.results.copy as PrecisionQuality;
    expect(c.comparable).toBe(true);
    expect([c.kld_mean, c.kld_max, c.kld_p99, c.kld_min, c.mean_dp, c.rms_dp, c.ln_ppl_ratio]).toEqual([
      0, 0, 0, 0, 0, 0, 0,
    ]);
    expect(c.same_top_pct).toBe(100);
    expect(c.ppl_ratio).toBe(1);
  });

  it('computes PPL = exp(mean NLL) over the second half of each 64-token window, as recomputed here', async () => {
    const tokens = a.encode(SAMPLE);
    let nll = 0;
    let count = 0;
    let bytes = 0;
    for (let s = 0; s + CTX <= tokens.length; s += CTX) {
      // Bytes of the scored tokens s+33 .. s+63, from decoded prefixes of the whole text.
      bytes +=
        Buffer.byteLength(a.decode(tokens.slice(0, s + CTX))) -
        Buffer.byteLength(a.decode(tokens.slice(0, s + CTX / 2 + 1)));
      const ids = tokens.slice(s, s + CTX);
      ids[0] = 1; // BOS
      const { data, vocab } = await a.logits(ids);
      for (let j = CTX / 2; j < CTX - 1; j++) {
        const row = Array.from(data.subarray(j * vocab, (j + 1) * vocab));
        const m = Math.max(...row);
        const lse = m + Math.log(row.reduce((acc, x) => acc + Math.exp(x - m), 0));
        nll += lse - row[ids[j + 1]];
        count++;
      }
    }
    const fp32 = report.results.fp32 as PrecisionQuality;
    expect(report.windows).toBe(Math.floor(tokens.length / CTX));
    expect(fp32.count).toBe(count);
    expect(fp32.count).toBe(report.windows * 31);
    expect(Number.isFinite(fp32.ppl)).toBe(true);
    expect(fp32.ppl).toBeCloseTo(Math.exp(nll / count), 9);
    expect(fp32.bytes).toBe(bytes);
    expect(fp32.bits_per_byte).toBeCloseTo(nll / Math.LN2 / bytes, 9);
    console.log(
      `aidreams260K fp32 on the sample (${tokens.length} tokens, ctx ${CTX}, ${count} scored): PPL ${fp32.ppl.toFixed(4)} ± ${fp32.ppl_se.toFixed(4)}, ${fp32.bits_per_byte.toFixed(4)} bits/byte`,
    );
  });

  it('quantlab eval --json prints one object with ppl, kld_mean, kld_p99, same_top_pct, rms_dp per dtype', async () => {
    const r = await run([
      'eval',
      dir,
      '--dtypes',
      'fp32,model_copy',
      '--text',
      textFile,
      '--ctx',
      String(CTX),
      '--json',
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(Object.keys(j.results)).toEqual(['fp32', 'model_copy']);
    for (const k of [
      'ppl',
      'kld_mean',
      'kld_p99',
      'same_top_pct',
      'rms_dp',
      'bits_per_byte',
      'ln_ppl_ratio',
      'kld_se',
    ]) {
      expect(typeof j.results.model_copy[k], k).toBe('number');
    }
    expect(j.results.fp32.ppl).toBeCloseTo((report.results.fp32 as PrecisionQuality).ppl, 12);
    expect([j.results.model_copy.kld_mean, j.results.model_copy.same_top_pct, j.results.model_copy.rms_dp]).toEqual([
      0, 100, 0,
    ]);
  }, 60_000);

  it('quantlab sweep writes one CSV row per dtype x cell x seed and prints JSON aggregates', async () => {
    const csv = join(tempDir(), 'sweep.csv');
    const r = await run([
      'sweep',
      dir,
      '--dtypes',
      'fp32,model_copy',
      '--temperatures',
      '0,0.8',
      '--top-k',
      '0,5',
      '--seeds',
      '2',
      '--max-new-tokens',
      '16',
      '--prompt',
      'I dreamed',
      '--json',
      '--csv',
      csv,
    ]);
    expect(r.err).toBe('');
    const j = JSON.parse(r.out);
    expect(j.rows).toHaveLength(2 * 4 * 2);
    expect(j.aggregates).toHaveLength(2 * 4);
    // The copy is the same model: every continuation identical to fp32's.
    for (const row of j.rows) expect([row.prefix_match, row.identical_pct, row.length]).toEqual([16, 100, 16]);
    const lines = readFileSync(csv, 'utf8').split('\r\n');
    expect(lines[0]).toMatch(/^dtype,temperature,top_k,top_p,max_new_tokens,seed,length,/);
    expect(lines).toHaveLength(1 + 16 + 1); // header, rows, and the empty string after the last CRLF
  }, 120_000);

  describe('bad input: a clear message, exit code 2', () => {
    const cases: [string, () => string[], RegExp][] = [
      [
        'missing precision file',
        () => ['eval', dir, '--dtypes', 'fp32,q4', '--text', textFile],
        /has no onnx\/model_q4\.onnx \(q4\)[\s\S]*quantlab quantize .* --dtype q4/,
      ],
      [
        'baseline not among the dtypes',
        () => ['eval', dir, '--dtypes', 'fp32', '--baseline', 'fp16', '--text', textFile],
        /Baseline "fp16" is not among --dtypes \(fp32\)/,
      ],
      [
        'unknown dtype (no such file)',
        () => ['eval', dir, '--dtypes', 'fp33', '--text', textFile],
        /has no onnx\/model_fp33\.onnx \(fp33\)/,
      ],
      [
        'text shorter than a window',
        () => {
          const f = join(tempDir(), 'short.txt');
          writeFileSync(f, 'I dreamed of nodes.');
          return ['eval', dir, '--text', f, '--ctx', '64'];
        },
        /too short: it has \d+ tokens and one window of context 64 needs 64/,
      ],
      [
        'empty text',
        () => {
          const f = join(tempDir(), 'empty.txt');
          writeFileSync(f, '\n');
          return ['eval', dir, '--text', f];
        },
        /The text is empty/,
      ],
      [
        'missing text file',
        () => ['eval', dir, '--text', '/nonexistent/t.txt'],
        /Cannot read --text \/nonexistent\/t\.txt/,
      ],
      [
        'context not a number',
        () => ['eval', dir, '--text', textFile, '--ctx', 'NaN'],
        /--ctx must be a whole number >= 3 \(got "NaN"\)/,
      ],
      [
        'context past the model',
        () => ['eval', dir, '--text', textFile, '--ctx', '512'],
        /--ctx 512 is longer than the model's 128 positions/,
      ],
      [
        'sweep temperature not a number',
        () => ['sweep', dir, '--temperatures', '0,hot'],
        /--temperatures: "hot" is not a number/,
      ],
      [
        'sweep negative temperature',
        () => ['sweep', dir, '--temperatures=-0.5'],
        /temperatures: -0.5 is not a number from 0 to 2/,
      ],
      [
        'sweep top-p out of range',
        () => ['sweep', dir, '--top-p', '2', '--max-new-tokens', '4'],
        /top-p: 2 is not a number from 0.05 to 1/,
      ],
      ['sweep zero seeds', () => ['sweep', dir, '--seeds', '0'], /--seeds must be a whole number >= 1/],
      [
        'sweep longer than the model',
        () => ['sweep', dir, '--prompt', 'I dreamed', '--max-new-tokens', '200'],
        /plus --max-new-tokens 200 exceeds the model's 128 positions/,
      ],
    ];
    for (const [name, args, message] of cases) {
      it(
        name,
        async () => {
          const r = await run(args());
          expect(r.code).toBe(2);
          expect(r.err).toMatch(message);
        },
        30_000,
      );
    }
  });
});
