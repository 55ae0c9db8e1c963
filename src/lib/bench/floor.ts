// The speed floor: the smallest greedy decode loop written directly against an ONNX Runtime
// session (same files, KV cache fed back, argmax of the last row only). The playground's runner
// is measured against it: ratio = runner decode tokens/s / floor decode tokens/s.

import {
  emptyPast,
  lastRow,
  pastNameOf,
  type KvCacheLayout,
  type OrtSession,
  type OrtTensor,
  type TensorCtor,
} from '../onnx/session';
import { argmax } from '../sampling/sampler';

export interface FloorResult {
  ids: number[];
  ttftMs: number;
  prefillTokensPerS: number;
  decodeTokensPerS: number;
  /** Wall time of each decode step after the first token, in ms. */
  stepMs: number[];
}

/** Greedy: prefill `promptIds`, then `newTokens` - 1 single-token steps. */
export async function floorDecode(
  Tensor: TensorCtor,
  session: OrtSession,
  layout: KvCacheLayout,
  promptIds: number[],
  newTokens: number,
): Promise<FloorResult> {
  const i64 = (xs: number[]) => BigInt64Array.from(xs.map(BigInt));
  let past = emptyPast(layout, (type, data, dims) => new Tensor(type, data, dims));
  const wantsPositions = session.inputNames.includes('position_ids');
  const ids: number[] = [];
  let input = promptIds;
  let pos = 0;
  const t0 = performance.now();
  let tFirst = 0;
  let tLast = 0;
  const stepMs: number[] = [];
  while (ids.length < newTokens) {
    const n = input.length;
    const feeds: Record<string, OrtTensor> = {
      input_ids: new Tensor('int64', i64(input), [1, n]),
      attention_mask: new Tensor('int64', new BigInt64Array(pos + n).fill(1n), [1, pos + n]),
      ...past,
    };
    if (wantsPositions) feeds.position_ids = new Tensor('int64', i64(input.map((_, i) => pos + i)), [1, n]);
    const out = await session.run(feeds);
    const next = argmax(lastRow(out.logits));
    const present: Record<string, OrtTensor> = {};
    for (const [k, v] of Object.entries(out)) {
      const to = pastNameOf(k);
      if (to) present[to] = v;
    }
    for (const t of Object.values(past)) t.dispose?.();
    out.logits.dispose?.();
    past = present;
    pos += n;
    ids.push(next);
    const t = performance.now();
    if (ids.length === 1) tFirst = t;
    else stepMs.push(t - tLast);
    tLast = t;
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
    stepMs,
  };
}
