// Runs a decoder ONNX model in onnxruntime-node with the I/O transformers.js uses, with or
// without a KV cache, so graph tests need no tokenizer or transformers.js.
import * as ort from 'onnxruntime-node';

export interface DecoderDims {
  numLayers: number;
  numKvHeads: number;
  headDim: number;
}

export type Past = Record<string, ort.Tensor>;

export async function createSession(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' });
}

/**
 * One forward step: ids at positions past..past+ids.length-1. Returns logits rows, the new cache
 * (present.*) and the rows this step added (new_key_values.*, where the graph has them).
 */
export async function step(
  s: ort.InferenceSession,
  d: DecoderDims,
  ids: number[],
  past?: Past,
  pastLen = 0,
): Promise<{ logits: Float32Array; vocab: number; present: Past; added: Past }> {
  const n = ids.length;
  const total = pastLen + n;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, n]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(total).fill(1n), [1, total]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map((_, i) => BigInt(pastLen + i))), [1, n]),
  };
  for (let i = 0; i < d.numLayers; i++) {
    for (const kv of ['key', 'value']) {
      feeds[`past_key_values.${i}.${kv}`] =
        past?.[`present.${i}.${kv}`] ?? new ort.Tensor('float32', new Float32Array(0), [1, d.numKvHeads, 0, d.headDim]);
    }
  }
  const out = await s.run(feeds);
  const present: Past = {};
  const added: Past = {};
  for (const [k, v] of Object.entries(out)) {
    if (k.startsWith('present.')) present[k] = v;
    if (k.startsWith('new_key_values.')) added[k] = v;
  }
  const logits = out.logits;
  return { logits: logits.data as Float32Array, vocab: logits.dims[2], present, added };
}
