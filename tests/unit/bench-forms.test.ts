// The 4-bit forms table's pieces: accuracy_level set on MatMulNBits graphs (and run by
// onnxruntime-node with the same greedy ids as the quantizer's own file), form names, the choice
// of each backend's default, weight bytes read per token, the bandwidth ratio and software
// adapters. `quantlab bench --forms` itself: every field of every row, on node.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bandwidthCeilingRatio, bytesReadPerToken } from '../../src/lib/bench/bandwidth';
import {
  chooseDefaults,
  FORMS,
  formByName,
  formStem,
  formatFormsTable,
  weightsStem,
  type FormRow,
} from '../../src/lib/bench/forms';
import { describeAdapter, isSoftwareAdapter, type GpuAdapterInfo } from '../../src/lib/bench/webgpu';
import { accuracyLevelOf, setAccuracyLevel } from '../../src/lib/forms/accuracy-level';
import { floorDecode } from '../../src/lib/bench/floor';
import { kvCacheLayout, type TensorCtor } from '../../src/lib/onnx/session';
import {
  DataType,
  decodeModel,
  encodeModel,
  makeGraph,
  makeModel,
  makeNode,
  makeTensor,
  valueInfo,
} from '../../src/lib/onnx/proto';
import { loadOrtNode } from '../../src/node/bench-node';
import { greedyReferences } from '../helpers/aidreams';
import { runCli } from '../helpers/cli';
import { aidreamsSource, cleanupTempDirs, writeModel } from '../helpers/model-dirs';

describe('form names', () => {
  it("names each form's weights as quantlab quantize does, and its own file by its accuracy level", () => {
    expect(weightsStem(formByName('q8 MatMulInteger'))).toBe('model_quantized');
    expect(weightsStem(formByName('q8 MatMulNBits acc4'))).toBe('model_q8nbits');
    expect(formStem(formByName('q8 MatMulNBits acc4'))).toBe('model_q8nbits_acc4');
    expect(formStem(formByName('q4 b32 sym acc0'))).toBe('model_q4');
    expect(formStem(formByName('q4 b32 asym acc4'))).toBe('model_q4_asym_acc4');
    expect(formStem(formByName('q4 b128 sym acc4'))).toBe('model_q4_b128_acc4');
    expect(new Set(FORMS.map(formStem)).size).toBe(FORMS.length);
    expect(() => formByName('q3')).toThrow(/Unknown form "q3"/);
  });
});

const row = (form: string, decode: number, exact = true, runtime: FormRow['runtime'] = 'browser-wasm'): FormRow => ({
  form,
  runtime,
  stem: formStem(formByName(form)),
  op: form.startsWith('q8 MatMulInteger') ? 'MatMulInteger' : 'MatMulNBits',
  bits: form.startsWith('q8') ? 8 : 4,
  block_size: 32,
  zero_points: false,
  accuracy_level: formByName(form).accuracyLevel,
  file_bytes: 1,
  bytes_per_token: 1,
  load_ms: 1,
  runs: 1,
  prefill_tokens_per_s: 1,
  decode_tokens_per_s: decode,
  decode_min: decode,
  decode_max: decode,
  token_exact: exact,
  same_ids_as_fp32: null,
});

describe('chooseDefaults', () => {
  it('picks the fastest token-exact accuracy level of the default q4 weights, beyond the margin, per backend', () => {
    const rows = [
      row('q8 MatMulInteger', 30),
      row('q8 MatMulNBits acc0', 10),
      row('q4 b32 sym acc0', 10),
      row('q4 b32 sym acc1', 10.3), // within 5 %: level 0 stays
      row('q4 b32 sym acc4', 40, false), // fastest, but its ids differ
      row('q4 b128 sym acc0', 50), // other weights: never the default
      row('q4 b32 sym acc0', 20, true, 'node'),
      row('q4 b32 sym acc4', 25, true, 'node'),
    ];
    const [wasm, node] = chooseDefaults(rows);
    expect(wasm).toMatchObject({
      runtime: 'browser-wasm',
      q4_form: 'q4 b32 sym acc0',
      q4_accuracy_level: 0,
      speedup_over_level0: 1,
      fastest_q4_form: 'q4 b128 sym acc0',
      q8_decode_tokens_per_s: 30,
    });
    expect(wasm.q4_over_q8).toBeCloseTo(10 / 30, 12);
    expect(wasm.nbits8_over_q8).toBeCloseTo(10 / 30, 12);
    expect(node).toMatchObject({
      runtime: 'node',
      q4_form: 'q4 b32 sym acc4',
      q4_accuracy_level: 4,
      q8_decode_tokens_per_s: null,
    });
    expect(node.speedup_over_level0).toBeCloseTo(1.25, 12);
    const text = formatFormsTable({ rows, defaults: [wasm, node], load_average: { before: 1, after: 2 } });
    expect(text.split('\n').filter((l) => / (browser-wasm|node) /.test(l) && /^q/.test(l))).toHaveLength(rows.length);
    expect(text).toMatch(
      /browser-wasm: default q4 form q4 b32 sym acc0 .*q4\/q8 0\.33.*\(4-bit slower than 8-bit here\)/,
    );
  });
});

