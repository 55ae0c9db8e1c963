// What the commands share about a model folder on disk: writing one (import, tiny), checking one
// is there with the variant files asked for (eval, sweep, bench), and loading its precisions in
// runners (eval, sweep).

import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { QuantlabError } from '../lib/errors';
import { buildModelFolder, type DecoderSource } from '../lib/model/folder';
import type { GraphForm } from '../lib/model/fused-ops';
import type { ExternalDataOptions } from '../lib/onnx/external-data';
import type { FlagSpecs } from './args';
import { runnerEvalModel, type LabeledModel } from '../lib/eval/model';
import { Runner } from '../lib/runner/runner';
import { FP32_STEM, stemOfArg } from '../lib/variants/table';
import { writeFolderAtomic } from '../node/files';
import { configureNodeTransformers } from '../node/transformers-env';

/** The flags of the commands that write ONNX files (import, tiny, quantize): where the weights go. */
export const EXTERNAL_DATA_FLAGS = {
  'external-data': { type: 'boolean' },
  'data-chunk-bytes': { type: 'int', min: 1 },
} as const satisfies FlagSpecs;

export const EXTERNAL_DATA_HELP = `  --external-data       keep the weights in <file>.onnx_data beside each .onnx (default: only
                        for a file past protobuf's 2 GB limit)
  --data-chunk-bytes N  start a new data file (<file>.onnx_data_1, _2, ...) past N bytes
                        (implies --external-data)`;

/** import and tiny: which decoder graph to write (src/lib/model/fused-ops.ts). */
export const GRAPH_FLAGS = { fused: { type: 'boolean' } } as const satisfies FlagSpecs;
export const GRAPH_HELP = `  --fused               write the graph with ONNX Runtime's fused contrib ops (GroupQueryAttention,
                        RotaryEmbedding, SimplifiedLayerNormalization and its Skip form) instead of
                        standard ops: same weights and I/O`;

/** What the external-data flags ask of the ONNX writer. */
export function externalDataOptions(v: {
  'external-data'?: boolean;
  'data-chunk-bytes'?: number;
}): ExternalDataOptions | undefined {
  const chunk = v['data-chunk-bytes'];
  if (!v['external-data'] && chunk === undefined) return undefined;
  return { maxModelBytes: 0, ...(chunk !== undefined ? { maxChunkBytes: chunk } : {}) };
}

/** Builds and writes a model folder atomically; returns the files' total bytes. */
export async function writeSource(
  src: DecoderSource,
  out: string,
  overwrite: boolean,
  log: (s: string) => void,
  write?: ExternalDataOptions,
  form: GraphForm = 'unfused',
): Promise<number> {
  for (const w of src.warnings ?? []) console.error(`warning: ${w}`);
  const files = await buildModelFolder(src, { onProgress: (p) => 'message' in p && log(p.message), write, form });
  await writeFolderAtomic(resolve(out), files, { overwrite });
  return [...files.values()].reduce((a, f) => a + f.byteLength, 0);
}

export interface ModelFolder {
  /** The folder as an absolute path. */
  dir: string;
  /** max_position_embeddings from config.json, if present. */
  maxPositions?: number;
}

/** The folder named on the command line, refused unless it has a config.json. */
export function readModelFolder(dirArg: string): ModelFolder {
  const dir = resolve(dirArg);
  if (!existsSync(join(dir, 'config.json'))) {
    throw new QuantlabError(
      'bad-argument',
      `${dirArg} is not a model folder (no config.json)`,
      "Create one with 'quantlab import' or 'quantlab tiny'.",
    );
  }
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { max_position_embeddings?: number };
  return { dir, maxPositions: config.max_position_embeddings };
}

/** Refuses precisions whose onnx/<stem>.onnx is missing, naming each file and the command that makes them. */
export function requireVariants(dirArg: string, dtypes: string[], stems: string[]): void {
  const dir = resolve(dirArg);
  const missing = dtypes.filter((_, i) => !existsSync(join(dir, 'onnx', `${stems[i]}.onnx`)));
  if (missing.length === 0) return;
  const files = missing.map((d) => `onnx/${stems[dtypes.indexOf(d)]}.onnx (${d})`).join(', ');
  throw new QuantlabError(
    'bad-argument',
    `${dirArg} has no ${files}`,
    `Create ${missing.length > 1 ? 'them' : 'it'} with 'quantlab quantize ${dirArg} --dtype ${missing.join(',')}' ('quantlab quantize --help' lists the dtypes), or leave ${missing.join(', ')} out of --dtypes.`,
  );
}

/**
 * The file stem a precision argument names in a folder: a precision name (q4 -> model_q4), a stem
 * starting with 'model', a stem written with --name (onnx/<arg>.onnx exists), else model_<arg>.
 */
export function variantStem(dir: string, arg: string): string {
  return stemOfArg(arg) ?? (existsSync(join(resolve(dir), 'onnx', `${arg}.onnx`)) ? arg : `${FP32_STEM}_${arg}`);
}

export interface LoadedModels {
  models: LabeledModel[];
  runners: Runner[];
  baseline: string;
  /** max_position_embeddings from config.json, if present. */
  maxPositions?: number;
}

/** Checks the folder has every requested precision, then loads each in its own Runner. */
export async function loadPrecisions(
  dirArg: string,
  dtypes: string[],
  baselineArg: string | undefined,
): Promise<LoadedModels> {
  const { dir, maxPositions } = readModelFolder(dirArg);
  // A precision name or a file stem; any other name is looked for as model_<name> (and reported missing).
  const stems = dtypes.map((d) => variantStem(dir, d));
  requireVariants(dirArg, dtypes, stems);
  const baseline = baselineArg === undefined ? (dtypes.includes('fp32') ? 'fp32' : dtypes[0]) : baselineArg;
  if (!dtypes.includes(baseline)) {
    throw new QuantlabError(
      'bad-argument',
      `Baseline "${baseline}" is not among --dtypes (${dtypes.join(', ')})`,
      `Add it to --dtypes or pick one of those with --baseline.`,
    );
  }
  configureNodeTransformers({ allowRemote: false });
  const runners: Runner[] = [];
  const models: LabeledModel[] = [];
  try {
    for (let i = 0; i < dtypes.length; i++) {
      const r = new Runner();
      runners.push(r);
      await r.load({ modelId: dir, variant: stems[i], device: 'cpu' });
      models.push({ label: dtypes[i], model: runnerEvalModel(r) });
    }
  } catch (err) {
    await Promise.all(runners.map((r) => r.dispose()));
    throw err;
  }
  return { models, runners, baseline, maxPositions };
}
