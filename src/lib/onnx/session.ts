// The parts of an ONNX Runtime session and its tensors that QuantLab drives directly
// (onnxruntime-node and onnxruntime-web share this API), and the KV cache layout read from a
// session's input metadata: the runner's decode loop and the speed floor both learn it here.

import { QuantlabError } from '../errors';
import { float16ArrayToFloat32 } from '../numeric/half';

export interface OrtTensor {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: unknown;
  /** Where the data lives: 'cpu', or 'gpu-buffer' for a tensor left on the WebGPU device. */
  readonly location?: string;
  dispose?(): void;
}

/** An entry of a session's inputMetadata. */
export interface OrtInputMeta {
  readonly name: string;
  readonly isTensor?: boolean;
  readonly type?: string;
  readonly shape?: readonly (number | string)[];
}

export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames?: readonly string[];
  readonly inputMetadata?: readonly OrtInputMeta[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  /** Only the `fetches` outputs come back (ONNX Runtime Web copies nothing else out). */
  run(feeds: Record<string, OrtTensor>, fetches: string[]): Promise<Record<string, OrtTensor>>;
}

/** Makes a runtime tensor (onnxruntime-node and -web share this signature). */
export type MakeTensor = (type: string, data: unknown, dims: number[]) => OrtTensor;
/** The runtime's Tensor class. */
export type TensorCtor = new (type: string, data: unknown, dims: readonly number[]) => OrtTensor;

/** The KV cache a decoder session takes: past_key_values.<i>.key / .value, [batch, kv_heads, past, head_dim]. */
export interface KvCacheLayout {
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  /** float16 for fp16 / q4f16 graphs. */
  kvType: 'float32' | 'float16';
}

const PAST_PREFIX = 'past_key_values.';
const PRESENT_PREFIX = 'present.';
const NEW_PREFIX = 'new_key_values.';

/**
 * The KV cache layout from the session's own input metadata: one past_key_values.<i>.key per
 * layer, with fixed kv_heads and head_dim. A session without one is not a decoder with a cache.
 */
export function kvCacheLayout(session: { readonly inputMetadata?: readonly OrtInputMeta[] }): KvCacheLayout {
  const keys = (session.inputMetadata ?? []).filter((m) => /^past_key_values\.\d+\.key$/.test(m.name));
  if (keys.length === 0) {
    throw new QuantlabError(
      'bad-onnx',
      'The model has no past_key_values.<i>.key inputs',
      'A decode loop needs a decoder exported with its KV cache (as quantlab import writes).',
    );
  }
  const [, heads, , headDim] = keys[0].shape ?? [];
  if (typeof heads !== 'number' || typeof headDim !== 'number') {
    throw new QuantlabError(
      'bad-onnx',
      `${keys[0].name} needs fixed kv_heads and head_dim in its input shape (got [${(keys[0].shape ?? []).join(', ')}])`,
    );
  }
  return {
    numLayers: keys.length,
    numKvHeads: heads,
    headDim,
    kvType: keys[0].type === 'float16' ? 'float16' : 'float32',
  };
}

/** The empty past (no positions yet) of every KV cache input, to feed the first step. */
export function emptyPast(layout: KvCacheLayout, tensor: MakeTensor): Record<string, OrtTensor> {
  const past: Record<string, OrtTensor> = {};
  for (let l = 0; l < layout.numLayers; l++) {
    for (const kv of ['key', 'value']) {
      const data = layout.kvType === 'float16' ? new Uint16Array(0) : new Float32Array(0);
      past[`${PAST_PREFIX}${l}.${kv}`] = tensor(layout.kvType, data, [1, layout.numKvHeads, 0, layout.headDim]);
    }
  }
  return past;
}

/** The past_key_values.* input a present.* output feeds on the next step; undefined for other outputs. */
export function pastNameOf(outputName: string): string | undefined {
  return outputName.startsWith(PRESENT_PREFIX) ? PAST_PREFIX + outputName.slice(PRESENT_PREFIX.length) : undefined;
}

/**
 * The KV cache held in buffers of our own, for graphs that also return each step's new keys and
 * values alone (new_key_values.<i>.key|value, [batch, kv_heads, new, head_dim]; quantlab import
 * writes them). Each step then fetches the logits and those few rows instead of the whole
 * present.* cache: ONNX Runtime Web copies every output it returns into a new ArrayBuffer, and
 * for aidreams260K in Chromium those copies were three quarters of a decode step (README,
 * "Browser decode and ArrayBuffers"). The buffers are made once per generation; each past input
 * is a view of its buffer, [1, kv_heads, length, head_dim] packed, so a step allocates no
 * ArrayBuffer.
 */
export class HostKvCache {
  /** The outputs a step fetches: logits and every new_key_values.* in past-input order. */
  readonly fetches: string[];
  private readonly names: string[];
  private readonly buffers: (Float32Array | Uint16Array)[] = [];
  private length = 0;

  /**
   * undefined when the session does not return new_key_values.* for every past input. `past`
   * names the inputs (emptyPast's keys); `capacity` is the longest sequence the generation runs.
   */
  static for(
    session: Pick<OrtSession, 'outputNames'>,
    layout: KvCacheLayout,
    past: readonly string[],
    capacity: number,
  ): HostKvCache | undefined {
    const outputs = new Set(session.outputNames ?? []);
    if (past.length === 0 || !past.every((name) => outputs.has(newNameOf(name)))) return undefined;
    return new HostKvCache(layout, past, capacity);
  }

