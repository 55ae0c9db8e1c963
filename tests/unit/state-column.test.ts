// Column (src/state/column.svelte.ts) against fake column workers: loading, streaming, stopping
// (the session kept; termination only after the Stop time, said so), the watchdogs of a load or a
// generation that makes no progress, dropping a superseded run's tokens, a failure or crash kept
// in its own column, the floor, and what a finished column keeps across a reload.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ColumnDeps } from '../../src/state/column.svelte.ts';
import { Column } from '../../src/state/column.svelte.ts';
import type { GenerateParams } from '../../src/lib/runner/types';
import type { PlatformInfo } from '../../src/lib/page/platform';
import type { VariantInfo } from '../../src/lib/variants/table';
import type { ColumnMemory, ModelShape, Refusal } from '../../src/lib/page/memory-budget';
import { LoadGate } from '../../src/lib/page/load-gate';
import { QuantlabError } from '../../src/lib/errors';
import { FakeRun, fakeVariant, fakeWorkers, type FakeColumnWorker } from './state-fakes';

const REF = { kind: 'served', id: 'quantlab-tiny' } as const;
const PARAMS: GenerateParams = {
  prompt: 'Once',
  maxNewTokens: 8,
  temperature: 0,
  topK: 0,
  topP: 1,
  repetitionPenalty: 1,
  seed: 1,
};
const ISOLATED: PlatformInfo = { crossOriginIsolated: true, webgpu: null, hardwareConcurrency: 8 };

function column(
  stem = 'model',
  deps: Partial<ColumnDeps> = {},
  more: Partial<VariantInfo> = {},
  setup?: (w: FakeColumnWorker, i: number) => void,
) {
  const fw = fakeWorkers(setup);
  const onDone = vi.fn();
  // 100 MB by default: a model big enough for its share of the cores (small ones get one thread).
  const c = new Column(REF, fakeVariant(stem, { bytes: 100e6, ...more }), {
    startWorker: fw.start,
    platform: () => ISOLATED,
    devicePreference: () => 'auto',
    columns: () => 2,
    onDone,
    ...deps,
  });
  return { c, workers: fw.workers, onDone };
}

