// The floor the app measures: a raw greedy loop on the runner's own session (Runner.rawSession)
// must read the same session the same way the runner does — same ids as llama2.c's reference.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { floorDecode } from '../../src/lib/bench/floor';
import { Runner } from '../../src/lib/runner/runner';
import { configureNodeTransformers } from '../../src/node/transformers-env';
import { greedyReferences, readCheckpoint } from '../helpers/aidreams';
import { aidreamsSource, cleanupTempDirs, writeModel } from '../helpers/model-dirs';

describe("the floor on the runner's own session", () => {
  const runner = new Runner();
  beforeAll(async () => {
    configureNodeTransformers({ allowRemote: false });
    await runner.load({ modelId: await writeModel(aidreamsSource(), 'aidreams260K'), variant: 'model', device: 'cpu' });
  }, 60_000);
  afterAll(async () => {
    await runner.dispose();
    cleanupTempDirs();
  });

  it('describes the session as the checkpoint header says', () => {
    // llama2.c's header: int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len.
    const b = readCheckpoint();
    const [dim, , layers, heads, kvHeads] = new Int32Array(b.buffer, b.byteOffset, 7);
    expect(runner.rawSession().shape).toEqual({
      numLayers: layers,
      numKvHeads: kvHeads,
      headDim: dim / heads,
      kvType: 'float32',
    });
  });

  it("decodes llama2.c's greedy ids, as the runner does, on that session", async () => {
    const { session, shape, Tensor } = runner.rawSession();
    for (const ref of greedyReferences().slice(0, 2)) {
      const f = await floorDecode(Tensor, session, shape, ref.prompt_ids, ref.greedy_ids.length);
      expect(f.ids).toEqual(ref.greedy_ids);
      expect(f.decodeTokensPerS).toBeGreaterThan(0);
    }
  }, 60_000);

  it('refuses before a model is loaded', () => {
    expect(() => new Runner().rawSession()).toThrow('No model loaded');
  });
});
