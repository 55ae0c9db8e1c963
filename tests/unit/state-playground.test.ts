// Playground (src/state/playground.svelte.ts) and its latency state (latency.svelte.ts) against
// fake column workers, a fake builder and an in-memory localStorage: columns from the URL, one
// generation id for every column, a failing column beside working ones, what is saved and restored,
// live mode, and the floor pass.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ServedModels } from '../../src/browser/served-models';
import { BUILTIN_MODEL, HUB_MODELS, TINY_MODEL } from '../../src/lib/catalog';
import { QuantlabError } from '../../src/lib/errors';
import { DEFAULT_BANDWIDTH_GBS } from '../../src/lib/page/latency';
import { DEFAULT_PROMPT, DEFAULT_SETTINGS, settingsToQuery } from '../../src/lib/page/settings';
import type { VariantInfo } from '../../src/lib/variants/table';
import { Library } from '../../src/state/library.svelte.ts';
import { LIVE_DEBOUNCE_MS, Playground } from '../../src/state/playground.svelte.ts';
import { fakeBuilder, fakeVariant, fakeWorkers, memoryStorage, settle, type FakeColumnWorker } from './state-fakes';

const STEMS = ['model', 'model_q4', 'model_int8'];
const SERVED: VariantInfo[] = STEMS.map((stem, rank) => fakeVariant(stem, { rank, bytes: 1000 * (3 - rank) }));
const PLAYGROUND_KEY = 'quantlab:playground:v1';

let storage: Storage;
let replaceState: ReturnType<typeof vi.fn>;

