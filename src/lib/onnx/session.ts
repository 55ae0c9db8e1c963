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
