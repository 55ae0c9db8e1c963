// The runner's decode loop, run straight on the ONNX Runtime session transformers.js loaded:
// the KV cache outputs are fed back as they are (on WebGPU they stay on the device), only the
// last logits row is read, and each token is picked by our sampler. A step does nothing else:
// transformers.js's generate() is not used for decoding, its per-token bookkeeping costs a large
// share of a small model's decode speed.

import {
  HostKvCache,
  emptyPast,
  kvCacheLayout,
  lastRow,
  pastNameOf,
  type MakeTensor,
  type OrtSession,
  type OrtTensor,
} from '../onnx/session';

export interface LoopOptions {
  promptIds: number[];
  maxNewTokens: number;
  /** Picks the next id from the last position's logits (float32) given every id so far. */
  pick: (logits: Float32Array, history: number[]) => number;
  stopIds: ReadonlySet<number>;
  signal?: AbortSignal;
  /** Called after each new token, with its arrival time. */
  onToken?: (id: number, at: number) => void;
  /**
   * Awaited after each token, before the signal is checked: where session.run() never leaves the
   * microtask queue (ONNX Runtime Web on WASM), a wait for the next task (next-task.ts) lets the
   * message that aborts the signal arrive, so a cancel takes effect within one token.
   */
  between?: () => Promise<void>;
}

export interface LoopResult {
  /** New ids. */
  ids: number[];
  /**
   * Where the KV cache stayed between steps, as ONNX Runtime reports the present.* outputs'
   * location: 'cpu', or 'gpu-buffer' when it never left the WebGPU device.
   */
  kvLocation: string;
  /**
   * 'host' when the decode steps fetched only new_key_values.* and the cache was held in our
   * buffers (HostKvCache); 'present' when each step handed present.* back.
   */
  kvPath: 'host' | 'present';
}

/**
 * Generates up to maxNewTokens ids; stops early on a stop id or when the signal aborts (checked
 * between tokens, after `between`). Per step it makes three small int64 tensors, runs the session,
 * reads the last logits row, and hands the present.* outputs back as past inputs untouched (on
 * WebGPU they stay GPU buffers), disposing the ones they replace.
 *
 * Where the graph also returns the new rows alone (new_key_values.*) and the prefill's cache came
 * back to the CPU, the steps after it fetch only the logits and those rows, and the cache is held
 * in buffers made once (HostKvCache): ONNX Runtime Web then copies out a few hundred bytes a step
 * instead of the whole cache. On WebGPU ('gpu-buffer') the present.* path stays.
 *
 * The int64 inputs are views of three buffers made once (ids, positions, ones), so a step
 * allocates no ArrayBuffer of its own: in Chromium each one costs 15-80 µs to allocate and free
 * on a 2-core machine, and their background sweep stalls a step for tens of ms (ONNX Runtime Web
 * already makes one per output per step; see README, "Browser decode and ArrayBuffers").
 */
export async function decodeLoop(session: OrtSession, tensor: MakeTensor, o: LoopOptions): Promise<LoopResult> {
  const layout = kvCacheLayout(session);
  let past = emptyPast(layout, tensor);
  const wantsPositions = session.inputNames.includes('position_ids');
  const total = o.promptIds.length + o.maxNewTokens;
  const ones = new BigInt64Array(total).fill(1n);
  // Every id of the sequence (prompt, then each new one as it comes) and every position.
  const idsBuf = new BigInt64Array(total);
  idsBuf.set(BigInt64Array.from(o.promptIds, BigInt));
  const positions = wantsPositions ? BigInt64Array.from({ length: total }, (_, i) => BigInt(i)) : undefined;
  const history = [...o.promptIds];
  const ids: number[] = [];
  let n = o.promptIds.length;
  let pos = 0;
  let kvLocation = 'cpu';
  let host: HostKvCache | undefined;
  try {
    while (ids.length < o.maxNewTokens && !o.signal?.aborted) {
      const feeds: Record<string, OrtTensor> = {
        input_ids: tensor('int64', idsBuf.subarray(pos, pos + n), [1, n]),
        attention_mask: tensor('int64', ones.subarray(0, pos + n), [1, pos + n]),
        ...past,
      };
      if (positions) feeds.position_ids = tensor('int64', positions.subarray(pos, pos + n), [1, n]);
      const out = host ? await session.run(feeds, host.fetches) : await session.run(feeds);
      // Outputs are ours from here: the KV ones become the next step's past (also if pick throws).
      if (host) {
        host.append(out);
        for (const name in out) if (name !== 'logits') out[name].dispose?.();
        past = host.feeds(tensor);
      } else {
        const present: Record<string, OrtTensor> = {};
        for (const name in out) {
          const to = pastNameOf(name);
          if (to && to in past) {
            present[to] = out[name];
            kvLocation = out[name].location ?? 'cpu';
          }
        }
        for (const name in past) past[name].dispose?.();
        past = present;
        // After the prefill: from here on, the cache in our buffers (where the graph allows it).
        if (pos === 0 && kvLocation === 'cpu' && o.maxNewTokens > 1) {
          host = HostKvCache.for(session, layout, Object.keys(past), total);
          if (host) {
            host.append(out);
            past = host.feeds(tensor);
          }
        }
        // The outputs not kept as the next past (new_key_values.*; all of them once the host holds the cache).
        for (const name in out) {
          const to = pastNameOf(name);
          if (name !== 'logits' && !(to && past[to] === out[name])) out[name].dispose?.();
        }
      }
      let next: number;
      try {
        next = o.pick(lastRow(out.logits), history);
      } finally {
        out.logits.dispose?.();
      }
      pos += n;
      ids.push(next);
      history.push(next);
      o.onToken?.(next, performance.now());
      if (o.stopIds.has(next)) break;
      idsBuf[pos] = BigInt(next);
      n = 1;
      if (o.between && ids.length < o.maxNewTokens) await o.between();
    }
  } finally {
    if (!host) for (const name in past) past[name].dispose?.();
  }
  return { ids, kvLocation, kvPath: host ? 'host' : 'present' };
}

/** Hugging Face's repetition penalty, in place: divide positive logits, multiply negative ones. */
export function applyRepetitionPenalty(logits: Float32Array, history: number[], penalty: number): void {
  if (penalty === 1) return;
  for (const id of new Set(history)) logits[id] = logits[id] < 0 ? logits[id] * penalty : logits[id] / penalty;
}
