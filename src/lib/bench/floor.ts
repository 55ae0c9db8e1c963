// The speed floor: the smallest greedy decode loop written directly against an ONNX Runtime
// session (same files, KV cache fed back, argmax of the last row only; where the graph returns
// new_key_values.*, the cache held in buffers of its own after the prefill, as the runner does).
// The playground's runner is measured against it: ratio = runner decode tokens/s / floor decode tokens/s.

import {
  HostKvCache,
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
  /** 'host' when the steps after the prefill fetched only new_key_values.* (HostKvCache). */
  kvPath: 'host' | 'present';
}

/** Greedy: prefill `promptIds`, then `newTokens` - 1 single-token steps. */
export async function floorDecode(
  Tensor: TensorCtor,
  session: OrtSession,
  layout: KvCacheLayout,
  promptIds: number[],
  newTokens: number,
): Promise<FloorResult> {
  // The int64 inputs are views of buffers made once: a step allocates no ArrayBuffer of its own.
  const total = promptIds.length + newTokens;
  const idsBuf = new BigInt64Array(total);
  idsBuf.set(BigInt64Array.from(promptIds, BigInt));
  const ones = new BigInt64Array(total).fill(1n);
  const positions = BigInt64Array.from({ length: total }, (_, i) => BigInt(i));
  let past = emptyPast(layout, (type, data, dims) => new Tensor(type, data, dims));
  const wantsPositions = session.inputNames.includes('position_ids');
  let host: HostKvCache | undefined;
  const ids: number[] = [];
  let n = promptIds.length;
  let pos = 0;
  const t0 = performance.now();
  let tFirst = 0;
  let tLast = 0;
  const stepMs: number[] = [];
  while (ids.length < newTokens) {
    const feeds: Record<string, OrtTensor> = {
      input_ids: new Tensor('int64', idsBuf.subarray(pos, pos + n), [1, n]),
      attention_mask: new Tensor('int64', ones.subarray(0, pos + n), [1, pos + n]),
      ...past,
    };
    if (wantsPositions) feeds.position_ids = new Tensor('int64', positions.subarray(pos, pos + n), [1, n]);
    const out = host ? await session.run(feeds, host.fetches) : await session.run(feeds);
    const next = argmax(lastRow(out.logits));
    if (pos === 0) host = HostKvCache.for(session, layout, Object.keys(past), total);
    if (host) {
      host.append(out);
      for (const t of Object.values(out)) t.dispose?.();
      past = host.feeds((type, data, dims) => new Tensor(type, data, dims));
    } else {
      const present: Record<string, OrtTensor> = {};
      for (const [k, v] of Object.entries(out)) {
        const to = pastNameOf(k);
        if (to) present[to] = v;
        else if (k !== 'logits') v.dispose?.();
      }
      for (const t of Object.values(past)) t.dispose?.();
      out.logits.dispose?.();
      past = present;
    }
    pos += n;
    ids.push(next);
    const t = performance.now();
    if (ids.length === 1) tFirst = t;
    else stepMs.push(t - tLast);
    tLast = t;
    if (pos < total) idsBuf[pos] = BigInt(next);
    n = 1;
  }
  const tEnd = performance.now();
  if (!host) for (const t of Object.values(past)) t.dispose?.();
  const ttftMs = tFirst - t0;
  return {
    ids,
    ttftMs,
    prefillTokensPerS: promptIds.length / (ttftMs / 1000),
    decodeTokensPerS: ids.length > 1 ? (ids.length - 1) / ((tEnd - tFirst) / 1000) : 0,
    stepMs,
    kvPath: host ? 'host' : 'present',
  };
}
