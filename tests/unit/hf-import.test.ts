// importHfFolder on small synthetic Llama/Qwen2 folders (built in memory with writeSafetensors),
// plus the Node folder reader and the all-or-nothing folder writer.

import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { QuantlabError } from '../../src/lib/errors';
import { importHfFolder, type HfImportProgress } from '../../src/lib/import/hf';
import { writeSafetensors, type SafetensorsInput } from '../../src/lib/import/safetensors';
import { nodeReader, writeFolderAtomic } from '../../src/node/files';

const DIM = 16,
  FF = 24,
  VOCAB = 32,
  LAYERS = 2,
  HEADS = 4,
  KV = 2;

function llamaConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: VOCAB,
    hidden_size: DIM,
    intermediate_size: FF,
    num_hidden_layers: LAYERS,
    num_attention_heads: HEADS,
    num_key_value_heads: KV,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    max_position_embeddings: 64,
    tie_word_embeddings: false,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: 'bfloat16',
    ...extra,
  };
}

/** Tensor names and shapes written out by hand (not from expectedWeights) for the config above. */
function shapes(bias: boolean, lmHead: boolean): Map<string, number[]> {
  const m = new Map<string, number[]>([['model.embed_tokens.weight', [32, 16]]]);
  for (let i = 0; i < LAYERS; i++) {
    const p = `model.layers.${i}`;
    m.set(`${p}.input_layernorm.weight`, [16]);
    m.set(`${p}.self_attn.q_proj.weight`, [16, 16]);
    m.set(`${p}.self_attn.k_proj.weight`, [8, 16]);
    m.set(`${p}.self_attn.v_proj.weight`, [8, 16]);
    if (bias) {
      m.set(`${p}.self_attn.q_proj.bias`, [16]);
      m.set(`${p}.self_attn.k_proj.bias`, [8]);
      m.set(`${p}.self_attn.v_proj.bias`, [8]);
    }
    m.set(`${p}.self_attn.o_proj.weight`, [16, 16]);
    m.set(`${p}.post_attention_layernorm.weight`, [16]);
    m.set(`${p}.mlp.gate_proj.weight`, [24, 16]);
    m.set(`${p}.mlp.up_proj.weight`, [24, 16]);
    m.set(`${p}.mlp.down_proj.weight`, [16, 24]);
  }
  m.set('model.norm.weight', [16]);
  if (lmHead) m.set('lm_head.weight', [32, 16]);
  return m;
}

/** Seeded values k/64, |k| <= 64: exact in F32, F16 and BF16, so every import must give them back bit for bit. */
function makeWeights(bias: boolean, lmHead: boolean, seed = 7): Map<string, { shape: number[]; data: Float32Array }> {
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 8) / 2 ** 24;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, shape] of shapes(bias, lmHead)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = (Math.floor(rand() * 129) - 64) / 64;
    out.set(name, { shape, data });
  }
  return out;
}

const TOKENIZER = { version: '1.0', model: { type: 'BPE', vocab: { a: 0 } } };
const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));

interface FolderOpts {
  config?: Record<string, unknown>;
  dtype?: 'F32' | 'F16' | 'BF16';
  shards?: number;
  weights?: Map<string, SafetensorsInput>;
  drop?: string[];
}

