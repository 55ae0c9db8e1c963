// Calibration capture: the inputs the piecewise ONNX Runtime runs hand to GPTQ and AWQ are the
// real layer inputs. Checked on aidreams260K against the independent float64 forward pass
// (tests/helpers/llama-ref.ts): the captured lm_head inputs times the head give its logits, with a
// weight changed through setWeight after an earlier capture, as GPTQ changes them. And the one
// reader of --calib: the folder's tokenizer as transformers.js's AutoTokenizer reads it, windows,
// named errors; the built-in calibration text is not the lab's evaluation text.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutoTokenizer } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDecoderGraph } from '../../src/lib/model/llama-graph';
import { calibrationWindows, GraphCapture, sameText, timeLeft } from '../../src/lib/quantize/calibration';
import { CALIBRATION_TEXT } from '../../src/lib/quantize/calibration-sample';
import { SAMPLE_TEXT } from '../../src/lib/eval/sample';
import { quantizeVariants } from '../../src/lib/quantize/quantize-variants';
import { encodeModel } from '../../src/lib/onnx/proto';
import { findWeightTargets } from '../../src/lib/quantize/targets';
import { QuantlabError, toErrorInfo } from '../../src/lib/errors';
import { nodeCalibRuntime, readCalibration } from '../../src/node/calibration';
import { configureNodeTransformers } from '../../src/node/transformers-env';
import { referenceForward } from '../helpers/llama-ref';
import { aidreamsSource, cleanupTempDirs, tempDir, writeModel } from '../helpers/model-dirs';
import { mulberry32 } from '../helpers/prng';

afterAll(cleanupTempDirs);

