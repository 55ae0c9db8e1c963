// ONNX external data on aidreams260K, the real trained model: folders whose fp32 weights sit in
// model.onnx_data (one file, or chunks model.onnx_data_1, ...) give llama2.c's greedy ids and the
// single-file twin's logits through transformers.js in Node; the quantizer reads them into the same
// variants as from the single file, and writes external data itself past a (forced) size limit.
import { cpSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QuantlabError } from '../../src/lib/errors';
import { buildModelFolder, type ModelFiles } from '../../src/lib/model/folder';
import { checkDecoderModel } from '../../src/lib/onnx/check';
import {
  encodeModelFiles,
  externalDataFiles,
  loadExternalData,
  staleDataFiles,
} from '../../src/lib/onnx/external-data';
import { decodeModel, type TensorProto } from '../../src/lib/onnx/proto';
import { expandRequests, quantizeVariants } from '../../src/lib/quantize/quantize-variants';
import { Runner } from '../../src/lib/runner/runner';
import { parseManifest } from '../../src/lib/variants/manifest';
import { writeFolderAtomic } from '../../src/node/files';
import { configureNodeTransformers } from '../../src/node/transformers-env';
import { greedyReferences } from '../helpers/aidreams';
import { runCli } from '../helpers/cli';
import { aidreamsSource, cleanupTempDirs, tempDir } from '../helpers/model-dirs';

const greedy = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 };
// aidreams260K's fp32 weights are about 0.9 MB: 300 kB chunks make four data files.
const CHUNK = 300_000;

async function writeFolder(files: ModelFiles, name: string): Promise<string> {
  const dir = join(tempDir(), name);
  await writeFolderAtomic(dir, files);
  return dir;
}

const onnxFiles = (dir: string) => readdirSync(join(dir, 'onnx')).sort();
const read = (dir: string, name: string) => new Uint8Array(readFileSync(join(dir, 'onnx', name)));

/** An external tensor's location, offset and length as the file states them. */
function entries(t: TensorProto): { location: string; offset: number; length: number } {
  const get = (k: string) => t.externalData.find((e) => e.key === k)?.value ?? '';
  return { location: get('location'), offset: Number(get('offset')), length: Number(get('length')) };
}