/** An in-memory model folder: relative path -> bytes. */
function folder(o: FolderOpts = {}): Map<string, Uint8Array> {
  const config = o.config ?? llamaConfig();
  const w: Map<string, SafetensorsInput> =
    o.weights ?? new Map([...makeWeights(false, true)].map(([k, v]) => [k, { ...v, dtype: o.dtype ?? 'F32' }]));
  // Extra tensors an HF checkpoint may carry; the importer must ignore them.
  w.set('model.layers.0.self_attn.rotary_emb.inv_freq', { shape: [2], data: new Float32Array([1, 0.01]) });
  const files = new Map<string, Uint8Array>([
    ['config.json', enc(config)],
    ['tokenizer.json', enc(TOKENIZER)],
    ['tokenizer_config.json', enc({ add_bos_token: true })],
    ['generation_config.json', enc({ bos_token_id: 1, eos_token_id: 2 })],
  ]);
  const names = [...w.keys()];
  const shards = o.shards ?? 1;
  if (shards === 1) files.set('model.safetensors', writeSafetensors(w, { format: 'pt' }));
  else {
    const weightMap: Record<string, string> = {};
    for (let k = 0; k < shards; k++) {
      const file = `model-0000${k + 1}-of-0000${shards}.safetensors`;
      const mine = names.filter((_, i) => i % shards === k);
      for (const n of mine) weightMap[n] = file;
      files.set(file, writeSafetensors(new Map(mine.map((n) => [n, w.get(n)!])), { format: 'pt' }));
    }
    files.set('model.safetensors.index.json', enc({ metadata: { total_size: 0 }, weight_map: weightMap }));
  }
  for (const d of o.drop ?? []) files.delete(d);
  return files;
}

const reader = (files: Map<string, Uint8Array>) => async (p: string) => files.get(p);

async function rejection(p: Promise<unknown>): Promise<QuantlabError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(QuantlabError);
  return e as QuantlabError;
}

