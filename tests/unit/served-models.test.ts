// fetchServedModels (src/browser/served-models.ts) against a fake fetch: a built-in model's
// variants from the site's index (and its manifest when listed), and an explanation otherwise.

import { describe, expect, it } from 'vitest';
import { fetchServedModels, withEarlyRead, type ServedModels } from '../../src/browser/served-models';
import { BUILTIN_MODEL, TINY_MODEL } from '../../src/lib/catalog';

const BASE = 'http://host/app/index.html';

/** A fetch that serves `files` (URL -> JSON body) and 404 for anything else; records what was asked. */
function site(files: Record<string, unknown>) {
  const asked: string[] = [];
  const fetchFn = (async (input: URL | RequestInfo) => {
    const url = String(input);
    asked.push(url);
    return url in files ? new Response(JSON.stringify(files[url])) : new Response('', { status: 404 });
  }) as typeof fetch;
  return { fetchFn, asked };
}

const id = BUILTIN_MODEL.ref.id;
const files = [
  { path: 'config.json', bytes: 10 },
  { path: 'onnx/model_q4.onnx', bytes: 300 },
  { path: 'onnx/model.onnx', bytes: 1200 },
];

describe('fetchServedModels', () => {
  it("lists the built-in model's ONNX files as variants, read from the index beside the page", async () => {
    const { fetchFn, asked } = site({ 'http://host/app/models/index.json': { models: [{ id, files }] } });
    const r = await fetchServedModels(BASE, id, fetchFn);
    expect(r.error).toBeUndefined();
    expect(r.variants!.map((v) => [v.stem, v.bytes])).toEqual([
      ['model', 1200],
      ['model_q4', 300],
    ]);
    expect(asked).toEqual(['http://host/app/models/index.json']); // no manifest listed, none fetched
  });

  it('takes the asked model among several served ones', async () => {
    const tinyFiles = [{ path: 'onnx/model_bnb4.onnx', bytes: 7 }];
    const { fetchFn } = site({
      'http://host/app/models/index.json': {
        models: [
          { id: TINY_MODEL.ref.id, files: tinyFiles },
          { id, files },
        ],
      },
    });
    expect((await fetchServedModels(BASE, id, fetchFn)).variants!.map((v) => v.stem)).toEqual(['model', 'model_q4']);
    expect((await fetchServedModels(BASE, TINY_MODEL.ref.id, fetchFn)).variants!.map((v) => v.stem)).toEqual([
      'model_bnb4',
    ]);
  });

  it('reads the manifest when the index lists one', async () => {
    const withManifest = [...files, { path: 'onnx/quantlab-manifest.json', bytes: 5 }];
    const { fetchFn, asked } = site({ 'http://host/app/models/index.json': { models: [{ id, files: withManifest }] } });
    const r = await fetchServedModels(BASE, id, fetchFn);
    expect(asked).toEqual([
      'http://host/app/models/index.json',
      `http://host/app/models/${id}/onnx/quantlab-manifest.json`,
    ]);
    expect(r.variants!.map((v) => v.stem)).toEqual(['model', 'model_q4']); // a missing manifest only loses labels
  });

  it('asks for the manifest together with the index when told to (manifestAtOnce), listed or not, and reads the variants either way', async () => {
    const withManifest = [...files, { path: 'onnx/quantlab-manifest.json', bytes: 5 }];
    const index = 'http://host/app/models/index.json';
    const manifestUrl = `http://host/app/models/${id}/onnx/quantlab-manifest.json`;
    for (const listed of [withManifest, files]) {
      const asked: string[] = [];
      let answer = () => {};
      const indexHeld = new Promise<void>((r) => (answer = r));
      const fetchFn = (async (input: URL | RequestInfo) => {
        const url = String(input);
        asked.push(url);
        if (url === index) {
          await indexHeld;
          return new Response(JSON.stringify({ models: [{ id, files: listed }] }));
        }
        return new Response('{}', { status: url === manifestUrl ? 200 : 404 });
      }) as typeof fetch;
      const read = fetchServedModels(BASE, id, fetchFn, { manifestAtOnce: true });
      await Promise.resolve();
      // Both asked for while the index has not answered: one round trip.
      expect(asked.sort()).toEqual([manifestUrl, index].sort());
      answer();
      const r = await read;
      expect(r.variants!.map((v) => v.stem)).toEqual(['model', 'model_q4']);
      expect(asked).toHaveLength(2);
    }
  });

  it('explains a missing index or a missing model, and how to build it', async () => {
    const missing = await fetchServedModels(BASE, id, site({}).fetchFn);
    expect(missing.variants).toBeUndefined();
    expect(missing.error).toContain('HTTP 404');
    expect(missing.error).toContain('npm run models');
    const other = await fetchServedModels(
      BASE,
      id,
      site({ 'http://host/app/models/index.json': { models: [{ id: 'other', files }] } }).fetchFn,
    );
    expect(other.error).toContain(`${id} is not listed`);
  });
});

describe('withEarlyRead', () => {
  const early: ServedModels = { error: 'early' };
  const reads = () => {
    const asked: string[] = [];
    return { asked, read: async (m: string): Promise<ServedModels> => (asked.push(m), { error: `read ${m}` }) };
  };

  it("answers the page's first read of the model with the read begun at the start, and reads again after", async () => {
    const { asked, read } = reads();
    const f = withEarlyRead({ id, read: Promise.resolve(early) }, read);
    expect(await f(id)).toBe(early);
    expect(asked).toEqual([]);
    // A Retry (or any later read) fetches again: the early answer may have been a failure.
    expect(await f(id)).toEqual({ error: `read ${id}` });
    expect(asked).toEqual([id]);
  });

  it('reads anew when the first read is of another model, and then for the early one too', async () => {
    const { asked, read } = reads();
    const f = withEarlyRead({ id, read: Promise.resolve(early) }, read);
    await f(TINY_MODEL.ref.id);
    await f(id);
    expect(asked).toEqual([TINY_MODEL.ref.id, id]);
  });
});
