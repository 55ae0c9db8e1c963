// The built-in default model as the site serves it: public/models/aidreams260K, written by
// `npm run models` from the checkpoint vendored under models/aidreams260K. Its fp32 variant must
// write llama2.c's greedy reference (read from ../shared, never from the repository), every
// precision the index lists must be on disk and write readable text, and a generation never runs
// past the model's 128 positions.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_MODEL, DEFAULT_MODEL_KEY, SERVED_MODELS, TINY_MODEL, type ServedIndex } from '../../src/lib/catalog';
import { fitNewTokens, Runner } from '../../src/lib/runner/runner';
import { DTYPES } from '../../src/lib/variants/options';
import { FP32_STEM, stemOf } from '../../src/lib/variants/table';
import { configureNodeTransformers } from '../../src/node/transformers-env';
import { CHECKPOINT, greedyReferences, TOKENIZER } from '../helpers/aidreams';
import { REPO } from '../helpers/paths';

const SERVED_DIR = join(REPO, 'public/models');
const DIR = join(SERVED_DIR, BUILTIN_MODEL.ref.id);
const greedy = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 };

function readIndex(): ServedIndex {
  const path = join(SERVED_DIR, 'index.json');
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`npm run models\` first (npm test does)`);
  return JSON.parse(readFileSync(path, 'utf8')) as ServedIndex;
}

describe('the vendored aidreams260K', () => {
  it('is byte for byte the shared test model (checkpoint and tokenizer)', () => {
    for (const [vendored, shared] of [
      ['models/aidreams260K/aidreams260K.bin', CHECKPOINT],
      ['models/aidreams260K/tok512.bin', TOKENIZER],
    ])
      expect(Buffer.compare(readFileSync(join(REPO, vendored)), readFileSync(shared)), vendored).toBe(0);
  });

  it('keeps its licence notice and source beside it', () => {
    expect(readFileSync(join(REPO, 'models/aidreams260K/LICENSE'), 'utf8')).toMatch(/^MIT License/);
    expect(readFileSync(join(REPO, 'models/aidreams260K/SOURCE.md'), 'utf8')).toContain(
      'mc9625/ai-dreamer-esp32-s3_matrix',
    );
  });

  it('is the default model, served; the random-weight fixture says what it is for', () => {
    expect(DEFAULT_MODEL_KEY).toBe('served:aidreams260K');
    expect(BUILTIN_MODEL.instruct).toBe(false);
    expect(SERVED_MODELS.map((m) => m.key)).toEqual(['served:aidreams260K', 'served:quantlab-tiny']);
    expect(TINY_MODEL.name).toMatch(/random weights/);
    expect(TINY_MODEL.description).toMatch(/random weights/);
  });
});

describe('the served index', () => {
  it('lists both served models, and every file it lists is on disk with its size', () => {
    const index = readIndex();
    expect(index.models.map((m) => m.id).sort()).toEqual(['aidreams260K', 'quantlab-tiny']);
    for (const m of index.models)
      for (const f of m.files) expect(statSync(join(SERVED_DIR, m.id, f.path)).size, `${m.id}/${f.path}`).toBe(f.bytes);
  });

  it('lists every precision of aidreams260K (and the fp4 bnb4 pair of the nf4/fp4 preset, the q4 methods of the methods preset), and its default columns are among them', () => {
    const entry = readIndex().models.find((m) => m.id === BUILTIN_MODEL.ref.id)!;
    const onnx = entry.files.filter((f) => f.path.endsWith('.onnx')).map((f) => f.path);
    const extra = ['model_bnb4_fp4', 'model_bnb4_fp4_dq', 'model_q4_hqq', 'model_q4_gptq', 'model_q4_awq'];
    const expected = [FP32_STEM, ...DTYPES.map((d) => stemOf(d)!), ...extra].map((s) => `onnx/${s}.onnx`);
    expect(onnx.sort()).toEqual(expected.sort());
    for (const stem of BUILTIN_MODEL.defaultVariants) expect(onnx).toContain(`onnx/${stem}.onnx`);
  });
});

