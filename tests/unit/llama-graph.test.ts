import { describe, expect, it } from 'vitest';
import { importLlama2cCheckpoint } from '../../src/lib/import/llama2c';
import { buildDecoderGraph } from '../../src/lib/model/llama-graph';
import { tinyConfig, tinyWeights } from '../../src/lib/model/tiny';
import { decodeModel, encodeModel, valueInfoShape } from '../../src/lib/onnx/proto';
import { greedyReferences, readCheckpoint, referenceLogits } from '../helpers/aidreams';
import { createSession, step } from '../helpers/decoder-session';
import { referenceForward } from '../helpers/llama-ref';

function maxRelError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < b.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    maxRef = Math.max(maxRef, Math.abs(b[i]));
  }
  return maxDiff / maxRef;
}

/** new_key_values.* must be exactly the rows past..past+n-1 of each head of present.* (bit for bit). */
function expectAddedRows(
  r: Awaited<ReturnType<typeof step>>,
  c: { numLayers: number; numKvHeads: number; headDim: number },
  past: number,
  n: number,
): void {
  const total = past + n;
  const d = c.headDim;
  for (let l = 0; l < c.numLayers; l++) {
    for (const kv of ['key', 'value']) {
      const present = r.present[`present.${l}.${kv}`].data as Float32Array;
      const added = r.added[`new_key_values.${l}.${kv}`];
      expect(added.dims).toEqual([1, c.numKvHeads, n, d]);
      const want: number[] = [];
      for (let h = 0; h < c.numKvHeads; h++)
        want.push(...present.subarray((h * total + past) * d, (h + 1) * total * d));
      expect(Array.from(added.data as Float32Array)).toEqual(want);
    }
  }
}

describe('Llama decoder graph', () => {
  it('reproduces llama2.c logits for aidreams260K to 1e-4 relative', async () => {
    const { config, weights } = importLlama2cCheckpoint(readCheckpoint());
    const s = await createSession(encodeModel(buildDecoderGraph(config, weights)));
    const ref = greedyReferences()[0];
    const ids = [...ref.prompt_ids, ...ref.greedy_ids].slice(0, 128);
    const { logits, vocab } = await step(s, config, ids);
    expect(vocab).toBe(512);
    const expected = referenceLogits();
    expect(expected.length).toBe(128 * 512);
    expect(maxRelError(logits, expected)).toBeLessThan(1e-4);
  });

  it('declares the I/O transformers.js feeds, with fixed kv-heads and head_dim', () => {
    const c = tinyConfig({
      layers: 2,
      dim: 32,
      heads: 4,
      kvHeads: 2,
      hidden: 40,
      vocab: 300,
      maxPositions: 64,
      tied: true,
    });
    const m = decodeModel(encodeModel(buildDecoderGraph(c, tinyWeights(c, 1))));
    const inputs = Object.fromEntries(m.graph!.input.map((v) => [v.name, valueInfoShape(v)!.dims]));
    expect(Object.keys(inputs)).toEqual([
      'input_ids',
      'attention_mask',
      'position_ids',
      'past_key_values.0.key',
      'past_key_values.0.value',
      'past_key_values.1.key',
      'past_key_values.1.value',
    ]);
    expect(inputs['past_key_values.1.value']).toEqual(['batch_size', 2, 'past_sequence_length', 8]);
    const outputs = m.graph!.output.map((v) => v.name);
    expect(outputs).toEqual([
      'logits',
      'present.0.key',
      'present.0.value',
      'present.1.key',
      'present.1.value',
      'new_key_values.0.key',
      'new_key_values.0.value',
      'new_key_values.1.key',
      'new_key_values.1.value',
    ]);
    const added = m.graph!.output.find((v) => v.name === 'new_key_values.1.value')!;
    expect(valueInfoShape(added)!.dims).toEqual(['batch_size', 2, 'sequence_length', 8]);
    expect(m.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 17]]);
  });

  // GQA, q/k/v bias, an untied head and a non-default rope_theta against a float64 forward pass.
  const shapes = [
    {
      name: 'GQA, tied',
      shape: { layers: 2, dim: 48, heads: 6, kvHeads: 2, hidden: 72, vocab: 300, maxPositions: 64, tied: true },
    },
    {
      name: 'Qwen2 bias, untied, MHA',
      shape: {
        layers: 2,
        dim: 32,
        heads: 4,
        kvHeads: 4,
        hidden: 56,
        vocab: 300,
        maxPositions: 64,
        tied: false,
        qkvBias: true,
      },
    },
  ];
  for (const { name, shape } of shapes) {
    it(`matches a float64 reference forward pass (${name}), with and without the KV cache`, async () => {
      const c = { ...tinyConfig(shape), ropeTheta: 50000, rmsNormEps: 1e-6 };
      const w = tinyWeights(c, 7);
      const ids = [1, 17, 250, 3, 99, 42, 42, 7];
      const ref = referenceForward(c, w, ids);
      const s = await createSession(encodeModel(buildDecoderGraph(c, w)));
      const full = await step(s, c, ids);
      expect(
        maxRelError(
          full.logits,
          ref.flatMap((r) => Array.from(r)),
        ),
      ).toBeLessThan(1e-5);
      // Prefill 5 tokens, then feed the rest one at a time through the cache.
      let r = await step(s, c, ids.slice(0, 5));
      expectAddedRows(r, c, 0, 5);
      for (let i = 5; i < ids.length; i++) {
        r = await step(s, c, [ids[i]], r.present, i);
        expect(maxRelError(r.logits, ref[i])).toBeLessThan(1e-5);
        expectAddedRows(r, c, i, 1);
      }
      expect(r.present['present.0.key'].dims).toEqual([1, c.numKvHeads, ids.length, c.headDim]);
    });
  }
});