describe('calibration capture', () => {
  it('captures layer inputs of the partly changed model: Hessian = (2/T)XᵀX, and lm_head inputs reproduce the float64 logits', async () => {
    const src = aidreamsSource();
    const model = buildDecoderGraph(src.config, src.weights);
    const targets = findWeightTargets(model.graph!);
    const rand = mulberry32(5);
    const S = 12;
    const windows = [0, 1].map(() => [1, ...Array.from({ length: S - 1 }, () => 3 + Math.floor(rand() * 500))]);
    const capture = new GraphCapture(model, targets, nodeCalibRuntime, windows, { hessian: true, inputs: true });

    const q1 = targets.find((t) => t.weight.name === 'model.layers.1.self_attn.q_proj.weight_T')!;
    const c = await capture.capture(q1.node.input[0], q1.K);
    const T = 2 * S;
    expect(c.tokens).toBe(T);
    expect(c.inputs!.length).toBe(T * q1.K);
    for (let i = 0; i < q1.K; i += 7) {
      for (let j = 0; j < q1.K; j += 5) {
        let s = 0;
        for (let t = 0; t < T; t++) s += c.inputs![t * q1.K + i] * c.inputs![t * q1.K + j];
        expect(c.hessian![i * q1.K + j]).toBeCloseTo((2 / T) * s, 3);
      }
    }

    // GPTQ then sets q_proj of layer 1 to its quantized value; here: half the weight.
    const hfName = 'model.layers.1.self_attn.q_proj.weight';
    const changed = src.weights.get(hfName)!.data.map((v) => v * 0.5);
    capture.setWeight(q1, changed);
    const head = targets.find((t) => t.role === 'lm_head')!;
    const h = await capture.capture(head.node.input[0], head.K);
    const weights = new Map(src.weights);
    weights.set(hfName, { ...src.weights.get(hfName)!, data: changed });
    const E = src.weights.get('model.embed_tokens.weight')!.data;
    const D = src.config.hiddenSize;
    let maxErr = 0;
    let maxRef = 0;
    windows.forEach((ids, b) => {
      const ref = referenceForward(src.config, weights, ids);
      for (let p = 0; p < S; p++) {
        for (let v = 0; v < 512; v += 3) {
          let logit = 0;
          for (let k = 0; k < D; k++) logit += h.inputs![(b * S + p) * D + k] * E[v * D + k];
          maxErr = Math.max(maxErr, Math.abs(logit - ref[p][v]));
          maxRef = Math.max(maxRef, Math.abs(ref[p][v]));
        }
      }
    });
    expect(maxErr).toBeLessThan(1e-3 * maxRef);
    // The unchanged model gives different logits: the change reached the capture.
    const plain = referenceForward(src.config, src.weights, windows[0]);
    let diff = 0;
    for (let k = 0; k < D; k++) diff += h.inputs![(S - 1) * D + k] * E[5 * D + k];
    expect(Math.abs(diff - plain[S - 1][5])).toBeGreaterThan(1e-3 * maxRef);
  });

  it('gptq and awq report monotone progress through quantizeVariants, and stop with "cancelled" when aborted', async () => {
    const src = aidreamsSource();
    const bytes = encodeModel(buildDecoderGraph(src.config, src.weights));
    const rand = mulberry32(2);
    const windows = [0, 1].map(() => [1, ...Array.from({ length: 31 }, () => 3 + Math.floor(rand() * 500))]);
    const calibration = { windows, runtime: nodeCalibRuntime };
    for (const method of ['gptq', 'awq'] as const) {
      const fractions: number[] = [];
      const r = await quantizeVariants(bytes, [{ dtype: 'q4', method }], undefined, {
        calibration,
        onProgress: (p) => fractions.push(p.fraction),
      });
      expect(r.reports[0].file).toBe(`model_q4_${method}.onnx`);
      expect(fractions.length).toBeGreaterThan(10);
      expect(fractions.every((f, i) => i === 0 || f >= fractions[i - 1])).toBe(true);
      expect(fractions.at(-1)).toBe(1);
      // 2 windows of 32 = 64 tokens, fewer than down_proj's 172 inputs: GPTQ says so, AWQ has no such warning.
      const thin = r.reports[0].warnings.filter((w) => w.startsWith('GPTQ sees'));
      if (method === 'gptq')
        expect(thin).toEqual([expect.stringMatching(/^GPTQ sees 64 calibration tokens, fewer than the 172 inputs/)]);
      else expect(thin).toEqual([]);
      const ctrl = new AbortController();
      const err = await quantizeVariants(bytes, [{ dtype: 'q4', method }], undefined, {
        calibration,
        signal: ctrl.signal,
        onProgress: (p) => p.fraction > 0.3 && ctrl.abort(),
      }).catch((e: unknown) => e);
      expect(toErrorInfo(err).code).toBe('cancelled');
    }
    // The time left: elapsed × (1 - f) / f, none before 2 % is done.
    expect(timeLeft(0, 0.25, 10_000)).toBeCloseTo(30, 9);
    expect(timeLeft(0, 0.01, 10_000)).toBeUndefined();
  }, 120_000);

  it('refuses an empty or too short calibration text by name', () => {
    const expectBad = (f: () => unknown, msg: RegExp) => {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(QuantlabError);
      expect((err as QuantlabError).code).toBe('bad-argument');
      expect((err as QuantlabError).message).toMatch(msg);
    };
    expectBad(() => calibrationWindows({ tokens: [], bos: 1 }), /calibration text is empty/);
    expectBad(() => calibrationWindows({ tokens: [1], bos: 1 }), /calibration text is empty/);
    expectBad(
      () => calibrationWindows({ tokens: [1, ...Array(50).fill(7)], bos: 1 }, { window: 64 }),
      /too short: 51 tokens, one window needs 64/,
    );
    expectBad(
      () => calibrationWindows({ tokens: Array(300).fill(7) }, { window: 64, tokens: 32 }),
      /less than one window/,
    );
    expectBad(() => calibrationWindows({ tokens: Array(300).fill(7) }, { window: 2 }), /not a whole number >= 3/);
    expectBad(() => calibrationWindows({ tokens: Array(300).fill(7) }, { window: 12.5 }), /not a whole number/);
    expectBad(
      () => calibrationWindows({ tokens: Array(300).fill(7) }, { window: 256, maxPositions: 128 }),
      /window 256 is longer than the model's 128 positions/,
    );
    expectBad(() => calibrationWindows({ tokens: Array(300).fill(7) }, { tokens: 100.5, window: 64 }), /tokens 100.5/);
    // The default window is 128, or the model's positions when fewer.
    expect(calibrationWindows({ tokens: Array(300).fill(7) }, { maxPositions: 100 })[0]).toHaveLength(100);
    expect(calibrationWindows({ tokens: Array(300).fill(7) }, { tokens: 300 })).toHaveLength(2);
    const w = calibrationWindows(
      { tokens: Array.from({ length: 300 }, (_, i) => i + 2), bos: 1 },
      { window: 64, tokens: 200 },
    );
    expect(w.length).toBe(3);
    expect(w.map((x) => x[0])).toEqual([1, 1, 1]);
    expect(w[1].slice(1, 3)).toEqual([67, 68]);
  });
});