describe('importHfFolder', () => {
  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    for (const shards of [1, 3]) {
      it(`imports a ${dtype} llama folder with ${shards} shard(s), keeping HF names and values`, async () => {
        const progress: HfImportProgress[] = [];
        const r = await importHfFolder(reader(folder({ dtype, shards })), { onProgress: (p) => progress.push(p) });
        expect(r.config).toMatchObject({
          modelType: 'llama',
          vocabSize: 32,
          hiddenSize: 16,
          intermediateSize: 24,
          numLayers: 2,
          numHeads: 4,
          numKvHeads: 2,
          headDim: 4,
          rmsNormEps: 1e-5,
          tieWordEmbeddings: false,
          attentionBias: false,
          eosTokenIds: [2],
        });
        const want = makeWeights(false, true);
        expect([...r.weights.keys()].sort()).toEqual([...want.keys()].sort());
        for (const [name, t] of want) {
          expect(r.weights.get(name)!.shape, name).toEqual(t.shape);
          expect(r.weights.get(name)!.data, name).toEqual(t.data);
        }
        expect(r.sourceDtype).toBe(dtype);
        expect(r.tokenizerJson).toEqual(TOKENIZER);
        expect(r.tokenizerConfig).toEqual({ add_bos_token: true });
        expect(r.generationConfig).toEqual({ bos_token_id: 1, eos_token_id: 2 });
        expect(progress.map((p) => p.loaded)).toEqual(Array.from({ length: want.size }, (_, i) => i + 1));
        expect(progress.every((p) => p.total === want.size && p.file.endsWith('.safetensors'))).toBe(true);
      });
    }
  }

  it('reports mixed storage dtypes and leaves optional files out when absent', async () => {
    const w = new Map<string, SafetensorsInput>(
      [...makeWeights(false, true)].map(([k, v]) => [k, { ...v, dtype: k.includes('norm') ? 'F32' : 'BF16' }]),
    );
    const r = await importHfFolder(
      reader(folder({ weights: w, drop: ['tokenizer_config.json', 'generation_config.json'] })),
    );
    expect(r.sourceDtype.split('+').sort()).toEqual(['BF16', 'F32']);
    expect(r.tokenizerConfig).toBeUndefined();
    expect(r.generationConfig).toBeUndefined();
  });

  it('imports qwen2 with q/k/v biases and tied embeddings', async () => {
    const cfg = llamaConfig({ model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], tie_word_embeddings: true });
    const want = makeWeights(true, false, 11);
    const r = await importHfFolder(reader(folder({ config: cfg, weights: new Map(want), shards: 2 })));
    expect(r.config.attentionBias).toBe(true);
    expect(r.config.tieWordEmbeddings).toBe(true);
    expect(r.weights.has('lm_head.weight')).toBe(false);
    expect(r.weights.get('model.layers.1.self_attn.k_proj.bias')!.data).toEqual(
      want.get('model.layers.1.self_attn.k_proj.bias')!.data,
    );
    expect(r.weights.size).toBe(want.size);

    const noBias = new Map(want);
    noBias.delete('model.layers.0.self_attn.v_proj.bias');
    const e = await rejection(importHfFolder(reader(folder({ config: cfg, weights: noBias }))));
    expect(e.code).toBe('missing-tensor');
    expect(e.message).toContain('model.layers.0.self_attn.v_proj.bias');
  });

  it('refuses other model types', async () => {
    const e = await rejection(importHfFolder(reader(folder({ config: { model_type: 'gpt2', n_embd: 16 } }))));
    expect(e.code).toBe('unsupported-model');
    expect(e.message).toContain('gpt2');
  });

  it('names missing tensors, including an untied lm_head', async () => {
    for (const missing of ['model.layers.1.mlp.down_proj.weight', 'lm_head.weight']) {
      const w = new Map<string, SafetensorsInput>(makeWeights(false, true));
      w.delete(missing);
      for (const shards of [1, 2]) {
        const e = await rejection(importHfFolder(reader(folder({ weights: new Map(w), shards }))));
        expect(e.code).toBe('missing-tensor');
        expect(e.message).toContain(missing);
      }
    }
  });

  it('rejects a tensor whose shape does not match config.json', async () => {
    const w = new Map<string, SafetensorsInput>(makeWeights(false, true));
    w.set('model.layers.0.self_attn.k_proj.weight', { shape: [16, 16], data: new Float32Array(256) });
    const e = await rejection(importHfFolder(reader(folder({ weights: w }))));
    expect(e.code).toBe('missing-tensor');
    expect(e.message).toContain('model.layers.0.self_attn.k_proj.weight');
  });

  it('refuses integer (pre-quantized) weights by tensor name', async () => {
    const w = new Map<string, SafetensorsInput>(makeWeights(false, true));
    w.set('model.layers.0.mlp.up_proj.weight', { shape: [24, 16], dtype: 'I8', bytes: new Uint8Array(384) });
    const e = await rejection(importHfFolder(reader(folder({ weights: w }))));
    expect(e.code).toBe('unsupported-model');
    expect(e.message).toContain('model.layers.0.mlp.up_proj.weight');
  });

  const broken: [string, Map<string, Uint8Array>, string, string][] = [
    ['no config.json', folder({ drop: ['config.json'] }), 'bad-checkpoint', 'config.json'],
    ['no tokenizer.json', folder({ drop: ['tokenizer.json'] }), 'bad-tokenizer', 'tokenizer.json'],
    ['no weights', folder({ drop: ['model.safetensors'] }), 'bad-checkpoint', 'model.safetensors'],
    [
      'a missing shard',
      folder({ shards: 2, drop: ['model-00002-of-00002.safetensors'] }),
      'bad-checkpoint',
      'model-00002-of-00002.safetensors',
    ],
    [
      'a truncated shard',
      (() => {
        const f = folder({ shards: 2 });
        f.set('model-00001-of-00002.safetensors', f.get('model-00001-of-00002.safetensors')!.subarray(0, 500));
        return f;
      })(),
      'bad-checkpoint',
      'model-00001-of-00002.safetensors',
    ],
    [
      'config.json that is not JSON',
      new Map([...folder(), ['config.json', new TextEncoder().encode('{not json')]]),
      'bad-config',
      'config.json',
    ],
    [
      'an index pointing outside the folder',
      new Map([
        ...folder({ shards: 2 }),
        ['model.safetensors.index.json', enc({ weight_map: { 'model.norm.weight': '../x.safetensors' } })],
      ]),
      'bad-checkpoint',
      '../x.safetensors',
    ],
  ];
  it.each(broken)('explains a folder with %s', async (_what, files, code, named) => {
    const e = await rejection(importHfFolder(reader(files)));
    expect(e.code).toBe(code);
    expect(e.message).toContain(named);
  });

  it('stops with "cancelled" when the signal is aborted, before or during the import', async () => {
    const pre = new AbortController();
    pre.abort();
    expect((await rejection(importHfFolder(reader(folder()), { signal: pre.signal }))).code).toBe('cancelled');
    const mid = new AbortController();
    let calls = 0;
    const e = await rejection(
      importHfFolder(reader(folder({ shards: 2 })), {
        signal: mid.signal,
        onProgress: () => ++calls === 3 && mid.abort(),
      }),
    );
    expect(e.code).toBe('cancelled');
    expect(calls).toBe(3);
  });
});

