// Opening Hub models by id and the Model host in the Playground state (src/state/hub.svelte.ts,
// playground.svelte.ts), against fake column workers, an in-memory localStorage and a fake
// listing: the opened repository becomes the model, its columns load from the Model host, the
// host is checked, persisted and only shared when it is not the Hub, and a failed listing says why.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { HubListingResult } from '../../src/browser/hub-repo';
import { TINY_MODEL } from '../../src/lib/catalog';
import { DEFAULT_SETTINGS, settingsToQuery } from '../../src/lib/page/settings';
import { HubRepos } from '../../src/state/hub.svelte.ts';
import { Library } from '../../src/state/library.svelte.ts';
import { Playground } from '../../src/state/playground.svelte.ts';
import { fakeBuilder, fakeVariant, fakeWorkers, memoryStorage } from './state-fakes';

const MIRROR = 'http://127.0.0.1:9999';
const REPO = 'quantlab-test/aidreams260K';
const LISTED = [
  fakeVariant('model', { rank: 0, bytes: 1_100_000 }),
  fakeVariant('model_q4', { rank: 5, bytes: 300_000 }),
];

let storage: Storage;
let replaceState: ReturnType<typeof vi.fn>;

beforeEach(() => {
  storage = memoryStorage();
  replaceState = vi.fn();
  vi.stubGlobal('localStorage', storage);
  vi.stubGlobal('location', { pathname: '/', hash: '', href: 'http://localhost/', search: '' });
  vi.stubGlobal('history', { state: null, replaceState });
});
afterEach(() => vi.unstubAllGlobals());

async function open(search: string, answer: (host: string, id: string) => HubListingResult) {
  const fw = fakeWorkers();
  const asked: [string, string][] = [];
  const hub = new HubRepos(
    async (host, id) => {
      asked.push([host, id]);
      return answer(host, id);
    },
    () => storage,
  );
  const pg = new Playground(new Library(fakeBuilder()), fw.start, async () => ({ variants: LISTED }), hub);
  await pg.init(search);
  return { pg, workers: fw.workers, asked };
}

const listed = (host: string, id: string): HubListingResult => ({
  listing: { id, host, modelType: 'llama', variants: LISTED },
});

describe('Hub models by id', () => {
  it('opens model=hub:owner/name from the link on the link host, and loads its columns from that host', async () => {
    const { pg, workers, asked } = await open(`?model=hub:${REPO}&host=${encodeURIComponent(MIRROR)}`, listed);
    expect(asked).toEqual([[MIRROR, REPO]]);
    expect(pg.modelKey).toBe(`hub:${REPO}`);
    expect(pg.variants.map((v) => v.stem)).toEqual(['model', 'model_q4']);
    expect(pg.columns.map((c) => c.variant.stem)).toEqual(['model', 'model_q4']);
    pg.load();
    await vi.waitFor(() => expect(workers.flatMap((w) => w.loads)).toHaveLength(2));
    expect(workers.flatMap((w) => w.loads.map((l) => l.ref))).toEqual([
      { kind: 'hub', id: REPO, host: MIRROR },
      { kind: 'hub', id: REPO, host: MIRROR },
    ]);
    expect(pg.shareUrl).toContain(`host=${encodeURIComponent(MIRROR)}`);
    expect(pg.shareUrl).toContain(`model=${encodeURIComponent(`hub:${REPO}`)}`);
  });

  it('opens a repository typed in the field; a failure keeps the current model and says why', async () => {
    const { pg } = await open(`?${settingsToQuery(DEFAULT_SETTINGS, { model: TINY_MODEL.key })}`, (host, id) =>
      id === REPO
        ? listed(host, id)
        : {
            problem: { kind: 'not-found', message: `${host} has no public repository ${id}`, detail: 'Check the id.' },
          },
    );
    expect(await pg.openHubModel('nobody/nothing')).toBeNull();
    expect(pg.modelKey).toBe(TINY_MODEL.key);
    expect(pg.hub.status).toMatchObject({ state: 'error', problem: { kind: 'not-found' } });
    expect(await pg.openHubModel('not an id')).toBeNull();
    expect(pg.hub.status).toMatchObject({ state: 'error', problem: { kind: 'malformed-id' } });
    const entry = await pg.openHubModel(` https://huggingface.co/${REPO} `);
    expect(entry?.key).toBe(`hub:${REPO}`);
    expect(pg.modelKey).toBe(`hub:${REPO}`);
    expect(pg.models[0].key).toBe(`hub:${REPO}`);
    expect(pg.hub.status).toMatchObject({ state: 'ok' });
  });

  it('shows the named problem when a link names a repository that cannot be opened', async () => {
    const { pg } = await open(`?model=hub:quantlab-test/gated`, () => ({
      problem: { kind: 'gated', message: 'quantlab-test/gated is a gated repository', detail: 'Pick an ungated copy.' },
    }));
    expect(pg.modelKey).not.toBe('hub:quantlab-test/gated');
    expect(pg.notices.join(' ')).toContain('quantlab-test/gated is a gated repository. Pick an ungated copy. Showing');
  });

  it('falls back to the saved listing when the host is unreachable, and says so', async () => {
    await open(`?model=hub:${REPO}&host=${encodeURIComponent(MIRROR)}`, listed);
    const { pg } = await open(`?model=hub:${REPO}`, () => ({
      problem: {
        kind: 'unreachable',
        message: `Could not reach ${MIRROR} to list ${REPO} (Failed to fetch)`,
        detail: '',
      },
    }));
    expect(pg.modelKey).toBe(`hub:${REPO}`);
    expect(pg.variants.map((v) => v.stem)).toEqual(['model', 'model_q4']);
    expect(pg.hub.status.state === 'ok' && pg.hub.status.text).toContain(`Could not reach ${MIRROR}`);
  });
});

describe('the Model host setting', () => {
  it('is checked, persisted, shared only when not the Hub, and restarts Hub columns on the new host', async () => {
    const { pg, workers, asked } = await open(`?model=hub:${REPO}`, listed);
    expect(pg.settings.host).toBe('https://huggingface.co');
    expect(pg.shareUrl).not.toContain('host=');
    expect(pg.setHost('not a host')).toContain('is not a URL');
    expect(pg.settings.host).toBe('https://huggingface.co');
    const before = pg.columns;
    expect(pg.setHost(`${MIRROR}/`)).toBeNull();
    expect(pg.settings.host).toBe(MIRROR);
    expect(pg.columns).not.toBe(before);
    expect(pg.columns.every((c) => c.ref.kind === 'hub' && c.ref.host === MIRROR)).toBe(true);
    pg.persistNow();
    expect(pg.shareUrl).toContain(`host=${encodeURIComponent(MIRROR)}`);
    expect(JSON.parse(storage.getItem('quantlab:playground:v1')!).settings.host).toBe(MIRROR);
    // The repository opened by id was listed again on the new host.
    await vi.waitFor(() => expect(asked.at(-1)).toEqual([MIRROR, REPO]));
    expect(asked).toEqual([
      ['https://huggingface.co', REPO],
      [MIRROR, REPO],
    ]);
    // A reload without host= in the URL keeps the stored host.
    const again = await open('', listed);
    expect(again.pg.settings.host).toBe(MIRROR);
    expect(workers.flatMap((w) => [...w.loads, ...w.runs])).toEqual([]);
  });
});
