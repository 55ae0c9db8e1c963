// The speed floor must decode correctly, or its tokens/s mean nothing: on aidreams260K it must
// give llama2.c's greedy ids, with the KV cache fed back step by step (present.*) and held in its
// own buffers from the new rows alone (new_key_values.*).
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { floorDecode } from '../../src/lib/bench/floor';
import type { OrtSession, OrtTensor, TensorCtor } from '../../src/lib/onnx/session';
import { buildDecoderGraph } from '../../src/lib/model/llama-graph';
import { encodeModel } from '../../src/lib/onnx/proto';
import { quantizeModel } from '../../src/lib/quantize/quantize-model';
import { aidreamsSource } from '../helpers/model-dirs';
import { greedyReferences } from '../helpers/aidreams';

describe('floorDecode', () => {
  it('reproduces the greedy references in fp32 and fp16 (float16 KV cache), both ways of keeping the cache', async () => {
    const src = aidreamsSource();
    const model = buildDecoderGraph(src.config, src.weights);
    const fp16 = (await quantizeModel(model, { dtype: 'fp16' })).bytes;
    const shape = { numLayers: 4, numKvHeads: 4, headDim: 16 };
    for (const [bytes, kvType] of [
      [encodeModel(model), 'float32'],
      [fp16, 'float16'],
    ] as const) {
      const s = await ort.InferenceSession.create(bytes);
      // The same session without its new_key_values.* outputs: present.* fed back each step.
      const presentOnly: OrtSession = {
        inputNames: s.inputNames,
        outputNames: s.outputNames.filter((n) => !n.startsWith('new_key_values.')),
        run: (feeds: Record<string, OrtTensor>, fetches?: string[]) =>
          (fetches
            ? s.run(feeds as ort.InferenceSession.FeedsType, fetches)
            : s.run(feeds as ort.InferenceSession.FeedsType)) as Promise<Record<string, OrtTensor>>,
      } as OrtSession;
      for (const [session, kvPath] of [
        [s, 'host'],
        [presentOnly, 'present'],
      ] as const) {
        for (const ref of greedyReferences()) {
          const r = await floorDecode(
            ort.Tensor as unknown as TensorCtor,
            session,
            { ...shape, kvType },
            ref.prompt_ids,
            30,
          );
          expect(r.ids, `${kvType} ${kvPath} ${ref.prompt}`).toEqual(ref.greedy_ids.slice(0, 30));
          expect(r.kvPath).toBe(kvPath);
          expect(r.decodeTokensPerS).toBeGreaterThan(0);
        }
      }
      await s.release();
    }
  }, 60_000);
});
