// The runner's decode loop, run straight on the ONNX Runtime session transformers.js loaded:
// the KV cache outputs are fed back as they are (on WebGPU they stay on the device), only the
// last logits row is read, and each token is picked by our sampler. It replaces
// transformers.js's generate(), whose per-token bookkeeping cost up to 40 % of decode speed.

import { float16ArrayToFloat32 } from '../numeric/half';

export interface LoopTensor {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: unknown;
  readonly location?: string;
  dispose?(): void;
}
export interface LoopSession {
  readonly inputNames: readonly string[];
  readonly inputMetadata?: readonly { name: string; isTensor?: boolean; type?: string; shape?: readonly (number | string)[] }[];
  run(feeds: Record<string, LoopTensor>): Promise<Record<string, LoopTensor>>;
}
/** Makes a runtime tensor (onnxruntime-node and -web share this signature). */
export type MakeTensor = (type: string, data: unknown, dims: number[]) => LoopTensor;

export interface LoopOptions {
  promptIds: number[];
  maxNewTokens: number;
  /** Picks the next id from the last position's logits (float32) given every id so far. */
  pick: (logits: Float32Array, history: number[]) => number;
  stopIds: ReadonlySet<number>;
  signal?: AbortSignal;
  /** Called after each new token, with its arrival time. */
  onToken?: (id: number, at: number) => void;
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

/** The last row of a logits tensor as float32 (float16 graphs return Uint16 bits or Float16Array). */
export function lastRow(logits: LoopTensor): Float32Array {
  const V = logits.dims[logits.dims.length - 1];
  const data = logits.data as ArrayLike<number> & { subarray?: unknown };
  const off = data.length - V;
  if (data instanceof Float32Array) return data.subarray(off);
  const out = new Float32Array(V);
  if (data instanceof Uint16Array && logits.type === 'float16') float16ArrayToFloat32(data.subarray(off), out);
  else for (let i = 0; i < V; i++) out[i] = data[off + i];
  return out;
}

/** KV cache inputs from the session's metadata: name, element type, [kv_heads, head_dim]. */
function cacheInputs(session: LoopSession): { name: string; type: string; heads: number; headDim: number }[] {
  const out = [];
  for (const m of session.inputMetadata ?? []) {
    if (!m.name.startsWith('past_key_values.')) continue;
    const [, heads, , headDim] = m.shape ?? [];
    if (typeof heads !== 'number' || typeof headDim !== 'number') throw new Error(`${m.name} needs fixed kv_heads and head_dim in its input shape`);
    out.push({ name: m.name, type: m.type ?? 'float32', heads, headDim });
  }
  return out;
}

/**
 * Generates up to maxNewTokens ids; stops early on a stop id or when the signal aborts. Per step
 * it makes three small int64 tensors (the attention mask is a view of one buffer of ones), runs
 * the session, reads the last logits row, and hands the present.* outputs back as past inputs
 * untouched (on WebGPU they stay GPU buffers), disposing the ones they replace.
 */
export async function decodeLoop(session: LoopSession, tensor: MakeTensor, o: LoopOptions): Promise<LoopResult> {
  const i64 = (xs: number[]) => BigInt64Array.from(xs, BigInt);
  let past: Record<string, LoopTensor> = {};
  const pastName = new Map<string, string>();
  for (const c of cacheInputs(session)) {
    past[c.name] = tensor(c.type, c.type === 'float16' ? new Uint16Array(0) : new Float32Array(0), [1, c.heads, 0, c.headDim]);
    pastName.set(c.name.replace('past_key_values.', 'present.'), c.name);
  }
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
      const feeds: Record<string, LoopTensor> = {
        input_ids: tensor('int64', i64(input), [1, n]),
        attention_mask: tensor('int64', ones.subarray(0, pos + n), [1, pos + n]),
        ...past,
      };
      if (wantsPositions) feeds.position_ids = tensor('int64', i64(input.map((_, i) => pos + i)), [1, n]);
      const out = await session.run(feeds);
      // Outputs are ours from here: the KV ones become the next step's past (also if pick throws).
      const present: Record<string, LoopTensor> = {};
      for (const name in out) {
        const to = pastName.get(name);
        if (to) {
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