describe('chooseDefaults on a software adapter', () => {
  it('keeps level 0: correctness-only speeds choose nothing', () => {
    const rows = [row('q4 b32 sym acc0', 1, true, 'browser-webgpu'), row('q4 b32 sym acc1', 3, true, 'browser-webgpu')];
    for (const r of rows) r.correctness_only = true;
    const [d] = chooseDefaults(rows);
    expect(d).toMatchObject({ q4_form: 'q4 b32 sym acc0', correctness_only: true, speedup_over_level0: 1 });
    expect(formatFormsTable({ rows, defaults: [d], load_average: { before: 0, after: 0 } })).toMatch(
      /software adapter: correctness-only, no default chosen by speed/,
    );
  });
});

describe('bytesReadPerToken and the bandwidth ratio', () => {
  it('counts every initializer a non-Gather node reads once, and one row of a Gather-only table', () => {
    const f = (n: number) => new Float32Array(n);
    const model = makeModel({
      graph: makeGraph({
        name: 'g',
        nodes: [
          makeNode('Gather', ['table', 'ids'], ['x'], 'g0'),
          makeNode('Gather', ['tied', 'ids'], ['y'], 'g1'),
          makeNode('MatMul', ['x', 'w'], ['a'], 'm0'),
          makeNode('MatMul', ['a', 'w'], ['b'], 'm1'),
          makeNode('Gemm', ['b', 'tied'], ['out'], 'm2'),
        ],
        initializers: [
          makeTensor('table', DataType.FLOAT, [10, 4], f(40)),
          makeTensor('tied', DataType.FLOAT, [6, 4], f(24)),
          makeTensor('w', DataType.UINT8, [4, 4], new Uint8Array(16)),
        ],
        inputs: [valueInfo('ids', DataType.INT64, [1])],
        outputs: [valueInfo('out', DataType.FLOAT, [1, 6])],
      }),
      opsets: { '': 17 },
    });
    // table: one row of 4 floats (16 B); tied: read whole by Gemm (96 B); w: 16 B, counted once.
    expect(bytesReadPerToken(model)).toBe(16 + 96 + 16);
    expect(bandwidthCeilingRatio(50, 2e8, 2e10)).toBeCloseTo(0.5, 12);
    expect(bandwidthCeilingRatio(50, 2e8, undefined)).toBeUndefined();
    expect(bandwidthCeilingRatio(50, 2e8, 0)).toBeUndefined();
  });
});

describe('WebGPU adapters', () => {
  const swiftshader: GpuAdapterInfo = {
    vendor: 'google',
    architecture: 'swiftshader',
    device: '',
    description: '',
    is_fallback: false,
    shader_f16: false,
  };
  it('calls SwiftShader or a fallback adapter software, a named GPU not', () => {
    expect(isSoftwareAdapter(swiftshader)).toBe(true);
    expect(isSoftwareAdapter({ ...swiftshader, vendor: 'x', architecture: 'y', is_fallback: true })).toBe(true);
    const gpu = { ...swiftshader, vendor: 'nvidia', architecture: 'ampere', description: 'NVIDIA GeForce RTX 3060' };
    expect(isSoftwareAdapter(gpu)).toBe(false);
    expect(describeAdapter(gpu)).toBe('NVIDIA GeForce RTX 3060 (nvidia / ampere)');
    expect(describeAdapter(swiftshader)).toBe('google / swiftshader, software');
  });
});

