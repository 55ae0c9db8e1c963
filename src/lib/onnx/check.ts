// The door check for ONNX files the user brings: the bytes must parse as an ONNX model and the
// graph must have the decoder I/O the runner feeds (see kvCacheLayout in session.ts and the graph
// llama-graph.ts builds). Messages name the file and say what is wrong in words.

import { checkExternalData, dataFileName, externalDataFiles } from './external-data';
import { decodeModel, valueInfoShape, type ModelProto, type ValueInfoProto } from './proto';
import { listNames, notADecoder } from './session';
import { QuantlabError } from '../errors';

/** What the check learnt about a decoder graph. */
export interface DecoderModelInfo {
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  hasPositionIds: boolean;
}

/** Checks past_key_values.<i>.key|value (inputs) or present.<i>.key|value (outputs): layers 0..L-1, both halves. */
function kvLayers(values: ValueInfoProto[], prefix: string, fileName: string, where: string): ValueInfoProto[] {
  const pattern = new RegExp(`^${prefix.replace('.', '\\.')}(\\d+)\\.(key|value)$`);
  const byLayer = new Map<number, Set<string>>();
  const keys: ValueInfoProto[] = [];
  for (const v of values) {
    const m = pattern.exec(v.name);
    if (!m) continue;
    const layer = Number(m[1]);
    if (!byLayer.has(layer)) byLayer.set(layer, new Set());
    byLayer.get(layer)!.add(m[2]);
    if (m[2] === 'key') keys[layer] = v;
  }
  if (byLayer.size === 0) {
    throw notADecoder(fileName, `its graph has no ${prefix}<layer>.key / .value ${where} (a KV cache)`);
  }
  for (let l = 0; l < byLayer.size; l++) {
    const halves = byLayer.get(l);
    if (!halves)
      throw notADecoder(fileName, `its ${where} skip ${prefix}${l}.key / .value (layers must be numbered from 0)`);
    for (const half of ['key', 'value'])
      if (!halves.has(half)) throw notADecoder(fileName, `its ${where} have no ${prefix}${l}.${half}`);
  }
  return keys;
}

/** The checks on a parsed model; `checkDecoderModel` parses first. */
export function checkDecoderGraph(model: ModelProto, fileName: string): DecoderModelInfo {
  const graph = model.graph;
  if (!graph) throw notADecoder(fileName, 'it has no graph');
  const inputs = graph.input;
  const outputs = graph.output;
  const inputNames = inputs.map((v) => v.name);
  const outputNames = outputs.map((v) => v.name);
  for (const name of ['input_ids', 'attention_mask']) {
    if (!inputNames.includes(name))
      throw notADecoder(fileName, `its graph has no ${name} input (its inputs are: ${listNames(inputNames)})`);
  }
  if (!outputNames.includes('logits'))
    throw notADecoder(fileName, `its graph has no logits output (its outputs are: ${listNames(outputNames)})`);
  const pastKeys = kvLayers(inputs, 'past_key_values.', fileName, 'inputs');
  const presentKeys = kvLayers(outputs, 'present.', fileName, 'outputs');
  if (pastKeys.length !== presentKeys.length) {
    throw notADecoder(
      fileName,
      `it takes a KV cache of ${pastKeys.length} layers but returns one of ${presentKeys.length} (past_key_values.* and present.* must match)`,
    );
  }
  const shape = valueInfoShape(pastKeys[0]);
  const [, heads, , headDim] = shape?.dims ?? [];
  if (!shape || shape.dims.length !== 4 || typeof heads !== 'number' || typeof headDim !== 'number') {
    throw notADecoder(
      fileName,
      `past_key_values.0.key must be [batch, kv_heads, past, head_dim] with fixed kv_heads and head_dim (it is [${(shape?.dims ?? []).join(', ')}])`,
    );
  }
  return {
    numLayers: pastKeys.length,
    numKvHeads: heads,
    headDim,
    hasPositionIds: inputNames.includes('position_ids'),
  };
}

/**
 * A model with external data must name the files transformers.js fetches beside it
 * (<name>.onnx_data, then _1, _2, ...), and they must be among `beside` (file name -> bytes) and
 * long enough for the tensors read from them.
 */
export function checkDataFiles(model: ModelProto, fileName: string, beside: ReadonlyMap<string, number>): void {
  const names = externalDataFiles(model, fileName);
  if (names.length === 0) return;
  const base = fileName.split('/').pop()!;
  const expected = names.map((_, i) => dataFileName(base, i));
  const odd = names.find((n) => !expected.includes(n));
  if (odd) {
    throw new QuantlabError(
      'bad-onnx',
      `${fileName} keeps weights in ${odd}, a file transformers.js does not load: it fetches only ${expected.join(', ')} beside ${base}.`,
      `Save the model again with its external data in ${expected[0]}${names.length > 1 ? ' (and numbered chunks)' : ''}.`,
    );
  }
  checkExternalData(model, beside, fileName);
}

/**
 * Parses an ONNX file and checks it is a decoder with the I/O the runner feeds: input_ids,
 * attention_mask, (position_ids), past_key_values.<i>.key|value in; logits, present.<i>.key|value
 * out; and, when its weights are external, that its data files are in `beside` (checkDataFiles).
 * Throws a 'bad-onnx' QuantlabError that names `fileName` and the problem.
 */
export function checkDecoderModel(
  bytes: Uint8Array,
  fileName: string,
  beside: ReadonlyMap<string, number> = new Map(),
): DecoderModelInfo {
  if (bytes.byteLength === 0) throw notADecoder(fileName, 'the file is empty');
  const model = decodeModel(bytes, fileName);
  const info = checkDecoderGraph(model, fileName);
  checkDataFiles(model, fileName, beside);
  return info;
}
