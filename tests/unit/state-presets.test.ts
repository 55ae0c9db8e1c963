// Presets (src/state/presets.svelte.ts) over a real Playground and Lab with fake column workers:
// a preset picks its model and precisions as columns, fills the lab's sweep, runs it and keeps
// the outcome; a preset that cannot run says why without touching the page; Cancel stops a run.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BUILTIN_MODEL, TINY_MODEL } from '../../src/lib/catalog';
import type { VariantInfo } from '../../src/lib/variants/table';
import { Lab } from '../../src/state/lab.svelte.ts';
import { Library } from '../../src/state/library.svelte.ts';
import { Playground } from '../../src/state/playground.svelte.ts';
import { Presets } from '../../src/state/presets.svelte.ts';
import { fakeBuilder, fakeVariant, fakeWorkers, memoryStorage, type FakeColumnWorker } from './state-fakes';

const SERVED: VariantInfo[] = [
  fakeVariant('model', { label: 'fp32', rank: 0, bytes: 4000 }),
  fakeVariant('model_quantized', { label: 'q8', rank: 1, bytes: 1000 }),
  fakeVariant('model_bnb4', { label: 'bnb4', rank: 2, bytes: 600 }),
  fakeVariant('model_q4', { label: 'q4', rank: 3, bytes: 650 }),
];

beforeEach(() => {
  vi.stubGlobal('localStorage', memoryStorage());
  vi.stubGlobal('location', { pathname: '/', hash: '', href: 'http://localhost/', search: '' });
  vi.stubGlobal('history', { state: null, replaceState: () => {} });
});
afterEach(() => {
  vi.unstubAllGlobals();
});

async function setup(labSetup: (w: FakeColumnWorker) => void) {
  const columns = fakeWorkers();
  const labWorkers = fakeWorkers(labSetup);
  const served = async () => ({ variants: SERVED });
  const pg = new Playground(new Library(fakeBuilder()), columns.start, served);
  await pg.init(`?model=${TINY_MODEL.key}&variants=model&live=0`);
  const lab = new Lab(pg, labWorkers.start);
  const presets = new Presets(pg, lab, served);
  return { pg, lab, presets, labWorkers: labWorkers.workers };
}

const answering = (w: FakeColumnWorker) => {
  w.generateIds = (p) => Array.from({ length: p.maxNewTokens }, (_, i) => (p.seed + i) % 4);
};

describe('Presets', () => {
  it('runs the temperature preset: the trained model, fp32 + bnb4 + q4 as columns, the lab sweep filled and run', async () => {
    const { pg, lab, presets, labWorkers } = await setup(answering);
    presets.size = { runs: 2, tokens: 4 };
    await presets.run('temperature');
    expect(presets.errors.temperature).toBeUndefined();
    // The current model has random weights: the preset moves to the trained built-in one.
    expect(pg.modelKey).toBe(BUILTIN_MODEL.key);
    expect(pg.selected).toEqual(['model', 'model_bnb4', 'model_q4']);
    expect(lab.fields).toMatchObject({ temperatures: '0.5, 0.6, 0.7, 0.8', topKs: '0', maxNewTokens: '4', seeds: '2' });
    const r = presets.runs.temperature!;
    expect(r.rows).toHaveLength(4 * 2 * 3);
    const params = labWorkers.flatMap((w) => w.runs.map((run) => run.params));
    expect(new Set(params.map((p) => p.temperature))).toEqual(new Set([0.5, 0.6, 0.7, 0.8]));
    expect(params.every((p) => p.maxNewTokens === 4 && p.topK === 0 && p.topP === 1)).toBe(true);
    expect(r.outcome.conditions).toContain('× 2 seeds = 8 runs per precision (fp32, bnb4, q4), 4 new tokens each');
    expect(r.outcome.conditions).not.toContain('RANDOM');
    expect(presets.exportJson('temperature')!.text).toContain('"extra_rise_bnb4"');
    expect(presets.shareUrl('temperature')).toContain('preset=temperature&preset_runs=2&preset_tokens=4');
    expect(presets.running).toBeNull();
  });

  it('a preset that cannot run says why and leaves the page as it was', async () => {
    const { pg, presets } = await setup(answering);
    await presets.run('nf4-fp4');
    expect(presets.errors['nf4-fp4']?.message).toContain('has no fp4 variant');
    expect(pg.modelKey).toBe(TINY_MODEL.key);
    expect(presets.runs['nf4-fp4']).toBeUndefined();
  });

  it('Cancel stops a run in the lab and keeps no outcome', async () => {
    const { presets, labWorkers } = await setup(() => {});
    presets.size = { runs: 2, tokens: 4 };
    const run = presets.run('temperature');
    await vi.waitFor(() => expect(labWorkers.some((w) => w.runs.length > 0)).toBe(true));
    presets.cancel();
    await run;
    expect(presets.errors.temperature?.code).toBe('cancelled');
    expect(presets.runs.temperature).toBeUndefined();
  });
});