describe("accuracy_level on the quantizer's q4 file, and quantlab bench --forms", () => {
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

  it("sets the level on every MatMulNBits node (0 removes it), and level 4 runs with level 0's greedy ids", async () => {
    const bytes = readFileSync(join(dir, 'onnx/model_q4.onnx'));
    const m = decodeModel(bytes);
    const nbits = m.graph!.node.filter((n) => n.opType === 'MatMulNBits').length;
    // aidreams260K: 4 layers x 7 projections (the tied lm_head kept in float).
    expect(nbits).toBe(28);
    expect(accuracyLevelOf(m)).toBe(0);
    expect(setAccuracyLevel(m, 4)).toBe(nbits);
    expect(accuracyLevelOf(m)).toBe(4);
    const ort = await loadOrtNode();
    const ref = greedyReferences()[0];
    const greedyIds = async (model: Uint8Array) => {
      const s = await ort.InferenceSession.create(model as unknown as string, { logSeverityLevel: 3 });
      try {
        return (await floorDecode(ort.Tensor as TensorCtor, s, kvCacheLayout(s), ref.prompt_ids, 40)).ids;
      } finally {
        await s.release();
      }
    };
    expect(await greedyIds(encodeModel(m))).toEqual(await greedyIds(bytes));
    const back = decodeModel(encodeModel(m));
    setAccuracyLevel(back, 0);
    expect(back.graph!.node.some((n) => n.attribute.some((a) => a.name === 'accuracy_level'))).toBe(false);
  }, 60_000);

  it('times every form on node and reports every field; the chosen default is token-exact', async () => {
    const r = await runCli([
      'bench',
      dir,
      '--forms',
      '--runtimes',
      'node',
      '--runs',
      '1',
      '--prompt-tokens',
      '8',
      '--new-tokens',
      '4',
      '--json',
    ]);
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(r.out);
    expect(report.results).toEqual([]);
    const rows: FormRow[] = report.forms.rows;
    expect(rows.map((x) => x.form)).toEqual(FORMS.map((f) => f.name));
    for (const x of rows) {
      expect(x.runtime).toBe('node');
      for (const k of [
        'file_bytes',
        'bytes_per_token',
        'load_ms',
        'prefill_tokens_per_s',
        'decode_tokens_per_s',
        'decode_min',
        'decode_max',
      ] as const)
        expect(x[k], `${x.form} ${k}`).toBeGreaterThan(0);
      expect(x.runs).toBe(1);
      // Level 0 is its own reference; other levels may change the ids (int8 activations do here on some weights).
      expect(typeof x.token_exact).toBe('boolean');
      if (x.accuracy_level === 0) expect(x.token_exact, x.form).toBe(true);
      expect(typeof x.same_ids_as_fp32).toBe('boolean');
    }
    // The forms' own files differ from their weights' only in an attribute: sizes within a few bytes per node.
    const acc0 = rows.find((x) => x.form === 'q4 b32 sym acc0')!;
    const acc4 = rows.find((x) => x.form === 'q4 b32 sym acc4')!;
    expect(acc4.file_bytes - acc0.file_bytes).toBeGreaterThan(0);
    expect(acc4.file_bytes - acc0.file_bytes).toBeLessThan(28 * 40);
    expect(acc4.bytes_per_token).toBe(acc0.bytes_per_token);
    expect(report.forms.defaults).toHaveLength(1);
    expect(report.forms.defaults[0]).toMatchObject({
      runtime: 'node',
      q4_form: expect.stringMatching(/^q4 b32 sym acc[014]$/),
    });
    expect(report.forms.load_average.before).toBeGreaterThanOrEqual(0);
  }, 120_000);

  it('refuses a folder without the weights, naming the quantize commands that write them', async () => {
    const bare = await writeModel(aidreamsSource(), 'bare');
    const r = await runCli([
      'bench',
      bare,
      '--forms',
      '--runtimes',
      'node',
      '--prompt-tokens',
      '8',
      '--new-tokens',
      '4',
    ]);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/--forms needs onnx\/model_quantized\.onnx, onnx\/model_q8nbits\.onnx, onnx\/model_q4\.onnx/);
    expect(r.err).toMatch(/quantlab quantize .* --dtype q4 --bits 8/);
  });
});