beforeEach(() => {
  vi.useFakeTimers();
  storage = memoryStorage();
  replaceState = vi.fn();
  vi.stubGlobal('localStorage', storage);
  vi.stubGlobal('location', { pathname: '/', hash: '', href: 'http://localhost/', search: '' });
  vi.stubGlobal('history', { state: null, replaceState });
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

/** A playground opened on the served model with `variants` as columns; `setup` configures each new worker. */
async function open(
  opts: {
    variants?: string[];
    search?: string;
    served?: ServedModels;
    setup?: (w: FakeColumnWorker, i: number) => void;
    live?: boolean;
    /** Builder methods that replace the fake's. */
    builder?: Record<string, (...args: never[]) => unknown>;
  } = {},
) {
  const fw = fakeWorkers(opts.setup);
  const builder = fakeBuilder();
  Object.assign(builder.api as unknown as object, opts.builder ?? {});
  const pg = new Playground(new Library(builder), fw.start, async () => opts.served ?? { variants: SERVED });
  const search =
    opts.search ??
    // Generate on opening is off here (its own tests turn it on): these tests start each run themselves.
    `?${settingsToQuery({ ...DEFAULT_SETTINGS, live: opts.live ?? false }, { model: TINY_MODEL.key, variants: opts.variants ?? ['model', 'model_q4'], prompt: 'Hello' })}&autorun=0`;
  await pg.init(search);
  return { pg, workers: fw.workers };
}

/** The worker of column `stem` (workers start in the order the columns first call them). */
function workerOf(pg: Playground, workers: FakeColumnWorker[], stem: string): FakeColumnWorker {
  const w = workers.find((x) => x.loads.some((l) => l.variant === stem));
  if (!w) throw new Error(`no worker loaded ${stem}`);
  return w;
}

/** Waits until every column's worker has had `runs` generate() calls; returns them by stem. */
async function allRunning(
  pg: Playground,
  workers: FakeColumnWorker[],
  runs = 1,
): Promise<Record<string, FakeColumnWorker>> {
  await vi.waitFor(() => {
    for (const c of pg.columns) expect(workerOf(pg, workers, c.variant.stem).runs.length).toBeGreaterThanOrEqual(runs);
  });
  return Object.fromEntries(pg.columns.map((c) => [c.variant.stem, workerOf(pg, workers, c.variant.stem)]));
}

/** Opens the page and finishes one generation of the two default columns (fp32 writes 1 2, q4 writes 1 3). */
async function openWithResults(): Promise<Awaited<ReturnType<typeof open>>> {
  const first = await open();
  first.pg.generate();
  const w = await allRunning(first.pg, first.workers);
  w.model.run.finish([1, 2]);
  w.model_q4.run.finish([1, 3]);
  await vi.waitFor(() => expect(first.pg.busy).toBe(false));
  return first;
}

describe('Playground', () => {
  it("opens the model and precisions the URL names, warming the columns' workers in turn without loading a model", async () => {
    let release!: () => void;
    const firstWarm = new Promise<void>((r) => (release = r));
    const { pg, workers } = await open({
      variants: ['model_q4', 'model_int8'],
      // The first column's ONNX Runtime start takes a while: the second waits for it.
      setup: (w, i) => {
        if (i === 0) {
          const warm = w.api.warm;
          w.api.warm = async (...a) => firstWarm.then(() => warm(...a));
        }
      },
    });
    expect(pg.modelKey).toBe(TINY_MODEL.key);
    expect(pg.prompt).toBe('Hello');
    expect(pg.columns.map((c) => c.variant.stem)).toEqual(['model_q4', 'model_int8']);
    await settle();
    expect(workers).toHaveLength(1);
    release();
    await vi.waitFor(() => expect(workers).toHaveLength(2));
    // Node has no cross-origin isolation: one WASM thread each.
    await vi.waitFor(() =>
      expect(workers.map((w) => w.warms)).toEqual([[{ device: 'wasm', threads: 1 }], [{ device: 'wasm', threads: 1 }]]),
    );
    expect(workers.flatMap((w) => w.loads)).toEqual([]);
    expect(pg.notices).toEqual([]);
  });

  it('opens the trained built-in model on a first visit, with fp32, q8 and q4 columns and the chat template off, and generates at once', async () => {
    const stems = ['model', 'model_bf16', 'model_quantized', 'model_q4', 'model_bnb4'];
    const asked: string[] = [];
    const fw = fakeWorkers();
    const pg = new Playground(new Library(fakeBuilder()), fw.start, async (id) => {
      asked.push(id);
      return { variants: stems.map((stem, rank) => fakeVariant(stem, { rank })) };
    });
    const init = pg.init('');
    expect(pg.ready).toBe(false);
    // Its file list is asked for at once, not after the platform (WebGPU adapter) has been found.
    expect(asked).toEqual([BUILTIN_MODEL.ref.id]);
    await init;
    expect(pg.ready).toBe(true);
    expect(pg.modelKey).toBe(BUILTIN_MODEL.key);
    expect(asked).toEqual([BUILTIN_MODEL.ref.id]);
    expect(pg.columns.map((c) => c.variant.stem)).toEqual(['model', 'model_quantized', 'model_q4']);
    expect(pg.settings.chatTemplate).toBe(false);
    // The first screen runs without a click: every column loads and generates the default prompt.
    await allRunning(pg, fw.workers);
    expect(fw.workers.map((w) => w.runs[0].params.prompt)).toEqual([DEFAULT_PROMPT, DEFAULT_PROMPT, DEFAULT_PROMPT]);
    expect(pg.columns.every((c) => c.generation === 1)).toBe(true);
  });

  it('takes the platform from the function it is given (the page passes the adapter request made at its start)', async () => {
    const platform = { crossOriginIsolated: true, hardwareConcurrency: 6, webgpu: null };
    let asked = 0;
    const fw = fakeWorkers();
    const pg = new Playground(
      new Library(fakeBuilder()),
      fw.start,
      async () => ({
        // Files of a model too big for the one thread a small one gets (device.ts SMALL_MODEL_BYTES).
        variants: ['model', 'model_quantized', 'model_q4'].map((stem, rank) =>
          fakeVariant(stem, { rank, bytes: 100e6 }),
        ),
      }),
      undefined,
      async () => (asked++, platform),
    );
    await pg.init('');
    expect(asked).toBe(1);
    expect(pg.platform).toBe(platform);
    // Its cores and isolation decide the threads: 6 cores over 3 columns (Node itself has no isolation: 1).
    await vi.waitFor(() => expect(fw.workers[0]?.warms).toEqual([{ device: 'wasm', threads: 2 }]));
  });

  it("starts the other columns' workers once the first column has loaded and streamed the generation opening the page", async () => {
    // Two cores: one load at a time (load-gate.ts).
    vi.stubGlobal('navigator', { hardwareConcurrency: 2 });
    const stems = ['model', 'model_quantized', 'model_q4'];
    const fw = fakeWorkers((w, i) => (w.prefillDone = i !== 0));
    const pg = new Playground(new Library(fakeBuilder()), fw.start, async () => ({
      variants: stems.map((stem, rank) => fakeVariant(stem, { rank })),
    }));
    let started = false;
    void pg.started().then(() => (started = true));
    await pg.init('');
    await vi.waitFor(() => expect(fw.workers[0]?.runs).toHaveLength(1));
    await vi.advanceTimersByTimeAsync(1000);
    // The first column prefills alone: no other worker has started (warm or load).
    expect(fw.workers).toHaveLength(1);
    expect(pg.columns.slice(1).map((c) => c.progress?.message)).toEqual([
      expect.stringMatching(/^Waiting its turn to load/),
      expect.stringMatching(/^Waiting its turn to load/),
    ]);
    expect(started).toBe(false);
    fw.workers[0].run.emit([1]);
    await allRunning(pg, fw.workers);
    expect(fw.workers).toHaveLength(3);
    // Start-up is over once every column has loaded and prefilled (the others stream at once here).
    await vi.waitFor(() => expect(started).toBe(true));
  });

  it('does not generate on opening when autorun is off (URL or storage), for a Hub model, or over restored results', async () => {
    const off = await open({ search: `?model=${TINY_MODEL.key}&variants=model&autorun=0` });
    expect(off.pg.ready).toBe(true);
    expect(off.pg.settings.autorun).toBe(false);
    await vi.advanceTimersByTimeAsync(1000);
    // Columns may warm a worker ahead of need (no model): nothing is loaded or run.
    expect(off.workers.flatMap((w) => [...w.loads, ...w.runs])).toEqual([]);
    // Stored: the record written above keeps autorun off for the next visit without the URL.
    const again = await open({ search: `?model=${TINY_MODEL.key}&variants=model` });
    expect(again.pg.settings.autorun).toBe(false);
    expect(again.workers.flatMap((w) => [...w.loads, ...w.runs])).toEqual([]);
    storage.clear();
    const hub = await open({ search: `?model=${HUB_MODELS[0].key}&autorun=1` });
    expect(hub.pg.columns.length).toBeGreaterThan(0);
    await vi.advanceTimersByTimeAsync(1000);
    expect(hub.workers.flatMap((w) => [...w.loads, ...w.runs])).toEqual([]);
    // Results kept from the last visit are shown, not replaced by a new run.
    storage.clear();
    const first = await openWithResults();
    first.pg.persistNow();
    const back = await open({ search: '?autorun=1' });
    expect(back.pg.columns.every((c) => c.restored)).toBe(true);
    await vi.advanceTimersByTimeAsync(1000);
    expect(back.workers.flatMap((w) => [...w.loads, ...w.runs])).toEqual([]);
  });

  it('compares tokens with fp32 only once every column has finished, in the fp32 worker, one column at a time', async () => {
    const { pg, workers } = await open();
    pg.generate();
    const w = await allRunning(pg, workers);
    const [fp32, q4] = pg.columns;
    expect(fp32.comparison.state).toBe('waiting');
    expect(pg.settled).toBe(false);
    w.model.run.finish([1, 2, 3]);
    await vi.advanceTimersByTimeAsync(100);
    // q4 is still decoding: no teacher-forced pass may compete with it.
    expect(w.model.compares).toEqual([]);
    expect(q4.comparison.state).toBe('waiting');
    expect(pg.settled).toBe(false);
    w.model_q4.run.finish([1, 3]);
    await vi.waitFor(() => expect(q4.comparison.state).toBe('done'));
    expect(pg.settled).toBe(true);
    const prompt = w.model.encode('Hello');
    // The baseline compares itself (no other logits) and then q4 on q4's own ids, both in fp32's worker.
    expect(w.model.compares).toEqual([
      { ids: [...prompt, 1, 2, 3], from: prompt.length - 1, other: false },
      { ids: [...prompt, 1, 3], from: prompt.length - 1, other: true },
    ]);
    expect(w.model_q4.compares).toEqual([]);
    expect(fp32.comparison.state === 'done' && fp32.comparison.stats.length).toBe(3);
    expect(q4.comparison.state === 'done' && q4.comparison.stats.length).toBe(2);
    // A new run drops the comparison until its own columns finish.
    pg.generate();
    expect(q4.comparison.state).toBe('waiting');
  });

  it('says why tokens are not compared when the fp32 column failed', async () => {
    const { pg, workers } = await open();
    pg.generate();
    const w = await allRunning(pg, workers);
    w.model.run.fail({ code: 'generate-failed', message: 'boom' });
    w.model_q4.run.finish([1, 3]);
    await vi.waitFor(() => expect(pg.columns[1].comparison.state).toBe('unavailable'));
    const c = pg.columns[1].comparison;
    expect(c.state === 'unavailable' && c.message).toContain('did not finish this run');
  });

  it('falls back to the built-in model, with a note, for a model it does not have', async () => {
    const { pg } = await open({ search: '?model=local:gone' });
    expect(pg.modelKey).toBe(BUILTIN_MODEL.key);
    expect(pg.notices.join(' ')).toContain(`Model local:gone is not available here`);
    expect(pg.notices.join(' ')).toContain(`showing ${BUILTIN_MODEL.name}`);
  });

  it('explains a missing served index and shows no columns for it', async () => {
    const { pg } = await open({ served: { error: 'The built-in model is missing from this site (HTTP 404).' } });
    expect(pg.served.error).toContain('HTTP 404');
    expect(pg.variants).toEqual([]);
    expect(pg.columns).toEqual([]);
  });

  it('runs every column under one generation id; a newer generate() drops the older run everywhere', async () => {
    const { pg, workers } = await open();
    const g1 = pg.generate();
    const w1 = await allRunning(pg, workers);
    const old = { model: w1.model.run, model_q4: w1.model_q4.run };
    expect(old.model.params).toEqual(pg.params);
    old.model.emit([1, 2]);

    const g2 = pg.generate();
    expect(g2).toBe(g1 + 1);
    await allRunning(pg, workers, 2);
    // The old runs were cancelled by the worker (a newer generate); their late results change nothing.
    expect(old.model.cancelled).toBe(true);
    old.model_q4.finish([9, 9, 9], { cancelled: false });
    w1.model.run.finish([1, 2, 3]);
    w1.model_q4.run.finish([1, 5, 3]);
    await vi.waitFor(() => expect(pg.busy).toBe(false));
    for (const c of pg.columns) expect(c.generation).toBe(g2);
    const [ref, q4] = pg.columns;
    expect(ref.ids).toEqual([1, 2, 3]);
    expect(q4.ids).toEqual([1, 5, 3]);
    expect(pg.reference).toBe(ref);
    expect(pg.divergence(q4)).toBe(1);
    expect(pg.divergence(ref)).toBe(-1);
  });

  it('keeps one column failing to load beside the others, which finish', async () => {
    const { pg, workers } = await open({
      variants: ['model', 'model_q4', 'model_int8'],
      setup: (w) => {
        const ok = w.loadOutcome;
        w.loadOutcome = (l) =>
          l.variant === 'model_q4' ? { ok: false, error: { code: 'load-failed', message: 'bad file' } } : ok(l);
      },
    });
    pg.generate();
    await vi.waitFor(() => expect(workers.filter((w) => w.runs.length > 0)).toHaveLength(2));
    for (const w of workers) if (w.runs.length) w.run.finish([4, 4]);
    await vi.waitFor(() => expect(pg.busy).toBe(false));
    const byStem = Object.fromEntries(pg.columns.map((c) => [c.variant.stem, c]));
    expect(byStem.model_q4.status).toBe('error');
    expect(byStem.model_q4.error).toMatchObject({ code: 'load-failed', during: 'load' });
    for (const s of ['model', 'model_int8']) {
      expect(byStem[s].status).toBe('done');
      expect(byStem[s].error).toBeNull();
      expect(byStem[s].ids).toEqual([4, 4]);
    }
  });

  it('stop() stops every column and keeps what each wrote', async () => {
    const { pg, workers } = await open();
    pg.generate();
    const w = await allRunning(pg, workers);
    w.model.run.emit([3]);
    w.model_q4.run.emit([3, 3]);
    pg.stop();
    await vi.waitFor(() => expect(pg.busy).toBe(false));
    expect(pg.columns.map((c) => [c.stopped, c.ids])).toEqual([
      [true, [3]],
      [true, [3, 3]],
    ]);
  });

  it('saves settings and finished results, mirrors the URL, and restores the results on the next visit', async () => {
    const first = await open();
    first.pg.update({ temperature: 0.7 });
    first.pg.generate();
    const w = await allRunning(first.pg, first.workers);
    w.model.run.finish([1, 2]);
    w.model_q4.run.finish([1, 3]);
    await vi.waitFor(() => expect(first.pg.busy).toBe(false));
    await vi.advanceTimersByTimeAsync(250); // the persist debounce
    const rec = JSON.parse(storage.getItem(PLAYGROUND_KEY)!);
    expect(rec).toMatchObject({ version: 1, prompt: 'Hello', model: TINY_MODEL.key, variants: ['model', 'model_q4'] });
    expect(rec.settings.temperature).toBe(0.7);
    expect(rec.results.model.ids).toEqual([1, 2]);
    expect(rec.results.model_q4.text).toBe('1 3 ');
    const url = String(replaceState.mock.calls.at(-1)![2]);
    expect(new URLSearchParams(url.split('?')[1]).get('model')).toBe(TINY_MODEL.key);
    expect(first.pg.shareUrl).toContain('variants=model%2Cmodel_q4');
    first.pg.dispose();

    // The next visit, with no query: storage alone brings back the model, the columns and their text.
    const again = await open({ search: '' });
    expect(again.pg.settings.temperature).toBe(0.7);
    expect(again.pg.columns.map((c) => [c.variant.stem, c.restored, c.text])).toEqual([
      ['model', true, '1 2 '],
      ['model_q4', true, '1 3 '],
    ]);
    expect(again.workers.flatMap((w) => w.loads)).toEqual([]);
    expect(again.pg.divergence(again.pg.columns[1])).toBe(1);
  });

  it("saves a finished run again when its stream's last offsets arrive after the result", async () => {
    const { pg, workers } = await open({ variants: ['model'] });
    pg.generate();
    const w = await allRunning(pg, workers);
    w.model.run.emit([1]);
    w.model.run.finish([1, 2, 3]); // the result first; the stream's last event trails it
    await vi.waitFor(() => expect(pg.columns[0].status).toBe('done'));
    await vi.advanceTimersByTimeAsync(250);
    expect(JSON.parse(storage.getItem(PLAYGROUND_KEY)!).results.model.offsets).toEqual([2]);
    w.model.run.emit([1, 2, 3]);
    await vi.advanceTimersByTimeAsync(250);
    expect(JSON.parse(storage.getItem(PLAYGROUND_KEY)!).results.model.offsets).toEqual([2, 4, 6]);
  });

  it('on a reload the record saved as the page went beats the address bar it had not mirrored yet; a link beats storage', async () => {
    const first = await open();
    const mirrored = String(replaceState.mock.calls.at(-1)![2]);
    // Typed, then the page goes before the debounced mirror ran: storage has it, the address bar not.
    first.pg.prompt = 'typed just before the reload';
    first.pg.update({ temperature: 0.4 });
    first.pg.persistNow();
    first.pg.dispose();
    const search = `?${mirrored.split('?')[1]}`;
    expect(new URLSearchParams(search).get('prompt')).toBe('Hello');

    const reloaded = new Playground(new Library(fakeBuilder()), fakeWorkers().start, async () => ({
      variants: SERVED,
    }));
    await reloaded.init(search, { reload: true });
    expect([reloaded.prompt, reloaded.settings.temperature]).toEqual(['typed just before the reload', 0.4]);
    reloaded.dispose();

    // The same address opened as a link (not a reload): its settings win over storage.
    const linked = new Playground(new Library(fakeBuilder()), fakeWorkers().start, async () => ({ variants: SERVED }));
    await linked.init(search);
    expect([linked.prompt, linked.settings.temperature]).toEqual(['Hello', DEFAULT_SETTINGS.temperature]);
    linked.dispose();
  });

  it('compares restored text with the restored fp32 text on one click: the models load, nothing is generated', async () => {
    const first = await openWithResults();
    await vi.waitFor(() => expect(first.pg.columns[1].comparison.state).toBe('done'));
    first.pg.persistNow();
    first.pg.dispose();

    const { pg, workers } = await open({ search: '' });
    const [fp32, q4] = pg.columns;
    // Restored text offers its comparison (not kept in storage) instead of showing none.
    expect(pg.columns.map((c) => [c.restored, c.comparison.state])).toEqual([
      [true, 'restored'],
      [true, 'restored'],
    ]);
    expect(pg.canCompareRestored).toBe(true);
    expect(workers.flatMap((w) => w.loads)).toEqual([]);
    const done = pg.compareRestored();
    expect(q4.comparison.state).toBe('waiting');
    // Comparing restored text writes nothing: the columns stay settled (their boxes keep fitting the text).
    expect(pg.settled).toBe(true);
    await done;
    const w = workerOf(pg, workers, 'model');
    const prompt = w.encode('Hello');
    // The same passes as after a run, on the kept tokens (fp32 wrote 1 2, q4 wrote 1 3).
    expect(w.compares).toEqual([
      { ids: [...prompt, 1, 2], from: prompt.length - 1, other: false },
      { ids: [...prompt, 1, 3], from: prompt.length - 1, other: true },
    ]);
    expect(fp32.comparison.state === 'done' && fp32.comparison.stats.length).toBe(2);
    expect(q4.comparison.state === 'done' && q4.comparison.stats.length).toBe(2);
    expect(workers.flatMap((x) => x.runs)).toEqual([]);
    expect(pg.columns.map((c) => [c.restored, c.text])).toEqual([
      [true, '1 2 '],
      [true, '1 3 '],
    ]);
    expect(pg.canCompareRestored).toBe(false);
    // Without the restored fp32 column there is nothing to compare with.
    pg.dispose();
    const again = await open({ search: '' });
    again.pg.toggleVariant('model', false);
    expect(again.pg.columns.map((c) => [c.variant.stem, c.restored, c.comparison.state])).toEqual([
      ['model_q4', true, 'none'],
    ]);
    expect(again.pg.canCompareRestored).toBe(false);
  });

  it('live mode: a change stops the runs at once and regenerates once the controls rest', async () => {
    const { pg, workers } = await open({ live: true });
    pg.generate();
    const w = await allRunning(pg, workers);
    w.model.run.emit([1]);
    pg.update({ temperature: 0.2 });
    await vi.advanceTimersByTimeAsync(0);
    expect(w.model.run.cancelled).toBe(true); // stale text is not left running
    pg.update({ temperature: 0.3 });
    await vi.advanceTimersByTimeAsync(LIVE_DEBOUNCE_MS - 50);
    expect(w.model.runs).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(100);
    await allRunning(pg, workers, 2);
    expect(w.model.runs).toHaveLength(2); // one regeneration for both changes
    expect(w.model.run.params.temperature).toBe(0.3);
  });

  describe('latency', () => {
    it('measures the loaded columns one at a time, and a generation cancels the pass', async () => {
      const { pg, workers } = await open({ variants: ['model', 'model_q4', 'model_int8'] });
      pg.update({ maxNewTokens: 200 });
      pg.load();
      await vi.waitFor(() => expect(pg.columns.every((c) => c.loaded)).toBe(true));
      const floorsOf = () => pg.columns.map((c) => workerOf(pg, workers, c.variant.stem).floors.length);

      const pass = pg.latency.measure();
      expect(pg.latency.measuring).toBe(true);
      expect(floorsOf()).toEqual([1, 0, 0]); // one column at a time
      const f0 = workerOf(pg, workers, 'model').floors[0];
      expect([f0.prompt, f0.newTokens]).toEqual(['Hello', 64]); // at most 64 tokens
      f0.finish({ ok: true, value: { decodeTokensPerS: 10, floorDecodeTokensPerS: 20, newTokens: 64 } });
      await vi.waitFor(() => expect(floorsOf()).toEqual([1, 1, 0]));
      expect(pg.columns[0].floor?.floorDecodeTokensPerS).toBe(20);

      pg.generate(); // cancels the pass: the column being timed stops, the last is never timed
      expect(workerOf(pg, workers, 'model_q4').cancels).toBe(1);
      await pass;
      expect(pg.latency.measuring).toBe(false);
      expect(floorsOf()).toEqual([1, 1, 0]);
      expect(pg.columns[1].floorError).toBeNull();
      expect(pg.columns[1].floor).toBeNull();
    });

    it('Stop measuring ends the pass after the column being timed', async () => {
      const { pg, workers } = await open();
      pg.load();
      await vi.waitFor(() => expect(pg.columns.every((c) => c.loaded)).toBe(true));
      const pass = pg.latency.measure();
      pg.latency.cancel();
      await pass;
      expect(workerOf(pg, workers, 'model').cancels).toBe(1);
      expect(workerOf(pg, workers, 'model_q4').floors).toHaveLength(0);
      expect(pg.latency.measuring).toBe(false);
      expect(pg.columns.map((c) => [c.floor, c.floorError])).toEqual([
        [null, null],
        [null, null],
      ]);
      // A new pass runs again.
      const next = pg.latency.measure();
      workerOf(pg, workers, 'model').floors[1].finish({
        ok: true,
        value: { decodeTokensPerS: 1, floorDecodeTokensPerS: 2, newTokens: 8 },
      });
      await vi.waitFor(() => expect(workerOf(pg, workers, 'model_q4').floors).toHaveLength(1));
      workerOf(pg, workers, 'model_q4').floors[0].finish({
        ok: true,
        value: { decodeTokensPerS: 3, floorDecodeTokensPerS: 4, newTokens: 8 },
      });
      await next;
      expect(pg.columns.map((c) => c.floor?.floorDecodeTokensPerS)).toEqual([2, 4]);
    });

    it('does not start while a column generates', async () => {
      const { pg, workers } = await open();
      pg.generate();
      await allRunning(pg, workers);
      await pg.latency.measure();
      expect(pg.latency.measuring).toBe(false);
      expect(workers.every((w) => w.floors.length === 0)).toBe(true);
    });

    it('keeps a valid bandwidth in storage for the next visit and rejects a bad one', async () => {
      const { pg } = await open();
      expect(pg.latency.bandwidthGBs).toBe(DEFAULT_BANDWIDTH_GBS);
      expect(pg.latency.setBandwidth('abc')).toContain('Memory bandwidth must be a number of GB/s');
      expect(pg.latency.bandwidthGBs).toBe(DEFAULT_BANDWIDTH_GBS);
      expect(storage.getItem('quantlab:bandwidth-gbs')).toBeNull();
      expect(pg.latency.setBandwidth('42.5')).toBeNull();
      expect(pg.latency.bandwidthGBs).toBe(42.5);
      const again = await open();
      expect(again.pg.latency.bandwidthGBs).toBe(42.5);
    });
  });

  describe('nothing stale', () => {
    const HUB = HUB_MODELS[0];

    it('a reload during a generation shows no output of an earlier prompt, and says the run was interrupted', async () => {
      const first = await openWithResults();
      await vi.advanceTimersByTimeAsync(250);
      // A new prompt, Generate, and the page goes away while the columns stream.
      first.pg.setPrompt('Once upon a time');
      first.pg.generate();
      const w = await allRunning(first.pg, first.workers, 2);
      w.model.run.emit([7]);
      first.pg.dispose();

      const again = await open({ search: '' });
      expect(again.pg.prompt).toBe('Once upon a time');
      expect(again.pg.columns.map((c) => [c.text, c.restored])).toEqual([
        ['', false],
        ['', false],
      ]);
      expect(again.pg.notices.join(' ')).toMatch(/generation for “Once upon a time” was interrupted/);
    });

    it('keeps the columns an interrupted run had finished, under its own prompt', async () => {
      const first = await open();
      first.pg.setPrompt('Once');
      first.pg.generate();
      const w = await allRunning(first.pg, first.workers);
      w.model.run.finish([1, 2]);
      await vi.waitFor(() => expect(first.pg.columns[0].status).toBe('done'));
      await vi.advanceTimersByTimeAsync(250);
      first.pg.dispose();
      const again = await open({ search: '' });
      expect(again.pg.columns.map((c) => [c.variant.stem, c.text])).toEqual([
        ['model', '1 2 '],
        ['model_q4', ''],
      ]);
      expect(again.pg.notices.join(' ')).toMatch(/interrupted .* the columns that had finished are shown/);
    });

    it('clears kept outputs, with a note, when the prompt or settings changed after they were made', async () => {
      const first = await openWithResults();
      first.pg.update({ seed: 99 });
      await vi.advanceTimersByTimeAsync(250);
      first.pg.dispose();
      const again = await open({ search: '' });
      expect(again.pg.columns.every((c) => c.text === '' && !c.restored)).toBe(true);
      expect(again.pg.notices.join(' ')).toMatch(/made with another prompt or other settings, so they are not shown/);
      expect(again.pg.notices.join(' ')).not.toMatch(/interrupted/);
    });

    it('a share link with other settings opens without the kept outputs, and without a note', async () => {
      const first = await openWithResults();
      await vi.advanceTimersByTimeAsync(250);
      first.pg.dispose();
      const again = await open({ search: '?seed=5' });
      expect(again.pg.columns.every((c) => c.text === '' && !c.restored)).toBe(true);
      expect(again.pg.notices).toEqual([]);
    });

    it("switching models keeps each model's precision selection, across a reload too", async () => {
      const { pg } = await open({ variants: ['model_q4', 'model_int8'] });
      await pg.selectModel(HUB.key);
      const hubChoice = HUB.variants!.slice(0, 2).map((v) => v.stem);
      for (const s of hubChoice) pg.toggleVariant(s, true);
      const hubSelected = pg.selected;
      await pg.selectModel(TINY_MODEL.key);
      expect(pg.selected).toEqual(['model_q4', 'model_int8']);
      await pg.selectModel(HUB.key);
      expect(pg.selected).toEqual(hubSelected);
      pg.persistNow();
      pg.dispose();
      const again = await open({ search: '' });
      expect(again.pg.modelKey).toBe(HUB.key);
      await again.pg.selectModel(TINY_MODEL.key);
      expect(again.pg.selected).toEqual(['model_q4', 'model_int8']);
    });

    it('live mode regenerates after a model switch', async () => {
      const { pg, workers } = await open({ live: true });
      pg.generate();
      const w = await allRunning(pg, workers);
      w.model.run.finish([1]);
      w.model_q4.run.finish([1]);
      await vi.waitFor(() => expect(pg.busy).toBe(false));
      const gen = pg.columns[0].generation;
      await pg.selectModel(HUB.key);
      await pg.selectModel(TINY_MODEL.key);
      await vi.advanceTimersByTimeAsync(LIVE_DEBOUNCE_MS + 50);
      await allRunning(pg, workers, 1);
      expect(pg.columns.every((c) => c.generation > gen)).toBe(true);
      // ... and follows a setting changed on the new model's fresh columns.
      const after = pg.columns[0].generation;
      pg.update({ temperature: 0.4 });
      await vi.advanceTimersByTimeAsync(LIVE_DEBOUNCE_MS + 50);
      expect(pg.columns[0].generation).toBeGreaterThan(after);
    });

    it('a refused import stays off screen; its message goes when another model is chosen', async () => {
      const { pg } = await open({
        variants: ['model_q4'],
        builder: {
          importFiles: async () => {
            throw new QuantlabError(
              'bad-onnx',
              'onnx/model.onnx is not a valid ONNX file: its bytes do not read as an ONNX model.',
            );
          },
        },
      });
      const file = new Blob(['not a model']) as File;
      expect(await pg.importFiles([{ path: 'fake/onnx/model.onnx', file }])).toBeNull();
      expect(pg.modelKey).toBe(TINY_MODEL.key);
      expect(pg.selected).toEqual(['model_q4']);
      expect(pg.library.status).toMatch(/^Error: onnx\/model\.onnx is not a valid ONNX file/);
      await pg.selectModel(TINY_MODEL.key); // the same model: the message stays
      expect(pg.library.status).not.toBe('');
      await pg.selectModel(HUB.key);
      expect(pg.library.status).toBe('');
      expect(pg.library.error).toBeNull();
    });
  });
});

describe('Playground memory budget', () => {
  it('admits columns in column order until the budget is full, refuses the next with the figures, and a removed column frees its share', async () => {
    const { pg, workers } = await open({ variants: STEMS });
    // Each fake column: weights 3.6 x bytes (float32's factor); 71 planned tokens ("Hello" 5 + 2 + 64 new) capped at the fake
    // model's 64 positions, so KV 2 layers x 2 x 2 heads x 16 x 64 x 4 = 32_768 and logits 64 x 4 x 4 = 1_024;
    // plus the 192 MiB fixed overhead: about 192.04 MiB each. A 400 MiB budget holds two, not three.
    pg.update({ memoryBudgetMb: 400 });
    expect(pg.budgetBytes).toBe(400 * 1024 * 1024);
    pg.generate();
    await vi.waitFor(() =>
      expect(pg.columns.map((c) => c.status)).toEqual(['generating', 'generating', 'over-budget']),
    );
    const [fp32, q4, int8] = pg.columns;
    expect(fp32.memory!.total).toBe(10_800 + 32_768 + 1_024 + 192 * 1024 * 1024);
    expect(int8.refusal!.need).toBe(3_600 + 32_768 + 1_024 + 192 * 1024 * 1024);
    expect(int8.error!.message).toBe(
      'model_int8 needs about 192 MB; the memory budget is 400 MB, and 384 MB of it is held by model (192 MB), model_q4 (192 MB).',
    );
    expect(int8.error!.detail).toMatch(/^Remove a column \(model frees the most\)/);
    // The config was read once, by the first column's worker, for all three.
    expect(workers.filter((w) => w.loads.length > 0)).toHaveLength(2);
    expect(q4.holdsMemory).toBe(true);

    pg.toggleVariant('model', false);
    int8.retry();
    await vi.waitFor(() => expect(int8.status).toBe('generating'));
    expect(int8.holdsMemory).toBe(true);
  });
});