/** Waits until worker `index` (the first by default) has had `runs` generate() calls. */
async function running(workers: FakeColumnWorker[], index = 0, runs = 1): Promise<FakeColumnWorker> {
  await vi.waitFor(() => expect(workers[index]?.runs.length ?? 0).toBeGreaterThanOrEqual(runs));
  return workers[index];
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Column', () => {
  it('loads once on WASM with its share of the threads, however often it is asked', async () => {
    const { c, workers } = column();
    const [a, b] = await Promise.all([c.load(), c.load()]);
    expect([a, b]).toEqual([true, true]);
    expect(workers).toHaveLength(1);
    expect(workers[0].loads).toEqual([{ ref: REF, variant: 'model', device: 'wasm', threads: 4 }]);
    expect(c.status).toBe('ready');
    expect(c.loaded).toBe(true);
    expect(c.threads).toBe(4);
    expect(c.progress).toBeNull();
  });

  it('shows the first token at once, then the stream at most every 16 ms, then the final result, and reports it done', async () => {
    const { c, workers, onDone } = column();
    const done = c.generate(PARAMS, 1);
    const w = await running(workers);
    expect(c.status).toBe('generating');
    w.run.emit([5]);
    expect(c.ids).toEqual([5]); // the first token is written without waiting
    w.run.emit([5, 6]);
    w.run.emit([5, 6, 9]);
    expect(c.ids).toEqual([5]); // batched: nothing more shown before the timer
    await vi.advanceTimersByTimeAsync(16);
    expect(c.ids).toEqual([5, 6, 9]);
    expect(c.text).toBe('5 6 9 ');
    w.run.emit([5, 6, 9, 7]);
    w.run.finish([5, 6, 9, 7, 8]);
    await done;
    expect(c.status).toBe('done');
    expect(c.ids).toEqual([5, 6, 9, 7, 8]);
    expect(c.text).toBe('5 6 9 7 8 ');
    expect(c.timings?.decodeTokensPerS).toBe(50);
    expect(c.stopped).toBe(false);
    expect(onDone).toHaveBeenCalledOnce();
  });

  it('keeps the stages of the first token of the generation that loaded it, from the marks of load and run', async () => {
    const { c, workers } = column();
    const done = c.generate(PARAMS, 1);
    const w = await running(workers);
    w.run.emit([5]);
    w.run.finish([5, 6]);
    await done;
    // The fake's marks (state-fakes.ts): boot 1, WASM 1-2, tokenizer 2-3, session 3-4; run from 10, first token at 12.
    const t = c.firstToken!;
    expect(t.stages).toMatchObject({ wasm_compile: 1, tokenizer: 1, session_create: 1, prefill: 2 });
    expect(t.spans.prefill.endMs - t.spans.prefill.startMs).toBe(2);
    // Written after it was picked, and the whole time counts from navigation up to that moment.
    expect(t.stages.first_decode_step).toBeGreaterThan(0);
    expect(t.totalMs).toBe(t.spans.first_decode_step.endMs);
    // A generation on the loaded session has no load to split: the first figures stay.
    const again = c.generate(PARAMS, 2);
    (await running(workers, 0, 2)).run.finish([7]);
    await again;
    expect(c.firstToken).toBe(t);
  });

  it('warms its worker once on WASM with its share of the threads, and loads in that worker', async () => {
    const { c, workers } = column();
    await c.warm();
    await c.warm();
    expect(workers).toHaveLength(1);
    expect(workers[0].warms).toEqual([{ device: 'wasm', threads: 4 }]);
    expect(workers[0].loads).toEqual([]);
    expect(await c.load()).toBe(true);
    expect(workers).toHaveLength(1);
    expect(workers[0].loads).toEqual([{ ref: REF, variant: 'model', device: 'wasm', threads: 4 }]);
  });

  it('starts a new worker for the load when the threads it warmed with are no longer its share', async () => {
    let columns = 2;
    const { c, workers } = column('model', { columns: () => columns });
    await c.warm();
    columns = 4; // two more columns opened since: 8 cores / 4 = 2 threads each
    expect(await c.load()).toBe(true);
    expect(workers).toHaveLength(2);
    expect(workers[0].terminated).toBe(true);
    expect(workers[1].loads).toEqual([{ ref: REF, variant: 'model', device: 'wasm', threads: 2 }]);
  });

  it('warms and loads a small model on one thread, and says why', async () => {
    const { c, workers } = column('model', {}, { bytes: 1_003_000 });
    c.warm();
    await c.load();
    expect(workers[0].warms).toEqual([{ device: 'wasm', threads: 1 }]);
    expect(workers[0].loads).toEqual([{ ref: REF, variant: 'model', device: 'wasm', threads: 1 }]);
    expect(c.device?.reason).toBe(
      'no WebGPU adapter in this browser; 1 thread (a model this small runs faster on one)',
    );
  });

  it("shows the runner's note when max new tokens was cut to the model's positions, until the next run", async () => {
    const { c, workers } = column();
    const note =
      "At most 3 new tokens, not 8: the prompt's 126 tokens and the new ones share the model's 128 positions.";
    const done = c.generate(PARAMS, 1);
    (await running(workers)).run.finish([5, 6, 7], { limitNote: note });
    await done;
    expect(c.status).toBe('done');
    expect(c.notice).toBe(note);
    const again = c.generate(PARAMS, 2);
    expect(c.notice).toBeNull();
    (await running(workers, 0, 2)).run.finish([5]);
    await again;
    expect(c.notice).toBeNull();
  });

  it('stop() cancels the run in flight and keeps what it wrote', async () => {
    const { c, workers, onDone } = column();
    const done = c.generate(PARAMS, 1);
    const w = await running(workers);
    w.run.emit([3, 4]);
    c.stop();
    await done;
    expect(w.cancels).toBe(1);
    expect(w.run.cancelled).toBe(true);
    expect(c.status).toBe('done');
    expect(c.stopped).toBe(true);
    expect(c.ids).toEqual([3, 4]);
    expect(w.terminated).toBe(false); // a soft cancel keeps the loaded worker
    expect(c.loaded).toBe(true);
    expect(onDone).toHaveBeenCalledOnce();
  });

  it('after Stop says where it stopped, keeps its figures, and the next Generate runs without loading again', async () => {
    const { c, workers } = column();
    const done = c.generate(PARAMS, 1);
    const w = await running(workers);
    w.run.emit([3, 4, 5]);
    c.stop();
    await done;
    expect(c.stoppedAt).toBe(3);
    expect(c.timings?.loadMs).toBe(5);
    expect(c.notice).toBeNull();
    expect(c.loads).toBe(1);

    const again = c.generate(PARAMS, 2);
    await running(workers, 0, 2);
    expect(c.stoppedAt).toBeNull();
    w.run.finish([7]);
    await again;
    expect(workers).toHaveLength(1);
    expect(w.loads).toHaveLength(1);
    expect(c.loads).toBe(1);
    expect(c.stopped).toBe(false);
  });

  it('Stop while a generation is still loading lets the load finish and does not generate', async () => {
    let release = () => {};
    const { c, workers } = column('model', {}, {}, (w) => {
      w.loadOutcome = () =>
        new Promise(
          (r) => (release = () => r({ ok: true, value: { loadMs: 1, threads: 1, betweenTokens: 'every-8-ms' } })),
        );
    });
    const done = c.generate(PARAMS, 1);
    await vi.waitFor(() => expect(c.status).toBe('loading'));
    c.stop();
    release();
    await done;
    expect(workers[0].runs).toHaveLength(0);
    expect(c.status).toBe('ready');
    expect(c.stoppedAt).toBe(0);
    expect(workers[0].terminated).toBe(false);
  });

  it('terminates a worker that ignores the cancel after 3 s; the next run starts a new one', async () => {
    const { c, workers } = column();
    void c.generate(PARAMS, 1);
    const w = await running(workers);
    w.honoursCancel = false;
    w.run.emit([9]);
    c.stop();
    await vi.advanceTimersByTimeAsync(2900);
    expect(w.terminated).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    expect(w.terminated).toBe(true);
    expect(c.status).toBe('idle');
    expect(c.stopped).toBe(true);
    expect(c.stoppedAt).toBe(1);
    expect(c.loaded).toBe(false);
    expect(c.notice).toBe(
      'The worker did not stop within 3 s, so it was terminated and the model unloaded; the next Generate loads it again.',
    );

    const again = c.generate(PARAMS, 2);
    const w2 = await running(workers, 1);
    expect(workers).toHaveLength(2);
    expect(w2.loads).toHaveLength(1);
    w2.run.finish([1]);
    await again;
    expect(c.status).toBe('done');
  });

  it('live mode: a Stop the worker ignores, then a new Generate 300 ms later, loads a new worker and runs', async () => {
    const { c, workers } = column();
    void c.generate(PARAMS, 1);
    const w = await running(workers);
    w.honoursCancel = false;
    w.run.emit([9, 9, 9, 9, 9]);
    c.stop();
    await vi.advanceTimersByTimeAsync(300);
    const again = c.generate(PARAMS, 2);
    await vi.advanceTimersByTimeAsync(3500);
    expect(w.terminated).toBe(true);
    const w2 = await running(workers, 1);
    expect(w2.loads).toHaveLength(1);
    expect(c.status).toBe('generating');
    w2.run.finish([1]);
    await again;
    expect(c.status).toBe('done');
  });

  it('drops every token and the result of a run that a newer generation replaced', async () => {
    const { c, workers, onDone } = column();
    const first = c.generate(PARAMS, 1);
    const w = await running(workers);
    const old = w.run;
    old.emit([1, 1]);
    await vi.advanceTimersByTimeAsync(16);
    expect(c.ids).toEqual([1, 1]);

    const second = c.generate({ ...PARAMS, seed: 2 }, 2);
    expect(c.generation).toBe(2);
    expect(c.ids).toEqual([]); // cleared at once
    await first;
    await running(workers, 0, 2);
    // The old run's late stream (its own message channel) and result must not show.
    old.onToken?.(FakeRun.event([1, 1, 1, 1, 1]));
    await vi.advanceTimersByTimeAsync(16);
    expect(c.ids).toEqual([]);
    expect(c.offsets).toEqual([]);
    w.run.emit([2]);
    await vi.advanceTimersByTimeAsync(16);
    expect(c.ids).toEqual([2]);
    old.onToken?.(FakeRun.event([1, 1, 1, 1, 1, 1]));
    w.run.finish([2, 2]);
    await second;
    old.onToken?.(FakeRun.event([1, 1, 1, 1, 1, 1, 1]));
    expect(c.ids).toEqual([2, 2]);
    expect(c.text).toBe('2 2 ');
    expect(c.offsets).toEqual([2]); // the newer run's own stream, not the old one's
    expect(c.status).toBe('done');
    expect(onDone).toHaveBeenCalledOnce(); // only the newer run finished as a result
    expect(w.runs[1].params.seed).toBe(2);
  });

  it('drops the stream of a superseded run that keeps going until the worker answers the cancel', async () => {
    const { c, workers } = column();
    const first = c.generate(PARAMS, 1);
    const w = await running(workers);
    w.honoursCancel = false;
    const old = w.run;
    void c.generate(PARAMS, 2);
    old.emit([6, 6, 6]);
    await vi.advanceTimersByTimeAsync(16);
    expect(c.ids).toEqual([]);
    expect(c.generation).toBe(2);
    old.finish();
    await first;
    expect(c.ids).toEqual([]);
    expect(c.status).not.toBe('done');
  });

  it('ignores a shorter stream event that arrives after a longer one', async () => {
    const { c, workers } = column();
    void c.generate(PARAMS, 1);
    const w = await running(workers);
    w.run.emit([4, 5, 6]);
    w.run.onToken?.(FakeRun.event([4]));
    await vi.advanceTimersByTimeAsync(16);
    expect(c.ids).toEqual([4, 5, 6]);
  });

  it('keeps a failure in its own column: the other column generates, and Retry starts afresh', async () => {
    const a = column('model_q4');
    const b = column('model');
    const runA = a.c.generate(PARAMS, 1);
    const runB = b.c.generate(PARAMS, 1);
    const wa = await running(a.workers);
    const wb = await running(b.workers);
    wa.run.emit([7]);
    wa.crash('out of memory');
    await runA;
    expect(a.c.status).toBe('error');
    expect(a.c.error).toMatchObject({ code: 'internal', during: 'generate' });
    expect(a.c.error?.message).toContain('out of memory');
    expect(wa.terminated).toBe(true);
    expect(a.c.loaded).toBe(false);

    expect(b.c.status).toBe('generating');
    wb.run.finish([8, 8]);
    await runB;
    expect(b.c.status).toBe('done');
    expect(b.c.error).toBeNull();
    expect(wb.terminated).toBe(false);

    a.c.retry();
    const wa2 = await running(a.workers, 1);
    expect(a.workers).toHaveLength(2);
    expect(wa2.run.params).toEqual(PARAMS);
    wa2.run.finish([7, 7]);
    await vi.waitFor(() => expect(a.c.status).toBe('done'));
    expect(a.c.error).toBeNull();
  });

  it('says so when its worker dies while idle after a run: unloaded, idle, and the next Generate loads afresh', async () => {
    const { c, workers } = column('model');
    const run = c.generate(PARAMS, 1);
    const w = await running(workers);
    w.run.finish([3, 4]);
    await run;
    expect(c.status).toBe('done');
    expect(c.notice).toBeNull();
    w.crash('RuntimeError: memory access out of bounds');
    expect(w.terminated).toBe(true);
    expect(c.loaded).toBe(false);
    expect(c.status).toBe('idle');
    expect(c.notice).toContain('memory access out of bounds');
    expect(c.notice).toContain('next Generate loads it again');
    expect(c.error).toBeNull();
    void c.generate(PARAMS, 2);
    const w2 = await running(workers, 1);
    expect(w2.loads).toHaveLength(1);
  });

  it('says so when its worker dies during a token comparison after a run (a call that is not its own load or generation)', async () => {
    const { c, workers } = column('model');
    const run = c.generate(PARAMS, 1);
    const w = await running(workers);
    w.run.finish([3, 4]);
    await run;
    // The comparison's teacher-forced pass, as the playground asks for it once every column is done.
    w.logits = () => new Promise(() => undefined);
    const pass = c.teacherLogits([1, 3, 4]);
    await Promise.resolve();
    w.crash('RuntimeError: Aborted(OOM)');
    // The pass's caller gets the crash (the playground shows it on the compared column's line) ...
    await expect(pass).rejects.toThrow(/Aborted\(OOM\)/);
    // ... and this column says its model is gone, instead of looking done and loaded.
    expect(c.loaded).toBe(false);
    expect(c.status).toBe('idle');
    expect(c.notice).toContain('Aborted(OOM)');
    expect(c.notice).toContain('next Generate loads it again');
    expect(c.error).toBeNull();
  });

  it('shows a failed load as its error and drops that worker; Retry on WASM loads there', async () => {
    const gpu = { vendor: 'x', architecture: 'y', isFallback: false, shaderF16: true };
    const { c, workers } = column('model', { platform: () => ({ ...ISOLATED, webgpu: gpu }) }, {}, (w, i) => {
      if (i === 0)
        w.loadOutcome = () => ({ ok: false, error: { code: 'unsupported-device', message: 'no shader-f16' } });
    });
    await c.generate(PARAMS, 1);
    expect(workers[0].loads[0].device).toBe('webgpu');
    expect(c.status).toBe('error');
    expect(c.error).toMatchObject({ code: 'unsupported-device', during: 'load' });
    expect(workers[0].terminated).toBe(true);

    c.retry({ wasm: true });
    const w = await running(workers, 1);
    expect(w.loads[0].device).toBe('wasm');
    w.run.finish([1]);
    await vi.waitFor(() => expect(c.status).toBe('done'));
  });

  it('says so when a load is cancelled by something other than its own Stop, Unload or Cancel, instead of going idle silently', async () => {
    const { c } = column('model', {}, {}, (w) => {
      w.loadOutcome = () => ({ ok: false, error: { code: 'cancelled', message: 'Cancelled: the worker was stopped' } });
    });
    await c.generate(PARAMS, 1);
    expect(c.status).toBe('idle');
    expect(c.error).toBeNull();
    expect(c.notice).toMatch(
      /^The load was cancelled before it finished: its worker was ended without a Stop or Unload here \(Cancelled: the worker was stopped\)\. Press Generate to load it again\.$/,
    );
  });

  it('loads a variant with external data, telling the worker how many .onnx_data files it has', async () => {
    const { c, workers } = column('model', {}, { externalData: 3 });
    expect(await c.load()).toBe(true);
    expect(workers[0].loads[0]).toMatchObject({ variant: 'model', externalData: 3 });
    expect(c.status).toBe('ready');
  });

  it("counts a variant's .onnx_data files in its size, as they download", async () => {
    const download = (file: string, total: number) => ({ status: 'download' as const, file, loaded: total, total });
    const { c } = column('model', {}, { externalData: 2, bytes: undefined }, (w) => {
      w.loadProgress = [
        download('tokenizer.json', 5_000),
        download('onnx/model.onnx', 40_000),
        download('onnx/model.onnx_data', 600_000),
        download('onnx/model.onnx_data_1', 300_000),
        download('onnx/model.onnx_data', 600_000),
      ];
    });
    expect(await c.load()).toBe(true);
    expect(c.bytes).toBe(940_000);
  });

  it('hardCancel() during a load leaves the column idle and stopped, and the load fails as cancelled', async () => {
    let release = () => {};
    const { c, workers } = column('model', {}, {}, (w) => {
      w.loadOutcome = () =>
        new Promise(
          (r) => (release = () => r({ ok: true, value: { loadMs: 1, threads: 1, betweenTokens: 'every-8-ms' } })),
        );
    });
    const started = c.load();
    expect(c.status).toBe('loading');
    c.hardCancel();
    expect(await started).toBe(false);
    expect(c.status).toBe('idle');
    expect(c.stopped).toBe(true);
    expect(c.error).toBeNull();
    expect(workers[0].terminated).toBe(true);
    release(); // the dead worker's late answer changes nothing
    await vi.advanceTimersByTimeAsync(1);
    expect(c.status).toBe('idle');
    expect(c.loaded).toBe(false);
  });

  describe('watchdogs', () => {
    const timeouts = { loadMs: 1000, generateMs: 1000 };

    it('ends a load with no progress for loadMs with a message, terminates its worker, and Retry loads', async () => {
      const { c, workers } = column('model', { timeouts }, {}, (w, i) => {
        if (i === 0) w.hung = 'load';
      });
      const loaded = c.load();
      await vi.advanceTimersByTimeAsync(990);
      expect(c.status).toBe('loading');
      await vi.advanceTimersByTimeAsync(20);
      expect(await loaded).toBe(false);
      expect(workers[0].terminated).toBe(true);
      expect(c.status).toBe('error');
      expect(c.error).toEqual({
        code: 'load-failed',
        during: 'load',
        // The fake worker's last progress line was "loading".
        message: 'Loading model made no progress for 1 s (at: loading), so it was stopped.',
        detail:
          'Building a session takes memory and CPU, and all 2 columns share one browser process: unload a column (or lower the memory budget in the controls) or close other tabs, then press Retry.',
      });
      c.retry();
      await vi.waitFor(() => expect(c.status).toBe('ready'));
      expect(workers).toHaveLength(2);
      expect(workers[1].runs).toHaveLength(0); // a failed load is retried as a load
      expect(c.error).toBeNull();
    });

    it("covers the memory check's config read: a read that never answers ends with the stage named", async () => {
      const budget = {
        modelShape: (read: () => Promise<ModelShape | undefined>) => read(),
        tokens: () => 10,
        admit: () => null,
      };
      const { c, workers } = column('model', { timeouts, budget }, {}, (w, i) => {
        if (i === 0) w.api.modelShape = () => new Promise(() => {});
      });
      const loaded = c.load();
      await vi.advanceTimersByTimeAsync(1010);
      expect(await loaded).toBe(false);
      expect(workers[0].terminated).toBe(true);
      expect(workers[0].loads).toHaveLength(0);
      expect(c.error).toEqual({
        code: 'load-failed',
        during: 'load',
        message:
          "Loading model made no progress for 1 s (at: Reading the model's config for the memory estimate), so it was stopped.",
        // columns() is 2 in these tests.
        detail:
          'All 2 columns share one browser process, which may have no room for another model: unload a column (or lower the memory budget in the controls), or check that the file still arrives, then press Retry.',
      });
      c.retry();
      await vi.waitFor(() => expect(c.status).toBe('ready'));
    });

    it("ends the load when the config read it shares with another column's worker answers only after the watchdog fired", async () => {
      let answer!: (s: ModelShape | undefined) => void;
      const shared = new Promise<ModelShape | undefined>((r) => (answer = r));
      const budget = { modelShape: () => shared, tokens: () => 10, admit: () => null };
      const { c, workers } = column('model', { timeouts, budget });
      const loaded = c.load();
      await vi.advanceTimersByTimeAsync(1010);
      answer(undefined); // the other column's worker answers at last
      expect(await loaded).toBe(false);
      expect(workers.flatMap((w) => w.loads)).toEqual([]);
      expect(c.status).toBe('error');
      expect(c.error?.message).toBe(
        "Loading model made no progress for 1 s (at: Reading the model's config for the memory estimate), so it was stopped.",
      );
    });

    it('ends a generation with no new token for generateMs; each token resets the time; Retry generates', async () => {
      const { c, workers } = column('model', { timeouts });
      const done = c.generate(PARAMS, 1);
      const w = await running(workers);
      for (const ids of [[1], [1, 2], [1, 2, 3]]) {
        await vi.advanceTimersByTimeAsync(900);
        w.run.emit(ids);
      }
      expect(c.status).toBe('generating');
      await vi.advanceTimersByTimeAsync(1001);
      await done;
      expect(w.terminated).toBe(true);
      expect(c.status).toBe('error');
      expect(c.ids).toEqual([1, 2, 3]); // what it wrote stays
      expect(c.error).toMatchObject({
        code: 'generate-failed',
        during: 'generate',
        message: 'model made no progress for 1 s (no token after token 3), so it was stopped and the model unloaded.',
      });
      c.retry();
      const w2 = await running(workers, 1);
      expect(w2.loads).toHaveLength(1);
      w2.run.finish([4]);
      await vi.waitFor(() => expect(c.status).toBe('done'));
    });

    it('takes the hang and the times from the test hooks (window.quantlabTest)', async () => {
      const g = globalThis as { quantlabTest?: unknown };
      g.quantlabTest = { hang: 'load', watchdogMs: 300 };
      try {
        const { c, workers } = column();
        const loaded = c.load();
        await vi.advanceTimersByTimeAsync(310);
        expect(await loaded).toBe(false);
        expect(workers[0].hung).toBe('load');
        expect(c.error?.message).toBe('Loading model made no progress for 0.3 s (at: loading), so it was stopped.');
        g.quantlabTest = undefined;
        c.retry();
        await vi.waitFor(() => expect(c.status).toBe('ready'));
        expect(workers[1].hung).toBeNull();
      } finally {
        g.quantlabTest = undefined;
      }
    });

    // A run's stream events come on their own channel (the onToken proxy's port) and may reach the
    // page after its result; such an event must not wake the finished run's watchdog, which would
    // end whatever the column's worker does a minute later (seen under load as a column gone idle).
    it("a stream event that trails a finished run's result does not wake its watchdog: the next run a minute on is not cut", async () => {
      const { c, workers } = column();
      const first = c.generate(PARAMS, 1);
      const w = await running(workers);
      w.run.emit([1]);
      const ended = w.run;
      ended.finish([1, 2, 3]); // the result first
      await first;
      ended.emit([1, 2, 3]); // then the stream's last event
      expect(c.status).toBe('done');
      const second = c.generate(PARAMS, 2);
      await running(workers, 0, 2);
      // The next run writes a token every 10 s for two minutes: well within its own 60 s watchdog.
      for (let n = 1; n <= 12; n++) {
        await vi.advanceTimersByTimeAsync(10_000);
        w.run.emit(Array.from({ length: n }, () => 7));
      }
      expect(w.terminated).toBe(false);
      expect(c.status).toBe('generating');
      expect(c.notice).toBeNull();
      w.run.finish();
      await second;
      expect(c.status).toBe('done');
      expect(c.ids).toHaveLength(12);
    });

    it("nor does it end a later load a minute on, or give that load's place in the load gate away", async () => {
      const gate = new LoadGate(() => 1);
      let release!: () => void;
      // The column's second worker (after Unload) takes 90 s to load: within its own 120 s watchdog.
      const a = column('model', { loadGate: gate }, {}, (w, i) => {
        if (i === 1)
          w.loadOutcome = (l) =>
            new Promise(
              (r) =>
                (release = () =>
                  r({ ok: true, value: { loadMs: 5, threads: l.threads ?? 1, betweenTokens: 'every-8-ms' } })),
            );
      });
      const b = column('model_q4', { loadGate: gate });
      const first = a.c.generate(PARAMS, 1);
      const w = await running(a.workers);
      w.run.finish([1, 2]);
      await first;
      w.run.emit([1, 2]); // trails the result
      a.c.unload();
      const second = a.c.generate(PARAMS, 2);
      await vi.advanceTimersByTimeAsync(1);
      const waiting = b.c.load();
      await vi.advanceTimersByTimeAsync(90_000);
      expect(a.workers[1].terminated).toBe(false);
      expect(a.c.status).toBe('loading');
      expect(a.c.notice).toBeNull();
      expect([gate.active, gate.waiting]).toEqual([1, 1]);
      expect(b.workers).toHaveLength(0);
      release();
      (await running(a.workers, 1)).run.finish([3]);
      await second;
      expect(a.c.status).toBe('done');
      expect(await waiting).toBe(true);
    });
  });

  describe('floor', () => {
    it('measures only a loaded, idle column, and keeps the result', async () => {
      const { c, workers } = column();
      await c.measureFloor('p', 8);
      expect(workers).toHaveLength(0);
      await c.load();
      const m = c.measureFloor('p', 8);
      expect(c.floorState.measuring).toBe(true);
      expect(workers[0].floors.map((f) => [f.prompt, f.newTokens])).toEqual([['p', 8]]);
      workers[0].floors[0].finish({
        ok: true,
        value: { decodeTokensPerS: 40, floorDecodeTokensPerS: 80, newTokens: 8 },
      });
      await m;
      expect(c.floorState.measuring).toBe(false);
      expect(c.floor).toEqual({ decodeTokensPerS: 40, floorDecodeTokensPerS: 80, newTokens: 8 });
      expect(c.floorError).toBeNull();
    });

    it('shows a failed measurement as an error, a cancelled one as nothing', async () => {
      const { c, workers } = column();
      await c.load();
      const failed = c.measureFloor('p', 8);
      workers[0].floors[0].finish({ ok: false, error: { code: 'bad-argument', message: 'too few tokens' } });
      await failed;
      expect(c.floorError).toMatchObject({ code: 'bad-argument', message: 'too few tokens' });
      expect(c.floor).toBeNull();

      const cancelled = c.measureFloor('p', 8);
      c.cancelFloor();
      await cancelled;
      expect(workers[0].cancels).toBe(1);
      expect(c.floorError).toBeNull();
      expect(c.floorState.measuring).toBe(false);
    });
  });

  it('keeps a finished result across a reload: result() restores into a new column', async () => {
    const { c, workers } = column();
    const done = c.generate(PARAMS, 1);
    const w = await running(workers);
    w.run.emit([3, 4, 5]);
    w.run.finish();
    await done;
    const saved = JSON.parse(JSON.stringify(c.result())) as ReturnType<Column['result']>;
    expect(saved).toMatchObject({ text: '3 4 5 ', ids: [3, 4, 5], offsets: [2, 4, 6], bytes: 100e6 });
    expect(saved.device?.device).toBe('wasm');

    const again = column().c;
    again.restore({ ...saved, offsets: [2, null, 6] });
    expect(again.restored).toBe(true);
    expect(again.text).toBe('3 4 5 ');
    expect(again.ids).toEqual([3, 4, 5]);
    expect(again.offsets).toEqual([2, undefined, 6]);
    expect(again.tokenMs).toEqual(c.timings!.tokenMs);
    expect(again.device).toEqual(c.device);
    expect(again.status).toBe('idle');
  });

  describe('memory budget', () => {
    const shape: ModelShape = { layers: 2, kvHeads: 2, headDim: 16, vocab: 4, maxPositions: 64 };

    it('asks the budget with its estimate before loading, and holds it once admitted', async () => {
      const asked: ColumnMemory[] = [];
      const budget = {
        modelShape: (read: () => Promise<ModelShape | undefined>) => read(),
        tokens: () => 10,
        admit: (_c: Column, need: ColumnMemory) => (asked.push(need), null),
      };
      const { c, workers } = column('model', { budget }, { bytes: 4000 }, (w) => (w.shape = shape));
      expect(c.holdsMemory).toBe(false);
      expect(await c.load()).toBe(true);
      // KV: 2 layers x 2 x 2 heads x 16 x 10 tokens x 4 bytes = 5120
      expect(asked).toHaveLength(1);
      expect(asked[0].kvCache).toBe(5120);
      expect(c.memory).toEqual(asked[0]);
      expect(c.holdsMemory).toBe(true);
      expect(workers[0].loads).toHaveLength(1);
      c.unload();
      expect(c.holdsMemory).toBe(false);
    });

    it('does not load when refused: status over-budget with the figures, its worker ended; Retry asks again', async () => {
      const refusal: Refusal = {
        need: 5,
        budget: 4,
        held: [],
        message: 'model needs about 5 MB',
        detail: 'Remove a column',
      };
      let answer: Refusal | null = refusal;
      const budget = {
        modelShape: (read: () => Promise<ModelShape | undefined>) => read(),
        tokens: () => 10,
        admit: () => answer,
      };
      const { c, workers } = column('model', { budget });
      expect(await c.load()).toBe(false);
      expect(c.status).toBe('over-budget');
      expect(c.refusal).toEqual(refusal);
      expect(c.error).toEqual({
        code: 'over-budget',
        during: 'load',
        message: 'model needs about 5 MB',
        detail: 'Remove a column',
      });
      expect(c.holdsMemory).toBe(false);
      expect(workers[0].loads).toHaveLength(0);
      expect(workers[0].terminated).toBe(true);
      answer = null;
      c.retry();
      await vi.waitFor(() => expect(c.status).toBe('ready'));
      expect(c.refusal).toBeNull();
      expect(c.error).toBeNull();
    });
  });

  describe('load gate', () => {
    it('a column waits its turn with its watchdog asleep, then loads once the one ahead has loaded', async () => {
      const gate = new LoadGate(() => 1);
      let release!: () => void;
      // The first load takes 4.5 s (under its default 120 s watchdog); the second's watchdog is 1 s.
      const first = column('model', { loadGate: gate }, {}, (w) => {
        w.loadOutcome = (l) =>
          new Promise(
            (r) =>
              (release = () =>
                r({ ok: true, value: { loadMs: 5, threads: l.threads ?? 1, betweenTokens: 'every-8-ms' } })),
          );
      });
      const second = column('model_q4', { loadGate: gate, timeouts: { loadMs: 1000 } });
      const a = first.c.load();
      const b = second.c.load();
      await vi.advanceTimersByTimeAsync(1);
      expect(second.c.status).toBe('loading');
      expect(second.c.progress?.message).toMatch(/^Waiting its turn to load \(1 loading, 1 waiting\)/);
      expect(second.workers).toHaveLength(0);
      // Waiting 4.5 s is not stalling: the second's 1 s watchdog does not stop it.
      await vi.advanceTimersByTimeAsync(4500);
      expect(second.c.error).toBeNull();
      expect(second.c.status).toBe('loading');
      release();
      expect(await a).toBe(true);
      expect(await b).toBe(true);
      expect(second.workers[0].loads).toHaveLength(1);
      expect(gate.active).toBe(0);
    });

    it("a load a generation waits on keeps its place until that generation streams, so the next load does not share the prefill's cores", async () => {
      const gate = new LoadGate(() => 1);
      const first = column('model', { loadGate: gate }, {}, (w) => (w.prefillDone = false));
      const second = column('model_q4', { loadGate: gate }, {}, (w) => (w.prefillDone = false));
      void first.c.generate(PARAMS, 1);
      void second.c.generate(PARAMS, 1);
      const a = await running(first.workers);
      await vi.advanceTimersByTimeAsync(1000);
      // Loaded and prefilling: the place is still held, the second waits with no worker started.
      expect([gate.active, gate.waiting]).toEqual([1, 1]);
      expect(second.workers).toHaveLength(0);
      expect(second.c.progress?.message).toMatch(/^Waiting its turn to load/);
      a.run.emit([5]);
      const b = await running(second.workers);
      expect(b.loads).toHaveLength(1);
      // A run that ends without streaming (a failure) gives the place back as well.
      b.run.fail({ code: 'generate-failed', message: 'boom' });
      await vi.waitFor(() => expect(second.c.status).toBe('error'));
      expect([gate.active, gate.waiting]).toEqual([0, 0]);
      // A load nobody generates on (Load, warm-up) does not hold the place.
      const third = column('model_int8', { loadGate: gate });
      expect(await third.c.load()).toBe(true);
      expect([gate.active, gate.waiting]).toEqual([0, 0]);
    });

    it('a column stopped while it waits leaves the queue', async () => {
      const gate = new LoadGate(() => 1);
      const first = column('model', { loadGate: gate }, {}, (w) => (w.loadOutcome = () => new Promise(() => {})));
      const second = column('model_q4', { loadGate: gate });
      void first.c.load();
      const b = second.c.load();
      await vi.advanceTimersByTimeAsync(1);
      second.c.hardCancel();
      expect(await b).toBe(false);
      expect(second.c.status).toBe('idle');
      expect(gate.waiting).toBe(0);
      expect(second.workers).toHaveLength(0);
    });
  });

  it('a config read that fails leaves the KV cache out of the estimate and lets the load explain the failure', async () => {
    const needs: ColumnMemory[] = [];
    const budget = {
      modelShape: (read: () => Promise<ModelShape | undefined>) => read(),
      tokens: () => 10,
      admit: (_c: Column, need: ColumnMemory) => (needs.push(need), null),
    };
    const { c } = column('model', { budget }, {}, (w) => {
      w.api.modelShape = () => Promise.reject(new QuantlabError('offline', 'no network'));
      w.loadOutcome = () => ({ ok: false, error: { code: 'offline', message: 'Could not reach the Hub' } });
    });
    expect(await c.load()).toBe(false);
    expect(needs).toHaveLength(1);
    expect(needs[0].kvCache).toBe(0);
    expect(c.error).toMatchObject({ code: 'offline', message: 'Could not reach the Hub' });
  });
});