describe('Node folder reading and atomic writing', () => {
  const dirs: string[] = [];
  const tmp = async () => {
    const d = await mkdtemp(path.join(os.tmpdir(), 'quantlab-files-'));
    dirs.push(d);
    return d;
  };
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('writes a folder with subfolders that nodeReader imports back', async () => {
    const base = await tmp();
    const out = path.join(base, 'model');
    const files = new Map<string, Uint8Array | string>(folder({ dtype: 'F16', shards: 2 }));
    files.set('onnx/model.onnx', 'not really onnx');
    await writeFolderAtomic(out, files);
    expect(await readFile(path.join(out, 'onnx/model.onnx'), 'utf8')).toBe('not really onnx');
    expect((await readdir(base)).sort()).toEqual(['model']);
    const read = nodeReader(out);
    expect(await read('missing.json')).toBeUndefined();
    expect(await read('nothere/missing.json')).toBeUndefined();
    await expect(read('../escape.json')).rejects.toMatchObject({ code: 'bad-argument' });
    const r = await importHfFolder(read);
    expect(r.weights.get('model.norm.weight')!.data).toEqual(makeWeights(false, true).get('model.norm.weight')!.data);
  });

  it('refuses an existing folder unless overwrite is given, then replaces it whole', async () => {
    const base = await tmp();
    const out = path.join(base, 'out');
    await writeFolderAtomic(out, new Map([['old.txt', 'old']]));
    const e = await rejection(writeFolderAtomic(out, new Map([['new.txt', 'new']])));
    expect(e.code).toBe('bad-argument');
    expect(e.message).toContain(out);
    expect(await readdir(out)).toEqual(['old.txt']);
    await writeFolderAtomic(out, new Map([['new.txt', 'new']]), { overwrite: true });
    expect(await readdir(out)).toEqual(['new.txt']);
    expect(await readdir(base)).toEqual(['out']);
  });

  it('leaves neither outDir nor a temporary folder behind when a write fails', async () => {
    const base = await tmp();
    const out = path.join(base, 'out');
    // 'a' is written as a file, so 'a/b' cannot be created: a real failure after some writes succeeded.
    const clash = await rejection(
      writeFolderAtomic(
        out,
        new Map([
          ['a', 'x'],
          ['a/b', 'y'],
        ]),
      ),
    );
    expect(clash.code).toBe('bad-argument');
    expect(await readdir(base)).toEqual([]);
    let n = 0;
    const failing = async (p: string, d: Uint8Array | string) => {
      if (++n === 3) throw new Error('disk full');
      await writeFile(p, d);
    };
    const e = await rejection(
      writeFolderAtomic(
        out,
        new Map([
          ['1', 'a'],
          ['2', 'b'],
          ['sub/3', 'c'],
          ['4', 'd'],
        ]),
        { writeFile: failing },
      ),
    );
    expect(e.message).toContain('disk full');
    expect(await readdir(base)).toEqual([]);
    const invalid = await rejection(
      writeFolderAtomic(
        out,
        new Map([
          ['ok', 'a'],
          ['../evil', 'b'],
        ]),
      ),
    );
    expect(invalid.code).toBe('bad-argument');
    expect(await readdir(base)).toEqual([]);
  });

  it('keeps the old folder when an overwrite fails', async () => {
    const base = await tmp();
    const out = path.join(base, 'out');
    await writeFolderAtomic(out, new Map([['keep.txt', 'kept']]));
    const failing = async () => {
      throw new Error('EIO');
    };
    await rejection(writeFolderAtomic(out, new Map([['x', 'y']]), { overwrite: true, writeFile: failing }));
    expect(await readdir(base)).toEqual(['out']);
    expect(await readFile(path.join(out, 'keep.txt'), 'utf8')).toBe('kept');
  });
});
