// The runner's decode loop, run straight on the ONNX Runtime session transformers.js loaded:
// the KV cache outputs are fed back as they are (on WebGPU they stay on the device), only the
// last logits row is read, and each token is picked by our sampler. A step does nothing else:
// transformers.js's generate() is not used for decoding, its per-token bookkeeping costs a large
// share of a small model's decode speed.

import {
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
}

/**
 * Generates up to maxNewTokens ids; stops early on a stop id or when the signal aborts (checked
 * between tokens, after `between`). Per step it makes three small int64 tensors (the attention
 * mask is a view of one buffer of ones), runs the session, reads the last logits row, and hands
 * the present.* outputs back as past inputs untouched (on WebGPU they stay GPU buffers),
 * disposing the ones they replace.
 */
export async function decodeLoop(session: OrtSession, tensor: MakeTensor, o: LoopOptions): Promise<LoopResult> {
  const i64 = (xs: number[]) => BigInt64Array.from(xs, BigInt);
  let past = emptyPast(kvCacheLayout(session), tensor);
  const wantsPositions = session.inputNames.includes('position_ids');
  const ones = new BigInt64Array(o.promptIds.length + o.maxNewTokens).fill(1n);
  const history = [...o.promptIds];
  const ids: number[] = [];
  let input = o.promptIds;
  let pos = 0;
  let kvLocation = 'cpu';
  try {
    while (ids.length < o.maxNewTokens && !o.signal?.aborted) {
      const n = input.length;
      const feeds: Record<string, OrtTensor> = {
        input_ids: tensor('int64', i64(input), [1, n]),
        attention_mask: tensor('int64', ones.subarray(0, pos + n), [1, pos + n]),
        ...past,
      };
      if (wantsPositions) feeds.position_ids = tensor('int64', i64(input.map((_, i) => pos + i)), [1, n]);
      const out = await session.run(feeds);
      // Outputs are ours from here: the KV ones become the next step's past (also if pick throws).
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
      input = [next];
      if (o.between && ids.length < o.maxNewTokens) await o.between();
    }
  } finally {
    for (const name in past) past[name].dispose?.();
  }
  return { ids, kvLocation };
}

/** Hugging Face's repetition penalty, in place: divide positive logits, multiply negative ones. */
export function applyRepetitionPenalty(logits: Float32Array, history: number[], penalty: number): void {
  if (penalty === 1) return;
  for (const id of new Set(history)) logits[id] = logits[id] < 0 ? logits[id] * penalty : logits[id] / penalty;
}