describe('external data on aidreams260K', () => {
  let single: string;
  let ext: string;
  let chunked: string;
  beforeAll(async () => {
    configureNodeTransformers({ allowRemote: false });
    single = await writeFolder(await buildModelFolder(aidreamsSource()), 'single');
    ext = await writeFolder(await buildModelFolder(aidreamsSource(), { write: { maxModelBytes: 0 } }), 'ext');
    chunked = await writeFolder(
      await buildModelFolder(aidreamsSource(), { write: { maxModelBytes: 0, maxChunkBytes: CHUNK } }),
      'chunked',
    );
  }, 60_000);
  afterAll(() => cleanupTempDirs());

  it('writes model.onnx plus model.onnx_data, or numbered chunks, as transformers.js names them', () => {
    expect(onnxFiles(single)).toEqual(['model.onnx']);
    expect(onnxFiles(ext)).toEqual(['model.onnx', 'model.onnx_data']);
    expect(onnxFiles(chunked)).toEqual([
      'model.onnx',
      'model.onnx_data',
      'model.onnx_data_1',
      'model.onnx_data_2',
      'model.onnx_data_3',
    ]);
    for (const name of onnxFiles(chunked).slice(1)) expect(read(chunked, name).byteLength).toBeLessThanOrEqual(CHUNK);
  });

  it("puts each tensor's bytes at its stated, aligned offset, equal to the single file's tensor", () => {
    const twin = new Map(decodeModel(read(single, 'model.onnx')).graph!.initializer.map((t) => [t.name, t]));
    for (const dir of [ext, chunked]) {
      const model = decodeModel(read(dir, 'model.onnx'));
      let external = 0;
      for (const t of model.graph!.initializer) {
        const want = twin.get(t.name)!.rawData;
        if (t.dataLocation !== 1) {
          // Only tensors under 1024 bytes stay inside the .onnx.
          expect(want.byteLength, t.name).toBeLessThan(1024);
          continue;
        }
        external++;
        const e = entries(t);
        expect(e.offset % 64, `${t.name} offset ${e.offset}`).toBe(0);
        if (e.length > 1 << 20) expect(e.offset % 4096).toBe(0);
        expect(t.rawData.byteLength).toBe(0);
        expect(e.length).toBe(want.byteLength);
        const file = read(dir, e.location);
        expect(Buffer.compare(file.subarray(e.offset, e.offset + e.length), want), t.name).toBe(0);
      }
      expect(external).toBeGreaterThan(10);
    }
  });

  it('needs no external data below the limit and writes it once the .onnx would pass it', () => {
    const model = decodeModel(read(single, 'model.onnx'));
    const size = read(single, 'model.onnx').byteLength;
    expect([...encodeModelFiles(model, 'model').keys()]).toEqual(['model.onnx']);
    expect([...encodeModelFiles(model, 'model', { maxModelBytes: size }).keys()]).toEqual(['model.onnx']);
    const split = encodeModelFiles(model, 'model', { maxModelBytes: size - 1 });
    expect([...split.keys()]).toEqual(['model.onnx', 'model.onnx_data']);
    expect(split.get('model.onnx')!.byteLength).toBeLessThan(size / 10);
  });

  for (const [name, chunks] of [
    ['one data file', 1],
    ['four chunks', 4],
  ] as const) {
    it(`gives llama2.c's greedy ids and the single file's logits from ${name}`, async () => {
      const dir = chunks === 1 ? ext : chunked;
      const twin = new Runner();
      const r = new Runner();
      try {
        await twin.load({ modelId: single, variant: 'model', device: 'cpu' });
        await r.load({ modelId: dir, variant: 'model', device: 'cpu', externalData: chunks });
        for (const ref of greedyReferences()) {
          const g = await r.generate({ ...greedy, prompt: ref.prompt, maxNewTokens: ref.greedy_ids.length });
          expect(g.ids).toEqual(ref.greedy_ids);
          expect(ref.prompt + g.text).toBe(ref.text);
        }
        const ref = greedyReferences()[0];
        const ids = [...ref.prompt_ids, ...ref.greedy_ids].slice(0, 64);
        const a = await twin.logits(ids);
        const b = await r.logits(ids);
        expect(b.data.length).toBe(a.data.length);
        let maxDiff = 0;
        for (let i = 0; i < a.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a.data[i] - b.data[i]));
        expect(maxDiff).toBe(0);
      } finally {
        await Promise.all([twin.dispose(), r.dispose()]);
      }
    }, 60_000);
  }

  it('names the data file a load misses or finds cut short', async () => {
    for (const damage of ['missing', 'cut'] as const) {
      const dir = join(tempDir(), damage);
      cpSync(chunked, dir, { recursive: true });
      const file = join(dir, 'onnx/model.onnx_data_2');
      if (damage === 'missing') rmSync(file);
      else truncateSync(file, 1000);
      const r = new Runner();
      const err = await r.load({ modelId: dir, variant: 'model', device: 'cpu', externalData: 4 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, damage).toBeInstanceOf(QuantlabError);
      if (damage === 'missing')
        expect((err as Error).message).toMatch(/its weights file model\.onnx_data_2 is missing or cut short/);
      else expect((err as Error).message).toMatch(/its weights file .*is missing or cut short/);
      expect((err as QuantlabError).detail).toMatch(/beside it in onnx\//);
    }
  });

  it('quantizes an external-data fp32 model into the same files as the single-file one', async () => {
    const requests = expandRequests(['all'], {});
    const fromSingle = await quantizeVariants(read(single, 'model.onnx'), requests, undefined);
    for (const dir of [ext, chunked]) {
      const asked: string[] = [];
      const fromExt = await quantizeVariants(read(dir, 'model.onnx'), requests, undefined, {
        readData: async (name) => {
          asked.push(name);
          return read(dir, name);
        },
      });
      expect(asked).toEqual(onnxFiles(dir).slice(1));
      expect([...fromExt.files.keys()]).toEqual([...fromSingle.files.keys()]);
      for (const [path, bytes] of fromSingle.files) {
        if (path.endsWith('quantlab-manifest.json')) continue;
        expect(Buffer.compare(fromExt.files.get(path)!, bytes), path).toBe(0);
      }
    }
  }, 120_000);

  it('writes quantized variants with external data when forced, records it, and they load and match', async () => {
    const requests = expandRequests(['q4', 'q8'], {});
    const plain = await quantizeVariants(read(single, 'model.onnx'), requests, undefined);
    const forced = await quantizeVariants(read(single, 'model.onnx'), requests, undefined, {
      write: { maxModelBytes: 0, maxChunkBytes: 100_000 },
    });
    const names = [...forced.files.keys()].sort();
    expect(names).toContain('onnx/model_q4.onnx_data');
    expect(names).toContain('onnx/model_q4.onnx_data_1');
    expect(names).toContain('onnx/model_quantized.onnx_data');
    const manifest = parseManifest(forced.files.get('onnx/quantlab-manifest.json'))!;
    for (const e of manifest.variants) {
      const data = names.filter((n) => n.startsWith(`onnx/${e.file}_data`)).map((n) => n.slice('onnx/'.length));
      expect(e.externalData).toEqual(data);
      const total = [e.file, ...data].reduce((a, n) => a + forced.files.get(`onnx/${n}`)!.byteLength, 0);
      expect(e.bytes).toBe(total);
    }
    expect(parseManifest(plain.files.get('onnx/quantlab-manifest.json'))!.variants[0].externalData).toBeUndefined();

    const dirs: string[] = [];
    for (const q of [plain, forced]) {
      const dir = await writeFolder(await buildModelFolder(aidreamsSource()), 'q');
      for (const [path, bytes] of q.files) writeFileSync(join(dir, path), bytes);
      dirs.push(dir);
    }
    const prompt = greedyReferences()[0].prompt;
    for (const variant of ['model_q4', 'model_quantized']) {
      const out: number[][] = [];
      for (const [i, dir] of dirs.entries()) {
        const chunks = i === 0 ? 0 : names.filter((n) => n.startsWith(`onnx/${variant}.onnx_data`)).length;
        const r = new Runner();
        try {
          await r.load({ modelId: dir, variant, device: 'cpu', externalData: chunks });
          out.push((await r.generate({ ...greedy, prompt, maxNewTokens: 60 })).ids);
        } finally {
          await r.dispose();
        }
      }
      expect(out[0]).toHaveLength(60);
      expect(out[1], variant).toEqual(out[0]);
    }
  }, 120_000);

  it('names a missing or cut-short data file, and one transformers.js would not fetch', () => {
    const bytes = read(ext, 'model.onnx');
    const data = read(ext, 'model.onnx_data');
    const catchError = (fn: () => void): QuantlabError => {
      try {
        fn();
      } catch (err) {
        expect(err).toBeInstanceOf(QuantlabError);
        return err as QuantlabError;
      }
      throw new Error('accepted');
    };
    expect(externalDataFiles(decodeModel(bytes))).toEqual(['model.onnx_data']);
    const missing = catchError(() => loadExternalData(decodeModel(bytes), new Map(), 'onnx/model.onnx'));
    expect(missing.message).toMatch(
      /onnx\/model\.onnx keeps the weights of .+ in model\.onnx_data, which is not beside it/,
    );
    const short = catchError(() =>
      loadExternalData(decodeModel(bytes), new Map([['model.onnx_data', data.subarray(0, 1000)]]), 'onnx/model.onnx'),
    );
    expect(short.message).toMatch(/model\.onnx_data is cut short/);

    // The import's door check, from names and sizes alone.
    const layers = (JSON.parse(readFileSync(join(ext, 'config.json'), 'utf8')) as { num_hidden_layers: number })
      .num_hidden_layers;
    expect(checkDecoderModel(bytes, 'onnx/model.onnx', new Map([['model.onnx_data', data.byteLength]])).numLayers).toBe(
      layers,
    );
    const absent = catchError(() => checkDecoderModel(bytes, 'onnx/model.onnx', new Map()));
    expect(absent.message).toMatch(/model\.onnx_data, which is not beside it/);
    expect(absent.detail).toMatch(/whole model folder/);
    const cut = catchError(() => checkDecoderModel(bytes, 'onnx/model.onnx', new Map([['model.onnx_data', 1000]])));
    expect(cut.message).toMatch(/cut short/);
    // Renamed data: ORT could read it, but transformers.js fetches only model.onnx_data.
    const renamed = decodeModel(bytes);
    for (const t of renamed.graph!.initializer)
      for (const e of t.externalData) if (e.key === 'location') e.value = 'weights.bin';
    const odd = catchError(() =>
      checkDecoderModel(
        encodeModelFiles(renamed, 'model').get('model.onnx')!,
        'onnx/model.onnx',
        new Map([['weights.bin', data.byteLength]]),
      ),
    );
    expect(odd.message).toMatch(
      /weights\.bin, a file transformers\.js does not load: it fetches only model\.onnx_data/,
    );
  });

  it('drops the old data files of a variant rewritten without them, and only those', () => {
    const existing = [
      'onnx/model.onnx',
      'onnx/model.onnx_data',
      'onnx/model_q4.onnx',
      'onnx/model_q4.onnx_data',
      'onnx/model_q4.onnx_data_1',
      'onnx/model_q4f16.onnx_data',
    ];
    expect(staleDataFiles(existing, ['onnx/model_q4.onnx', 'onnx/quantlab-manifest.json'])).toEqual([
      'onnx/model_q4.onnx_data',
      'onnx/model_q4.onnx_data_1',
    ]);
    expect(staleDataFiles(existing, ['onnx/model_q4.onnx', 'onnx/model_q4.onnx_data'])).toEqual([
      'onnx/model_q4.onnx_data_1',
    ]);
  });

  it('quantlab tiny --external-data and quantize --data-chunk-bytes write data files; quantize reads them', async () => {
    const out = join(tempDir(), 'tiny');
    const tiny = await runCli([
      'tiny',
      '--out',
      out,
      '--layers',
      '1',
      '--dim',
      '32',
      '--vocab',
      '400',
      '--external-data',
      '--quiet',
    ]);
    expect(tiny.code).toBe(0);
    expect(onnxFiles(out)).toEqual(['model.onnx', 'model.onnx_data']);
    const q = await runCli(['quantize', out, '--dtype', 'q4', '--data-chunk-bytes', '2000', '--quiet']);
    expect(q.code, q.err).toBe(0);
    const files = onnxFiles(out);
    expect(files.filter((f) => f.startsWith('model_q4.onnx_data')).length).toBeGreaterThan(1);
    // Quantized again without the flag: one file, and the old chunks are gone.
    expect((await runCli(['quantize', out, '--dtype', 'q4', '--quiet'])).code).toBe(0);
    expect(onnxFiles(out)).toEqual(['model.onnx', 'model.onnx_data', 'model_q4.onnx', 'quantlab-manifest.json']);
  });
});
