// Lab (src/state/lab.svelte.ts) and lab-storage.ts against fake column workers: what a stored
// record restores (and what it drops), a report over the playground's loaded precisions in the
// lab's own workers, a precision that fails or crashes without stopping the others or the
// playground, a cancelled sweep that keeps its rows, and what is saved.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TINY_MODEL } from '../../src/lib/catalog';
import { DEFAULT_SETTINGS, settingsToQuery } from '../../src/lib/page/settings';
import type { VariantInfo } from '../../src/lib/variants/table';
import { Lab } from '../../src/state/lab.svelte.ts';
import { loadLab } from '../../src/state/lab-storage';
import { Library } from '../../src/state/library.svelte.ts';
import { Playground } from '../../src/state/playground.svelte.ts';
import { fakeBuilder, fakeVariant, fakeWorkers, memoryStorage, type FakeColumnWorker } from './state-fakes';

const LAB_KEY = 'quantlab:lab:v1';
const VOCAB = 4;
const SERVED: VariantInfo[] = ['model', 'model_q4'].map((stem, rank) =>
  fakeVariant(stem, { label: stem === 'model' ? 'fp32' : 'q4', rank, bytes: 4000 / (rank + 1) }),
);

/** fp32 predicts uniformly; q4 puts most of its mass on token 0, so only q4 diverges from fp32. */
function labWorker(w: FakeColumnWorker): void {
  w.logits = (ids) => {
    const skewed = w.loads.at(-1)?.variant === 'model_q4';
    const data = new Float32Array(ids.length * VOCAB);
    if (skewed) for (let i = 0; i < ids.length; i++) data[i * VOCAB] = 3;
    return { data, vocab: VOCAB };
  };
  w.encode = (text) => [...text].map((c) => c.charCodeAt(0) % VOCAB);
  w.generateIds = (p) => Array.from({ length: p.maxNewTokens }, (_, i) => (p.seed + i) % VOCAB);
}

let storage: Storage;
beforeEach(() => {
  storage = memoryStorage();
  vi.stubGlobal('localStorage', storage);
  vi.stubGlobal('location', { pathname: '/', hash: '', href: 'http://localhost/', search: '' });
  vi.stubGlobal('history', { state: null, replaceState: () => {} });
});
afterEach(() => {
  vi.unstubAllGlobals();
});

/** A playground with fp32 and q4 loaded (its own fake workers) and a lab beside it. */
async function setup(labSetup: (w: FakeColumnWorker, i: number) => void = labWorker) {
  const columns = fakeWorkers();
  const labWorkers = fakeWorkers(labSetup);
  const pg = new Playground(new Library(fakeBuilder()), columns.start, async () => ({ variants: SERVED }));
  await pg.init(
    `?${settingsToQuery(DEFAULT_SETTINGS, { model: TINY_MODEL.key, variants: ['model', 'model_q4'], prompt: 'Hi' })}&autorun=0`,
  );
  pg.load();
  await vi.waitFor(() => expect(pg.columns.every((c) => c.status === 'ready')).toBe(true));
  const lab = new Lab(pg, labWorkers.start);
  return { pg, lab, columnWorkers: columns.workers, labWorkers: labWorkers.workers };
}

const loadsOf = (workers: FakeColumnWorker[]) => workers.map((w) => w.loads.map((l) => l.variant).join());

describe('lab storage', () => {
  it('restores each well-formed field and drops the malformed ones', () => {
    storage.setItem(
      LAB_KEY,
      JSON.stringify({
        version: 1,
        source: 'bogus',
        text: 5,
        ctx: '128',
        baselineChoice: 'model_q4',
        fields: { seeds: '5' },
        report: null,
        sweep: { rows: 'x' },
        points: [{ precision: 'q4', bytes: 1, bits_per_byte: null }],
      }),
    );
    expect(loadLab()).toEqual({
      ctx: '128',
      baselineChoice: 'model_q4',
      fields: { seeds: '5' },
      points: [{ precision: 'q4', bytes: 1, bits_per_byte: NaN }],
    });
    const lab = new Lab({} as Playground, fakeWorkers().start);
    expect(lab.source).toBe('sample');
    expect(lab.text).toBe('');
    expect(lab.ctx).toBe('128');
    expect(lab.baselineChoice).toBe('model_q4');
    expect(lab.fields.seeds).toBe('5');
    expect(lab.fields.temperatures).toBe(new Lab({} as Playground, fakeWorkers().start).fields.temperatures);
    expect(lab.report).toBeNull();
    expect(lab.sweep).toBeNull();
    expect(lab.points).toHaveLength(1);
  });

  it('ignores a record of another version, or one that is not JSON', () => {
    storage.setItem(LAB_KEY, JSON.stringify({ version: 2, ctx: '128' }));
    expect(loadLab()).toEqual({});
    storage.setItem(LAB_KEY, '{');
    expect(loadLab()).toEqual({});
    expect(new Lab({} as Playground, fakeWorkers().start).ctx).toBe('');
  });
});

