// Assembles the files of a transformers.js model folder (configs, tokenizer, onnx/model.onnx)
// from a decoder's config, weights and tokenizer, as an in-memory map any writer can persist.

import { encodeModelFiles, type ExternalDataOptions } from '../onnx/external-data';
import { throwIfAborted } from '../errors';
import { toGenerationConfig, toHfConfig, type DecoderConfig, type WeightMap } from './config';
import { buildDecoderGraph } from './llama-graph';
import type { GraphForm } from './fused-ops';
import { FP32_PATH, FP32_STEM } from '../variants/table';

/** Relative path -> file bytes. */
export type ModelFiles = Map<string, Uint8Array>;

export interface DecoderSource {
  config: DecoderConfig;
  weights: WeightMap;
  tokenizerJson: object;
  tokenizerConfig?: object;
  generationConfig?: object;
  /** Things the user should know about the conversion (e.g. tokenizer score ties). */
  warnings?: string[];
}

export type BuildProgress =
  { status: 'build'; message: string } | { status: 'encode'; message: string } | { status: 'done'; bytes: number };

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v, null, 2) + '\n');

/**
 * Builds the fp32 ONNX graph and every file transformers.js reads for it; `write` says when its
 * weights go to onnx/model.onnx_data (default: only past protobuf's 2 GB limit).
 */
export async function buildModelFolder(
  src: DecoderSource,
  hooks: {
    onProgress?: (p: BuildProgress) => void;
    signal?: AbortSignal;
    write?: ExternalDataOptions;
    /** The unfused graph (standard ops, default) or the fused one (ONNX Runtime contrib ops). */
    form?: GraphForm;
  } = {},
): Promise<ModelFiles> {
  const { onProgress, signal } = hooks;
  throwIfAborted(signal);
  onProgress?.({ status: 'build', message: `Building the ONNX graph (${src.config.numLayers} layers)` });
  await yieldToEventLoop();
  const model = buildDecoderGraph(src.config, src.weights, hooks.form);
  throwIfAborted(signal);
  onProgress?.({ status: 'encode', message: `Writing ${FP32_PATH}` });
  await yieldToEventLoop();
  const onnx = encodeModelFiles(model, FP32_STEM, hooks.write);
  throwIfAborted(signal);
  const files: ModelFiles = new Map();
  files.set('config.json', json(toHfConfig(src.config)));
  files.set(
    'generation_config.json',
    json({ ...toGenerationConfig(src.config), ...(src.generationConfig ?? {}), ...eosOverride(src.config) }),
  );
  files.set('tokenizer.json', json(src.tokenizerJson));
  if (src.tokenizerConfig) files.set('tokenizer_config.json', json(src.tokenizerConfig));
  for (const [name, bytes] of onnx) files.set(`onnx/${name}`, bytes);
  onProgress?.({ status: 'done', bytes: [...files.values()].reduce((a, f) => a + f.byteLength, 0) });
  return files;
}

/** Our stop tokens win over a source generation_config's (they were derived from it or from the format). */
function eosOverride(c: DecoderConfig): Record<string, unknown> {
  return { eos_token_id: c.eosTokenIds.length === 1 ? c.eosTokenIds[0] : c.eosTokenIds };
}

/** Lets a worker see cancel messages and a UI repaint between long synchronous steps. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
