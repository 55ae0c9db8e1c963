// The runner's own decode loop: float16 logits read correctly, Hugging Face's repetition penalty,
// and greedy decoding with a penalty equal to an independent loop written here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { applyRepetitionPenalty, lastRow } from '../../src/lib/runner/decode-loop';
import { Runner } from '../../src/lib/runner/runner';
import { configureNodeTransformers } from '../../src/node/transformers-env';
import { aidreamsSource, cleanupTempDirs, writeModel } from '../helpers/model-dirs';
import { createSession, step } from '../helpers/decoder-session';
import { greedyReferences } from '../helpers/aidreams';

afterAll(cleanupTempDirs);

describe('decode loop pieces', () => {
  it('reads the last row of float32 and float16 (bit pattern) logits', () => {
    expect(Array.from(lastRow({ type: 'float32', dims: [1, 2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }))).toEqual([4, 5, 6]);
    // 0x3c00 = 1, 0xc000 = -2, 0x3800 = 0.5, 0x7bff = 65504
    const h = Uint16Array.from([0, 0, 0x3c00, 0xc000, 0x3800, 0x7bff]);
    expect(Array.from(lastRow({ type: 'float16', dims: [1, 2, 3], data: h }))).toEqual([-2, 0.5, 65504]);
  });

  it('applies the repetition penalty as Hugging Face does (once per distinct id)', () => {
    const l = Float32Array.from([2, -2, 3, 1]);
    applyRepetitionPenalty(l, [0, 1, 1, 3], 2);
    expect(Array.from(l)).toEqual([1, -4, 3, 0.5]);
  });
});

describe('Runner decode loop on aidreams260K', () => {
  it('greedy with repetition penalty 1.5 equals an independent loop', async () => {
    configureNodeTransformers({ allowRemote: false });
    const src = aidreamsSource();
    const dir = await writeModel(src, 'aidreams');
    const runner = new Runner();
    await runner.load({ modelId: dir, variant: 'model', device: 'cpu' });
    const r = await runner.generate({ prompt: 'I dreamed', maxNewTokens: 40, temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1.5, seed: 0 });
    await runner.dispose();

    const s = await createSession(new Uint8Array(readFileSync(join(dir, 'onnx/model.onnx'))));
    const history = [...r.promptIds];
    const expected: number[] = [];
    let out = await step(s, src.config, history);
    for (let i = 0; i < 40; i++) {
      const row = Array.from(out.logits.subarray(out.logits.length - out.vocab));
      for (const id of new Set(history)) row[id] = row[id] < 0 ? row[id] * 1.5 : row[id] / 1.5;
      let best = 0;
      for (let v = 1; v < row.length; v++) if (row[v] > row[best]) best = v;
      expected.push(best);
      history.push(best);
      if (best === 1 || best === 2) break;
      out = await step(s, src.config, [best], out.present, history.length - 1);
    }
    expect(r.ids).toEqual(expected);
    // The penalty really acted: plain greedy (llama2.c's reference) goes elsewhere.
    expect(r.ids).not.toEqual(greedyReferences()[0].greedy_ids.slice(0, r.ids.length));
  }, 60_000);
});
