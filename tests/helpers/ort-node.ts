// Runs a small ONNX model in onnxruntime-node (the CPU build transformers.js uses in Node), so
// unit tests can check what a rewritten graph computes, not just how it looks.

import * as ort from 'onnxruntime-node';

export type Feed =
  | { type: 'float32'; data: Float32Array; dims: number[] }
  | { type: 'float16'; data: Uint16Array; dims: number[] }
  | { type: 'int64'; data: BigInt64Array; dims: number[] }
  | { type: 'bool'; data: Uint8Array; dims: number[] };

/** Creates a session from model bytes (all graph optimisations on, as transformers.js does). */
export async function ortSession(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', executionProviders: ['cpu'] });
}

/** Runs once and returns every output as { type, data, dims }. */
export async function runOrt(
  session: ort.InferenceSession,
  feeds: Record<string, Feed>,
): Promise<Record<string, { type: string; data: ArrayLike<number | bigint>; dims: readonly number[] }>> {
  const inputs: Record<string, ort.Tensor> = {};
  for (const [name, f] of Object.entries(feeds)) inputs[name] = new ort.Tensor(f.type, f.data, f.dims);
  const out = await session.run(inputs);
  const result: Record<string, { type: string; data: ArrayLike<number | bigint>; dims: readonly number[] }> = {};
  for (const [name, t] of Object.entries(out))
    result[name] = { type: t.type, data: t.data as ArrayLike<number | bigint>, dims: t.dims };
  return result;
}

/** One-shot: load model bytes, run with feeds, return outputs. */
export async function runModelBytes(bytes: Uint8Array, feeds: Record<string, Feed>) {
  const s = await ortSession(bytes);
  try {
    return await runOrt(s, feeds);
  } finally {
    await s.release();
  }
}