describe('the calibration reader (--calib FILE|builtin)', () => {
  let dir: string;
  let files: string;
  let reference: (text: string) => number[];
  beforeAll(async () => {
    dir = await writeModel(aidreamsSource(), 'aidreams260K');
    files = tempDir();
    configureNodeTransformers({ allowRemote: false });
    const tok = await AutoTokenizer.from_pretrained(dir);
    reference = (text) => Array.from(tok.encode(text));
  }, 60_000);

  it("is not the lab's evaluation text", () => {
    expect(sameText(CALIBRATION_TEXT, SAMPLE_TEXT)).toBe(false);
    // Not one sentence in common either (both are dream stories in plain English).
    const sentences = (t: string) =>
      new Set(
        t
          .split(/(?<=[.!?])\s+/)
          .map((x) => x.trim())
          .filter((x) => x.length > 20),
      );
    const evalSentences = sentences(SAMPLE_TEXT);
    expect([...sentences(CALIBRATION_TEXT)].filter((x) => evalSentences.has(x))).toEqual([]);
  });

  it("reads the built-in text or a file with the folder's own tokenizer, as transformers.js's AutoTokenizer does", () => {
    const ids = reference(CALIBRATION_TEXT);
    expect(ids.length).toBeGreaterThan(512);
    const builtin = readCalibration(dir, 'builtin');
    expect(builtin.ids).toEqual(ids.slice(0, 512));
    expect(builtin.bos).toBe(1);
    expect(builtin.window).toBe(128);
    expect(builtin.windows).toEqual([0, 1, 2, 3].map((i) => [1, ...ids.slice(i * 128 + 1, (i + 1) * 128)]));

    // A file with a byte-order mark reads as the same text; tokens and window as asked.
    const text = join(files, 'bom.txt');
    writeFileSync(text, `\uFEFF${SAMPLE_TEXT}`);
    const cut = readCalibration(dir, text, { tokens: 300, window: 100, maxPositions: 128 });
    expect(cut.ids).toEqual(reference(SAMPLE_TEXT).slice(0, 300));
    expect(cut.windows.map((w) => w.length)).toEqual([100, 100, 100]);
  });

  it('refuses a missing, unreadable, empty or too short text and tokens or window out of range, by name', () => {
    const write = (name: string, text: string) => {
      const path = join(files, name);
      writeFileSync(path, text);
      return path;
    };
    const folder = join(files, 'a-folder.txt');
    mkdirSync(folder, { recursive: true });
    const cases: [() => unknown, RegExp][] = [
      [() => readCalibration(dir, join(files, 'missing.txt')), /Calibration file .*missing.txt does not exist/],
      [() => readCalibration(dir, folder), /Cannot read calibration file .*a-folder.txt/],
      [() => readCalibration(dir, write('empty.txt', '\uFEFF \n\t')), /The calibration text is empty/],
      [() => readCalibration(dir, write('short.txt', 'A dream.')), /too short: \d+ tokens, one window needs 128/],
      [() => readCalibration(dir, 'builtin', { window: 256, maxPositions: 128 }), /longer than the model's 128/],
      [() => readCalibration(dir, 'builtin', { tokens: 64 }), /tokens 64 is less than one window of 128/],
      [() => readCalibration(dir, 'builtin', { window: 1 }), /window 1 is not a whole number >= 3/],
    ];
    for (const [f, message] of cases) {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(err, String(message)).toBeInstanceOf(QuantlabError);
      expect((err as QuantlabError).code).toBe('bad-argument');
      expect((err as QuantlabError).message).toMatch(message);
    }
  });
});
