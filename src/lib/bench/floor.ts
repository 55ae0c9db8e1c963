// The speed floor: the smallest greedy decode loop written directly against an ONNX Runtime
// session (same files, KV cache fed back, argmax of the last row only). The playground's runner
// is measured against it: ratio = runner decode tokens/s / floor decode tokens/s.

import { QuantlabError } from '../errors';
import { lastRow } from '../runner/decode-loop';
import { argmax } from '../sampling/sampler';

/** The parts of onnxruntime-node / onnxruntime-web this loop uses (they share this API). */
export interface OrtTensor {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: unknown;
  dispose?(): void;
}
export interface OrtSession {
  readonly inputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
}
export type TensorCtor = new (type: string, data: unknown, dims: readonly number[]) => OrtTensor;

export interface FloorShape {
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  /** float16 for fp16 / q4f16 graphs. */
  kvType: 'float32' | 'float16';
}

/** An entry of a session's inputMetadata (onnxruntime-node and -web). */
export interface FloorInputMeta {
  readonly name: string;
  readonly isTensor?: boolean;
  readonly type?: string;
  readonly shape?: readonly (number | string)[];
}

/**
 * The KV cache layout from the session's own input metadata: one past_key_values.<i>.key per
 * layer, shaped [batch, kv_heads, past, head_dim], float16 or float32.
 */
export function floorShapeOf(inputs: readonly FloorInputMeta[]): FloorShape {
  const keys = inputs.filter((m) => /^past_key_values\.\d+\.key$/.test(m.name));
  if (keys.length === 0) throw new QuantlabError('bad-onnx', 'The model has no past_key_values.<i>.key inputs', 'The floor loop needs a decoder exported with its KV cache (as quantlab import writes).');
  const [, heads, , headDim] = keys[0].shape ?? [];
  if (typeof heads !== 'number' || typeof headDim !== 'number') {
    throw new QuantlabError('bad-onnx', `${keys[0].name} needs fixed kv_heads and head_dim in its input shape (got [${(keys[0].shape ?? []).join(', ')}])`);
  }
  return { numLayers: keys.length, numKvHeads: heads, headDim, kvType: keys[0].type === 'float16' ? 'float16' : 'float32' };
}

export interface FloorResult {
  ids: number[];
  ttftMs: number;
  prefillTokensPerS: number;
  decodeTokensPerS: number;
}

function argmaxLastRow(logits: OrtTensor): number {
  return argmax(lastRow(logits));
}

/** Greedy: prefill `promptIds`, then `newTokens` - 1 single-token steps. */
export async function floorDecode(Tensor: TensorCtor, session: OrtSession, shape: FloorShape, promptIds: number[], newTokens: number): Promise<FloorResult> {
  const i64 = (xs: number[]) => BigInt64Array.from(xs.map(BigInt));
  const emptyKv = shape.kvType === 'float16' ? new Uint16Array(0) : new Float32Array(0);
  let past: Record<string, OrtTensor> = {};
  for (let l = 0; l < shape.numLayers; l++) {
    for (const kv of ['key', 'value']) past[`past_key_values.${l}.${kv}`] = new Tensor(shape.kvType, emptyKv, [1, shape.numKvHeads, 0, shape.headDim]);
  }
  const wantsPositions = session.inputNames.includes('position_ids');
  const ids: number[] = [];
  let input = promptIds;
  let pos = 0;
  const t0 = performance.now();
  let tFirst = 0;
  while (ids.length < newTokens) {
    const n = input.length;
    const feeds: Record<string, OrtTensor> = {
      input_ids: new Tensor('int64', i64(input), [1, n]),
      attention_mask: new Tensor('int64', new BigInt64Array(pos + n).fill(1n), [1, pos + n]),
      ...past,
    };
    if (wantsPositions) feeds.position_ids = new Tensor('int64', i64(input.map((_, i) => pos + i)), [1, n]);
    const out = await session.run(feeds);
    const next = argmaxLastRow(out.logits);
    const present: Record<string, OrtTensor> = {};
    for (const [k, v] of Object.entries(out)) if (k.startsWith('present.')) present[k.replace('present.', 'past_key_values.')] = v;
    for (const t of Object.values(past)) t.dispose?.();
    out.logits.dispose?.();
    past = present;
    pos += n;
    ids.push(next);
    if (ids.length === 1) tFirst = performance.now();
    input = [next];
  }
  const tEnd = performance.now();
  for (const t of Object.values(past)) t.dispose?.();
  const ttftMs = tFirst - t0;
  return {
    ids,
    ttftMs,
    prefillTokensPerS: promptIds.length / (ttftMs / 1000),
    decodeTokensPerS: ids.length > 1 ? (ids.length - 1) / ((tEnd - tFirst) / 1000) : 0,
  };
}
