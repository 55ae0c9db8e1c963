// The speed floor must decode correctly, or its tokens/s mean nothing: on aidreams260K it must
// give llama2.c's greedy ids, with the KV cache fed back step by step.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { floorDecode } from '../../src/lib/bench/floor';
import type { TensorCtor } from '../../src/lib/onnx/session';
import { buildDecoderGraph } from '../../src/lib/model/llama-graph';
import { encodeModel } from '../../src/lib/onnx/proto';
import { quantizeModel } from '../../src/lib/quantize/quantize-model';
import { aidreamsSource } from '../helpers/model-dirs';
import { greedyReferences } from '../helpers/aidreams';

describe('floorDecode', () => {
  it('reproduces the greedy references in fp32 and fp16 (float16 KV cache)', async () => {
    const src = aidreamsSource();
    const model = buildDecoderGraph(src.config, src.weights);
    const fp16 = (await quantizeModel(model, { dtype: 'fp16' })).bytes;
    const shape = { numLayers: 4, numKvHeads: 4, headDim: 16 };
    for (const [bytes, kvType] of [
      [encodeModel(model), 'float32'],
      [fp16, 'float16'],
    ] as const) {
      const s = await ort.InferenceSession.create(bytes);
      for (const ref of greedyReferences()) {
        const r = await floorDecode(ort.Tensor as unknown as TensorCtor, s, { ...shape, kvType }, ref.prompt_ids, 30);
        expect(r.ids, `${kvType} ${ref.prompt}`).toEqual(ref.greedy_ids.slice(0, 30));
        expect(r.decodeTokensPerS).toBeGreaterThan(0);
      }
      await s.release();
    }
  }, 60_000);
});