describe('public/models/aidreams260K through the Node runner', () => {
  const runner = new Runner();
  beforeAll(async () => {
    configureNodeTransformers({ allowRemote: false });
    await runner.load({ modelId: DIR, variant: FP32_STEM, device: 'cpu' });
  }, 60_000);
  afterAll(() => runner.dispose());

  for (const ref of greedyReferences()) {
    it(`fp32 writes llama2.c's greedy ids and text for ${JSON.stringify(ref.prompt)}`, async () => {
      const r = await runner.generate({ ...greedy, prompt: ref.prompt, maxNewTokens: ref.greedy_ids.length });
      expect(r.promptIds).toEqual(ref.prompt_ids);
      expect(r.ids).toEqual(ref.greedy_ids);
      expect(ref.prompt + r.text).toBe(ref.text);
    }, 60_000);
  }

  it('stops where llama2.c does at 128 positions when asked for more, and says why', async () => {
    // llama2.c ran with 128 positions: its continuation is exactly what fits after each prompt.
    const ref = greedyReferences().find((r) => r.prompt === 'I dreamed')!;
    expect(runner.maxPositions).toBe(128);
    const r = await runner.generate({ ...greedy, prompt: ref.prompt, maxNewTokens: 200 });
    expect(r.ids).toEqual(ref.greedy_ids);
    expect(r.promptIds.length + r.ids.length - 1).toBe(128);
    expect(r.limitNote).toBe(
      "At most 122 new tokens, not 200: the prompt's 7 tokens and the new ones share the model's 128 positions.",
    );
    const fits = await runner.generate({ ...greedy, prompt: ref.prompt, maxNewTokens: 122 });
    expect(fits.limitNote).toBeUndefined();
  }, 60_000);

  it('refuses a prompt longer than the model positions, naming both', async () => {
    const long = 'I dreamed of the ocean and the city. '.repeat(30);
    await expect(runner.generate({ ...greedy, prompt: long, maxNewTokens: 4 })).rejects.toThrow(
      /The prompt is \d+ tokens, more than the model's 128 positions/,
    );
  });

  it('every quantized precision loads and writes readable text (no replacement characters)', async () => {
    const prompt = greedyReferences()[0].prompt;
    const stems = DTYPES.map((d) => stemOf(d)!);
    const q = new Runner();
    try {
      for (const stem of stems) {
        await q.load({ modelId: DIR, variant: stem, device: 'cpu' });
        const r = await q.generate({ ...greedy, prompt, maxNewTokens: 40 });
        expect(r.ids.length, stem).toBeGreaterThan(10);
        expect(r.text, stem).not.toContain('\uFFFD');
        // Dream-like English: mostly letters, spaces and punctuation, several words.
        expect(
          r.text.split(/\s+/).filter((w) => /^[A-Za-z,.'"-]+$/.test(w)).length,
          `${stem}: ${r.text}`,
        ).toBeGreaterThan(4);
      }
    } finally {
      await q.dispose();
    }
  }, 120_000);
});

describe('fitNewTokens', () => {
  it('keeps what fits, cuts the rest with a note, and refuses a prompt past the last position', () => {
    expect(fitNewTokens(7, 64, 128)).toEqual({ maxNewTokens: 64 });
    expect(fitNewTokens(7, 122, 128)).toEqual({ maxNewTokens: 122 });
    expect(fitNewTokens(7, 123, 128).maxNewTokens).toBe(122);
    expect(fitNewTokens(128, 5, 128).maxNewTokens).toBe(1);
    expect(fitNewTokens(500, 5000, undefined)).toEqual({ maxNewTokens: 5000 });
    expect(() => fitNewTokens(129, 1, 128)).toThrow(/129 tokens, more than the model's 128 positions/);
  });
});
