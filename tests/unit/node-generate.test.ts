// End to end in Node: llama2.c checkpoint -> model folder -> transformers.js -> the oracle's ids.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHfConfig } from '../../src/lib/model/config';
import { hfSource } from '../../src/lib/import/sources';
import { writeSafetensors } from '../../src/lib/import/safetensors';
import { Runner } from '../../src/lib/runner/runner';
import { nodeReader } from '../../src/node/files';
import { configureNodeTransformers } from '../../src/node/transformers-env';
import { greedyReferences, referenceLogits } from '../helpers/aidreams';
import { aidreamsSource, cleanupTempDirs, tempDir, writeModel } from '../helpers/model-dirs';

const greedy = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 };

describe('aidreams260K through transformers.js in Node', () => {
  let dir: string;
  const runner = new Runner();
  beforeAll(async () => {
    configureNodeTransformers({ allowRemote: false });
    dir = await writeModel(aidreamsSource(), 'aidreams260K');
    await runner.load({ modelId: dir, variant: 'model', device: 'cpu' });
  }, 60_000);
  afterAll(async () => {
    await runner.dispose();
    cleanupTempDirs();
  });

  for (const ref of greedyReferences()) {
    it(`reproduces llama2.c's greedy ids and text for ${JSON.stringify(ref.prompt)}`, async () => {
      const r = await runner.generate({ ...greedy, prompt: ref.prompt, maxNewTokens: ref.greedy_ids.length });
      expect(r.promptIds).toEqual(ref.prompt_ids);
      expect(r.ids).toEqual(ref.greedy_ids);
      expect(ref.prompt + r.text).toBe(ref.text);
      expect(r.timings.ttftMs).toBeGreaterThan(0);
      expect(r.timings.tokenMs).toHaveLength(r.ids.length - 1);
    }, 60_000);
  }

  it('gives llama2.c logits through the runner (teacher forced) to 1e-4 relative', async () => {
    const ref = greedyReferences()[0];
    const { data, vocab } = await runner.logits([...ref.prompt_ids, ...ref.greedy_ids].slice(0, 128));
    const expected = referenceLogits();
    expect(vocab).toBe(512);
    let maxDiff = 0;
    let maxRef = 0;
    for (let i = 0; i < expected.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(data[i] - expected[i]));
      maxRef = Math.max(maxRef, Math.abs(expected[i]));
    }
    expect(maxDiff / maxRef).toBeLessThan(1e-4);
  });

  it('samples reproducibly per seed and differently across seeds', async () => {
    const p = { ...greedy, prompt: 'The city', temperature: 0.9, topK: 40, topP: 0.95, maxNewTokens: 40 };
    const a = await runner.generate({ ...p, seed: 1 });
    const b = await runner.generate({ ...p, seed: 1 });
    const texts = new Set<string>();
    for (let seed = 2; seed < 6; seed++) texts.add((await runner.generate({ ...p, seed })).text);
    expect(b.ids).toEqual(a.ids);
    expect(texts.size).toBeGreaterThan(1);
  }, 60_000);

  it('stops at once when cancelled and says so', async () => {
    const ctrl = new AbortController();
    const r = await runner.generate(
      { ...greedy, prompt: 'I dreamed', maxNewTokens: 100 },
      (e) => {
        if (e.ids.length === 3) ctrl.abort();
      },
      ctrl.signal,
    );
    expect(r.cancelled).toBe(true);
    expect(r.ids).toHaveLength(3);
  });

  it('rejects out-of-range parameters with a message naming the parameter', async () => {
    await expect(runner.generate({ ...greedy, prompt: 'x', maxNewTokens: 0 })).rejects.toThrow(/max new tokens/);
    await expect(runner.generate({ ...greedy, prompt: 'x', maxNewTokens: 5, temperature: -0.5 })).rejects.toThrow(
      /temperature/,
    );
    await expect(runner.generate({ ...greedy, prompt: 'x', maxNewTokens: 5, topP: 2 })).rejects.toThrow(/top-p/);
  });

  it('imports the same weights written as a Hugging Face safetensors folder and reproduces the ids', async () => {
    // The llama2.c import already holds Hugging Face names and the halves RoPE layout, so the
    // folder below is what a Hugging Face export of these weights looks like.
    const src = aidreamsSource();
    const hf = tempDir();
    mkdirSync(hf, { recursive: true });
    writeFileSync(join(hf, 'model.safetensors'), writeSafetensors(src.weights));
    writeFileSync(join(hf, 'config.json'), JSON.stringify(toHfConfig(src.config)));
    writeFileSync(join(hf, 'tokenizer.json'), JSON.stringify(src.tokenizerJson));
    writeFileSync(join(hf, 'tokenizer_config.json'), JSON.stringify(src.tokenizerConfig));
    const hfDir = await writeModel(await hfSource(nodeReader(hf)), 'from-hf');
    const r2 = new Runner();
    await r2.load({ modelId: hfDir, variant: 'model', device: 'cpu' });
    for (const ref of greedyReferences()) {
      const r = await r2.generate({ ...greedy, prompt: ref.prompt, maxNewTokens: ref.greedy_ids.length });
      expect(r.ids).toEqual(ref.greedy_ids);
    }
    await r2.dispose();
  }, 120_000);
});