  private constructor(
    private readonly layout: KvCacheLayout,
    names: readonly string[],
    private readonly capacity: number,
  ) {
    this.names = [...names];
    this.fetches = ['logits', ...this.names.map(newNameOf)];
    const size = layout.numKvHeads * capacity * layout.headDim;
    for (let i = 0; i < names.length; i++) {
      this.buffers.push(layout.kvType === 'float16' ? new Uint16Array(size) : new Float32Array(size));
    }
  }

  /** Positions held. */
  get size(): number {
    return this.length;
  }

  /** Appends a step's new_key_values.* outputs (from `out`, [1, kv_heads, n, head_dim] each). */
  append(out: Record<string, OrtTensor>): void {
    const H = this.layout.numKvHeads;
    const d = this.layout.headDim;
    const T = this.length;
    let n = -1;
    for (let i = 0; i < this.names.length; i++) {
      const t = out[newNameOf(this.names[i])];
      const rows = t?.dims[2];
      if (
        !t ||
        t.dims.length !== 4 ||
        t.dims[0] !== 1 ||
        t.dims[1] !== H ||
        t.dims[3] !== d ||
        (n >= 0 && rows !== n)
      ) {
        throw new QuantlabError(
          'bad-onnx',
          `${newNameOf(this.names[i])} is [${t?.dims.join(', ') ?? 'missing'}], not [1, ${H}, new, ${d}]`,
        );
      }
      n = rows;
      if (T + n > this.capacity) {
        throw new QuantlabError('internal', `The KV cache holds ${this.capacity} positions; ${T + n} asked`);
      }
      const buf = this.buffers[i];
      // The bits as stored (a float16 output may come as a Float16Array: set() would convert values).
      const data = t.data as ArrayBufferView & { length: number };
      const src =
        buf instanceof Uint16Array
          ? new Uint16Array(data.buffer, data.byteOffset, data.length)
          : new Float32Array(data.buffer, data.byteOffset, data.length);
      // Heads from last to first: each block moves right to its new stride, then its n rows follow it.
      for (let h = H - 1; h >= 0; h--) {
        if (h > 0 && T > 0) buf.copyWithin(h * (T + n) * d, h * T * d, (h + 1) * T * d);
        buf.set(src.subarray(h * n * d, (h + 1) * n * d), (h * (T + n) + T) * d);
      }
    }
    this.length = T + Math.max(n, 0);
  }

  /** The past inputs for the next step: views of the buffers, [1, kv_heads, size, head_dim]. */
  feeds(tensor: MakeTensor): Record<string, OrtTensor> {
    const { numKvHeads: H, headDim: d, kvType } = this.layout;
    const past: Record<string, OrtTensor> = {};
    for (let i = 0; i < this.names.length; i++) {
      past[this.names[i]] = tensor(kvType, this.buffers[i].subarray(0, H * this.length * d), [1, H, this.length, d]);
    }
    return past;
  }
}

/** The new_key_values.* output that carries a past_key_values.* input's new rows. */
export function newNameOf(pastName: string): string {
  return NEW_PREFIX + pastName.slice(PAST_PREFIX.length);
}

/** The last row of a logits tensor as float32 (float16 graphs return Uint16 bits or Float16Array). */
export function lastRow(logits: OrtTensor): Float32Array {
  const V = logits.dims[logits.dims.length - 1];
  const data = logits.data as ArrayLike<number> & { subarray?: unknown };
  const off = data.length - V;
  if (data instanceof Float32Array) return data.subarray(off);
  const out = new Float32Array(V);
  if (data instanceof Uint16Array && logits.type === 'float16') float16ArrayToFloat32(data.subarray(off), out);
  else for (let i = 0; i < V; i++) out[i] = data[off + i];
  return out;
}

const WHAT_TO_DO =
  'Open a transformers.js decoder folder (config.json, tokenizer.json and onnx/model.onnx exported with its KV cache, as quantlab import writes), or export the model again.';

/** The error for a file whose graph is not a decoder QuantLab can run (check.ts and checkDecoderSession). */
export function notADecoder(fileName: string, problem: string): QuantlabError {
  return new QuantlabError('bad-onnx', `${fileName} is not a decoder model QuantLab can run: ${problem}.`, WHAT_TO_DO);
}

/** Up to `max` names, then how many more. */
export function listNames(names: readonly string[], max = 4): string {
  if (names.length === 0) return 'none';
  return names.slice(0, max).join(', ') + (names.length > max ? `, and ${names.length - max} more` : '');
}

/**
 * The same check on a loaded ONNX Runtime session, for files that never passed the door (Hub
 * downloads, the site's own models): the runner calls it before a column is ready.
 */
export function checkDecoderSession(
  session: Pick<OrtSession, 'inputNames' | 'outputNames' | 'inputMetadata'>,
  fileName: string,
): KvCacheLayout {
  const inputs = [...session.inputNames];
  const outputs = [...(session.outputNames ?? [])];
  for (const name of ['input_ids', 'attention_mask']) {
    if (!inputs.includes(name))
      throw notADecoder(fileName, `its graph has no ${name} input (its inputs are: ${listNames(inputs)})`);
  }
  if (!outputs.includes('logits')) {
    throw notADecoder(fileName, `its graph has no logits output (its outputs are: ${listNames(outputs)})`);
  }
  let layout: KvCacheLayout;
  try {
    layout = kvCacheLayout(session);
  } catch (err) {
    throw notADecoder(fileName, (err as Error).message.replace(/^The model has/, 'it has'));
  }
  const presents = outputs.filter((n) => /^present\.\d+\.(key|value)$/.test(n)).length;
  if (presents !== 2 * layout.numLayers) {
    throw notADecoder(fileName, `it takes a KV cache of ${layout.numLayers} layers but returns ${presents / 2}`);
  }
  return layout;
}
