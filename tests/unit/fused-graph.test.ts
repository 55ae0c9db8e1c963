// The fused decoder graph (src/lib/model/fused-ops.ts): ONNX Runtime's contrib ops in place of
// the standard-op attention, rotary embedding and RMSNorm, with the same weights and I/O. Through
// the Node runner, aidreams260K's fused fp32 graph writes llama2.c's greedy ids and the unfused
// graph's, and its q4 variant the unfused q4's.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModelFolder } from '../../src/lib/model/folder';
import { rotaryCaches } from '../../src/lib/model/fused-ops';
import { ropeInvFreq } from '../../src/lib/model/rope';
import { decodeModel } from '../../src/lib/onnx/proto';
import { Runner } from '../../src/lib/runner/runner';
import { writeFolderAtomic } from '../../src/node/files';
import { configureNodeTransformers } from '../../src/node/transformers-env';
import { greedyReferences } from '../helpers/aidreams';
import { runCli } from '../helpers/cli';
import { aidreamsSource, cleanupTempDirs, tempDir } from '../helpers/model-dirs';

const greedy = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 };

describe('rotaryCaches', () => {
  it('holds cos and sin of position x inv_freq, row by position', () => {
    const inv = ropeInvFreq(8, 10000);
    const { cos, sin } = rotaryCaches(3, inv);
    expect(cos.length).toBe(12);
    // Position 0 turns nothing; position 2, frequency 1: 2 * 10000^(-2/8) radians, by hand in float64.
    expect(Array.from(cos.slice(0, 4))).toEqual([1, 1, 1, 1]);
    expect(Array.from(sin.slice(0, 4))).toEqual([0, 0, 0, 0]);
    expect(cos[2 * 4 + 1]).toBeCloseTo(Math.cos(2 * Math.pow(10000, -0.25)), 6);
    expect(sin[2 * 4 + 1]).toBeCloseTo(Math.sin(2 * Math.pow(10000, -0.25)), 6);
  });
});

describe('the fused aidreams260K graph', () => {
  let fused: string;
  let unfused: string;
  beforeAll(async () => {
    configureNodeTransformers({ allowRemote: false });
    fused = join(tempDir(), 'fused');
    unfused = join(tempDir(), 'unfused');
    await writeFolderAtomic(fused, await buildModelFolder(aidreamsSource(), { form: 'fused' }));
    await writeFolderAtomic(unfused, await buildModelFolder(aidreamsSource()));
  }, 60_000);
  afterAll(cleanupTempDirs);

  it('uses the fused ops and no standard-op attention or RMSNorm', () => {
    const m = decodeModel(readFileSync(join(fused, 'onnx/model.onnx')));
    const count = (op: string) => m.graph!.node.filter((n) => n.opType === op).length;
    // aidreams260K: 4 layers; one plain norm, then a Skip norm after attention and after the MLP of each layer.
    expect(count('GroupQueryAttention')).toBe(4);
    expect(count('RotaryEmbedding')).toBe(8);
    expect(count('SimplifiedLayerNormalization')).toBe(1);
    expect(count('SkipSimplifiedLayerNormalization')).toBe(8);
    for (const op of ['Softmax', 'ReduceMean', 'Sqrt', 'Cos', 'Sin']) expect(count(op), op).toBe(0);
    // transformers.js's decoder I/O, unchanged.
    const names = (xs: { name: string }[]) => xs.map((x) => x.name).sort();
    const plain = decodeModel(readFileSync(join(unfused, 'onnx/model.onnx')));
    expect(names(m.graph!.input)).toEqual(names(plain.graph!.input));
    expect(names(m.graph!.output)).toEqual(names(plain.graph!.output));
  });

  it("writes llama2.c's greedy ids and the unfused graph's, in fp32 and in q4", async () => {
    const q = await runCli(['quantize', fused, '--dtype', 'q4', '--quiet']);
    expect(q.code, q.err).toBe(0);
    const q2 = await runCli(['quantize', unfused, '--dtype', 'q4', '--quiet']);
    expect(q2.code, q2.err).toBe(0);
    const ids = async (dir: string, variant: string) => {
      const r = new Runner();
      try {
        await r.load({ modelId: dir, variant, device: 'cpu' });
        const out: number[][] = [];
        for (const ref of greedyReferences()) {
          const g = await r.generate({ ...greedy, prompt: ref.prompt, maxNewTokens: ref.greedy_ids.length });
          // The cache held by the runner from the new_key_values.* rows (both forms return them).
          expect(g.timings.kvPath).toBe('host');
          out.push(g.ids);
        }
        return out;
      } finally {
        await r.dispose();
      }
    };
    const fusedFp32 = await ids(fused, 'model');
    expect(fusedFp32).toEqual(greedyReferences().map((r) => r.greedy_ids));
    expect(fusedFp32).toEqual(await ids(unfused, 'model'));
    expect(await ids(fused, 'model_q4')).toEqual(await ids(unfused, 'model_q4'));
  }, 120_000);
});