describe('Lab', () => {
  it('scores the loaded precisions in workers of its own and keeps the report across a reload', async () => {
    const { pg, lab, columnWorkers, labWorkers } = await setup();
    expect(lab.baseline.column).toBe(pg.columns[0]);
    await lab.runQuality();
    expect(lab.error).toBeNull();
    expect(lab.running).toBeNull();
    expect(loadsOf(labWorkers)).toEqual(['model', 'model_q4']);
    expect(columnWorkers.every((w) => w.loads.length === 1)).toBe(true); // the playground's workers were left alone
    const r = lab.report!;
    expect(r.baseline).toBe('fp32');
    expect(r.modelKey).toBe(TINY_MODEL.key);
    const fp32 = r.results.fp32 as { ppl: number; kld_mean: number };
    const q4 = r.results.q4 as { ppl: number; kld_mean: number };
    expect(fp32.ppl).toBeCloseTo(VOCAB, 9); // uniform over 4 tokens
    expect(fp32.kld_mean).toBe(0);
    expect(q4.kld_mean).toBeGreaterThan(0);
    expect(lab.points.map((p) => [p.precision, p.bytes])).toEqual([
      ['fp32', 4000],
      ['q4', 2000],
    ]);

    const saved = JSON.parse(storage.getItem(LAB_KEY)!);
    expect(saved.report.results.q4.kld_mean).toBeCloseTo(q4.kld_mean, 12);
    const again = new Lab(pg, fakeWorkers().start);
    expect(again.report?.results.q4).toEqual(r.results.q4);
    expect(again.points).toEqual(lab.points);
  });

  it('reuses its workers across runs and drops the one of a column no longer loaded', async () => {
    const { pg, lab, labWorkers } = await setup();
    await lab.runQuality();
    await lab.runQuality();
    expect(labWorkers).toHaveLength(2);
    pg.toggleVariant('model_q4', false);
    await lab.runQuality();
    expect(labWorkers).toHaveLength(2);
    expect(labWorkers[1].terminated).toBe(true);
    expect(Object.keys(lab.report!.results)).toEqual(['fp32']);
  });

  it('names the precision that failed to load, leaves the playground as it was, and retries it with a fresh worker', async () => {
    let failQ4 = true;
    const { pg, lab, labWorkers } = await setup((w) => {
      labWorker(w);
      const ok = w.loadOutcome;
      w.loadOutcome = (l) =>
        l.variant === 'model_q4' && failQ4 ? { ok: false, error: { code: 'load-failed', message: 'bad file' } } : ok(l);
    });
    await lab.runQuality();
    expect(lab.error).toMatchObject({ code: 'load-failed', message: 'q4: bad file' });
    expect(lab.report).toBeNull();
    expect(pg.columns.map((c) => [c.status, c.error])).toEqual([
      ['ready', null],
      ['ready', null],
    ]);
    await vi.waitFor(() => expect(labWorkers[1].terminated).toBe(true));

    failQ4 = false;
    await lab.runQuality();
    expect(lab.error).toBeNull();
    expect(loadsOf(labWorkers)).toEqual(['model', 'model_q4', 'model_q4']); // fp32's worker kept
    expect(Object.keys(lab.report!.results).sort()).toEqual(['fp32', 'q4']);
  });

  it('a crashed worker fails its precision instead of hanging the run; the next run starts a fresh one', async () => {
    const { lab, labWorkers } = await setup((w) => {
      labWorker(w);
      const logits = w.logits;
      w.logits = (ids) => {
        if (w.loads.at(-1)?.variant === 'model_q4' && labWorkers.indexOf(w) === 1) {
          queueMicrotask(() => w.crash('lost the device'));
          return new Promise(() => {}); // a dead worker never answers
        }
        return logits(ids);
      };
    });
    await lab.runQuality();
    expect(lab.running).toBeNull();
    // The crash is q4's alone: its entry says why, fp32 is scored.
    expect(lab.error).toBeNull();
    expect((lab.report!.results.q4 as { error: { message: string } }).error.message).toContain('lost the device');
    expect((lab.report!.results.fp32 as { ppl: number }).ppl).toBeCloseTo(VOCAB, 9);
    expect(labWorkers[1].terminated).toBe(true);
    await lab.runQuality();
    expect(loadsOf(labWorkers)).toEqual(['model', 'model_q4', 'model_q4']);
    expect('error' in lab.report!.results.q4).toBe(false);
  });

  it('explains a missing baseline without starting a worker', async () => {
    const { lab, labWorkers } = await setup();
    lab.baselineChoice = 'model_int8';
    await lab.runQuality();
    expect(lab.error?.message).toContain('The baseline model_int8 is not loaded');
    expect(labWorkers).toHaveLength(0);
  });

  it('a cancelled sweep stops after the run in flight, keeps its finished rows and saves them', async () => {
    let units = 0;
    const { lab, labWorkers } = await setup((w) => {
      labWorker(w);
      const ids = w.generateIds!;
      // The third unit's fp32 generation waits (until cancelled); the ones before answer at once.
      w.generateIds = (p) => (w.loads.at(-1)?.variant === 'model' && ++units === 3 ? undefined : ids(p));
    });
    lab.fields = { ...lab.fields, temperatures: '0.5, 1', topKs: '0', topPs: '1', maxNewTokens: '4', seeds: '3' };
    const run = lab.runSweep();
    await vi.waitFor(() => expect(labWorkers[0]?.runs.length).toBe(3));
    expect(lab.running).toBe('sweep');
    await vi.waitFor(() => expect(lab.sweep?.rows.length).toBe(4)); // two units x two precisions
    lab.cancel();
    await run;
    expect(labWorkers[0].runs[2].cancelled).toBe(true);
    expect(lab.running).toBeNull();
    expect(lab.sweep).toMatchObject({ cancelled: true, done: 2, total: 6 });
    expect(lab.sweep!.rows.map((r) => [r.dtype, r.temperature, r.seed])).toEqual([
      ['fp32', 0.5, 0],
      ['q4', 0.5, 0],
      ['fp32', 0.5, 1],
      ['q4', 0.5, 1],
    ]);
    const saved = JSON.parse(storage.getItem(LAB_KEY)!);
    expect(saved.sweep.cancelled).toBe(true);
    expect(saved.sweep.rows).toHaveLength(4);
  });

  it('refuses a sweep over the limits with its estimate, marks the field, and starts no worker', async () => {
    const { lab, labWorkers } = await setup();
    lab.fields = { ...lab.fields, temperatures: '0', topKs: '0', topPs: '1', maxNewTokens: '8', seeds: '1000000' };
    // Two loaded precisions: 20,000 rows allow 10,000 seeds of one cell.
    expect(lab.form.messages).toEqual({ seeds: 'At most 10,000 seeds per cell with this grid and 2 precisions.' });
    await lab.runSweep();
    expect(lab.error?.message).toContain('1,000,000 runs (1 cell x 1,000,000 seeds) x 2 precisions = 2,000,000 rows');
    expect(lab.error?.detail).toContain('Use at most 10,000 Seeds per cell');
    expect(labWorkers).toHaveLength(0);
    lab.fields = { ...lab.fields, seeds: '10000', temperatures: '99' };
    expect(lab.form.messages.temperatures).toContain('temperatures: 99 is not a number from 0 to 2');
    lab.fields = { ...lab.fields, temperatures: '0' };
    expect(lab.form).toMatchObject({ messages: {}, plan: { runs: 10_000, rows: 20_000, generations: 2, tokens: 16 } });
  });
});
