// Time to first token: the stages from the page's and the worker's marks (worked out by hand), the
// latency panel's rows, the benchmark's medians and printed lines, and the one-node model a column
// worker starts ONNX Runtime with (run in onnxruntime-node, decoded with the project's reader).
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { firstTokenResult, type FirstTokenRound } from '../../src/lib/bench/first-token';
import { formatFirstToken } from '../../src/lib/bench/report';
import { identityModelBytes } from '../../src/lib/onnx/identity-model';
import { decodeModel } from '../../src/lib/onnx/proto';
import {
  FIRST_TOKEN_STAGES,
  firstTokenRows,
  firstTokenTimeline,
  type FirstTokenMarks,
  type FirstTokenTimeline,
} from '../../src/lib/page/first-token';

/** Navigation at 1000; the worker made at 1100 and running at 1300; WASM 1300-1900; tokenizer 1950-2000; session 2000-2400. */
const MARKS: FirstTokenMarks = {
  navigationAt: 1000,
  requestedAt: 1500,
  workerCreatedAt: 1100,
  load: {
    bootAt: 1300,
    wasm: { start: 1300, end: 1900 },
    tokenizer: { start: 1950, end: 2000 },
    session: { start: 2000, end: 2400 },
  },
  prefill: { start: 2410, end: 2450 },
  shownAt: 2470,
};

describe('firstTokenTimeline', () => {
  it('gives each stage its duration and its span after navigation', () => {
    const t = firstTokenTimeline(MARKS);
    expect(t.totalMs).toBe(1470);
    expect(t.stages).toEqual({
      page_load: 500,
      worker_start: 200,
      wasm_compile: 600,
      session_create: 400,
      tokenizer: 50,
      prefill: 40,
      first_decode_step: 20,
    });
    expect(t.spans.wasm_compile).toEqual({ startMs: 300, endMs: 900 });
    expect(t.spans.first_decode_step).toEqual({ startMs: 1450, endMs: 1470 });
  });

  it('counts a worker that ran before the column took it, and a runtime already started, as 0', () => {
    const t = firstTokenTimeline({ ...MARKS, workerCreatedAt: 1400, load: { ...MARKS.load, wasm: undefined } });
    expect(t.stages.worker_start).toBe(0);
    expect(t.stages.wasm_compile).toBe(0);
    expect(t.spans.worker_start).toEqual({ startMs: 400, endMs: 400 });
  });
});

describe('firstTokenRows', () => {
  it('lists the columns that have first-token stages, in order', () => {
    const t = firstTokenTimeline(MARKS);
    const rows = firstTokenRows([
      { label: 'fp32', firstToken: t },
      { label: 'q8', firstToken: null },
      { label: 'q4', firstToken: t },
    ]);
    expect(rows.map((r) => [r.label, r.totalMs])).toEqual([
      ['fp32', 1470],
      ['q4', 1470],
    ]);
    expect(rows[0].stages.session_create).toBe(400);
  });
});

/** A round's page and floor figures (its columns' first tokens are added by the caller). */
function times(cold: FirstTokenTimeline, warm: FirstTokenTimeline, floorColdMs: number, floorWarmMs: number) {
  return { cold, warm, floorColdMs, floorWarmMs };
}

/** A timeline whose every stage lasts `ms` and whose total is `total`. */
function flat(ms: number, total: number): FirstTokenTimeline {
  const stages = Object.fromEntries(FIRST_TOKEN_STAGES.map((s) => [s, ms])) as FirstTokenTimeline['stages'];
  const spans = Object.fromEntries(
    FIRST_TOKEN_STAGES.map((s, i) => [s, { startMs: i * ms, endMs: (i + 1) * ms }]),
  ) as FirstTokenTimeline['spans'];
  return { totalMs: total, stages, spans };
}

describe('firstTokenResult', () => {
  it('takes medians over the rounds and the ratios to the floor page', () => {
    const rounds: FirstTokenRound[] = [
      // Columns' first tokens: the third round's page had only two columns.
      {
        ...times(flat(10, 1000), flat(5, 500), 400, 200),
        coldColumnsMs: [1000, 1500, 2500],
        warmColumnsMs: [500, 900, 1300],
      },
      {
        ...times(flat(30, 3000), flat(7, 700), 600, 350),
        coldColumnsMs: [3000, 3100, 3300],
        warmColumnsMs: [700, 800, 1000],
      },
      { ...times(flat(20, 2000), flat(6, 600), 500, 300), coldColumnsMs: [2000, 2600], warmColumnsMs: [600, 1000] },
    ];
    const r = firstTokenResult('model', rounds);
    expect(r).toMatchObject({
      variant: 'model',
      runs: 3,
      cold_ms: 2000,
      warm_ms: 600,
      floor_cold_ms: 500,
      floor_warm_ms: 300,
    });
    expect(r.cold_ratio).toBe(4);
    expect(r.warm_ratio).toBe(2);
    expect(r.stages.prefill).toBe(20);
    expect(r.warm_stages.tokenizer).toBe(6);
    // prefill is stage 5: 5 * 20 to 6 * 20 in the median round.
    expect(r.timeline.prefill).toEqual({ start_ms: 100, end_ms: 120 });
    expect(r.cold_runs_ms).toEqual([1000, 3000, 2000]);
    // Each column's median over the rounds that have it: (1500, 3100, 2600) and (2500, 3300).
    expect(r.columns_cold_ms).toEqual([2000, 2600, 2900]);
    expect(r.columns_warm_ms).toEqual([600, 900, 1150]);
    expect(() => firstTokenResult('model', [])).toThrow();

    const lines = formatFirstToken(r).split('\n');
    expect(lines[0]).toContain('model in the first column (median of 3');
    expect(lines.find((l) => l.startsWith('prefill'))!.split(/\s+/)).toEqual([
      'prefill',
      '20',
      '(100-120)',
      '6',
      '(30-36)',
    ]);
    expect(lines.find((l) => l.startsWith('first token'))!.split(/\s+/)).toEqual(['first', 'token', '2000', '600']);
    expect(lines.find((l) => l.startsWith('every column'))!.split(/\s+/)).toEqual([
      'every',
      'column',
      '2000',
      '/',
      '2600',
      '/',
      '2900',
      '600',
      '/',
      '900',
      '/',
      '1150',
    ]);
    expect(lines.find((l) => l.startsWith('page / floor'))!.split(/\s+/)).toEqual([
      'page',
      '/',
      'floor',
      '4.00',
      '2.00',
    ]);
  });
});

describe('identityModelBytes', () => {
  it('is an ONNX model ONNX Runtime runs: y = x', async () => {
    const bytes = identityModelBytes();
    const m = decodeModel(bytes);
    expect(m.graph?.node.map((n) => n.opType)).toEqual(['Identity']);
    const s = await ort.InferenceSession.create(bytes);
    expect(s.inputNames).toEqual(['x']);
    const out = await s.run({ x: new ort.Tensor('float32', new Float32Array([3.5]), [1]) });
    expect(Array.from(out.y.data as Float32Array)).toEqual([3.5]);
    await s.release();
  });
});
