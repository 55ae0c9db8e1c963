// Reads a Hugging Face Llama-family model folder (config.json, safetensors weights, single file or
// sharded, tokenizer files) into a DecoderConfig and float32 WeightMap in Hugging Face layout.

import { QuantlabError, throwIfAborted, type ErrorCode } from '../errors';
import { checkWeights, expectedWeights, fromHfConfig, type DecoderConfig, type WeightMap } from '../model/config';
import { parseSafetensors, toFloat32 } from './safetensors';

/** Reads one file of the folder by relative path; resolves undefined when the file does not exist. */
export type FolderReader = (relPath: string) => Promise<Uint8Array | undefined>;

/** Progress of the weight conversion: `loaded` of `total` needed tensors are done, the last from `file`. */
export interface HfImportProgress {
  file: string;
  loaded: number;
  total: number;
}

export interface HfImportOptions {
  signal?: AbortSignal;
  onProgress?: (p: HfImportProgress) => void;
}

export interface HfImport {
  config: DecoderConfig;
  weights: WeightMap;
  tokenizerJson: object;
  tokenizerConfig?: object;
  generationConfig?: object;
  /** dtype of the weights as stored ('F32', 'F16', 'BF16', or e.g. 'BF16+F32' when mixed). */
  sourceDtype: string;
}

const SINGLE = 'model.safetensors';
const INDEX = 'model.safetensors.index.json';
const YIELD_MS = 50;

function parseJson(bytes: Uint8Array, file: string, code: ErrorCode): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new QuantlabError(code, `${file} is not valid JSON (${(e as Error).message})`, `Download ${file} again.`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new QuantlabError(code, `${file} is not a JSON object`);
  return v as Record<string, unknown>;
}

async function readOptionalJson(read: FolderReader, file: string, code: ErrorCode): Promise<object | undefined> {
  const bytes = await read(file);
  return bytes ? parseJson(bytes, file, code) : undefined;
}

/** Shard names come from a JSON file: keep them inside the folder. */
function checkShardName(file: unknown, tensor: string): string {
  if (
    typeof file !== 'string' ||
    !file ||
    file.startsWith('/') ||
    file.includes('\\') ||
    file.split('/').some((s) => s === '..' || s === '')
  ) {
    throw new QuantlabError(
      'bad-checkpoint',
      `${INDEX} maps ${tensor} to an invalid file name ${JSON.stringify(file)}`,
    );
  }
  return file;
}

/** Which file holds each needed tensor: the index for sharded checkpoints, else the single file. */
async function planFiles(
  read: FolderReader,
  needed: string[],
): Promise<{ plan: Map<string, string[]>; single?: Uint8Array }> {
  const single = await read(SINGLE);
  if (single) return { plan: new Map([[SINGLE, needed]]), single };
  const indexBytes = await read(INDEX);
  if (!indexBytes) {
    throw new QuantlabError(
      'bad-checkpoint',
      `The folder has neither ${SINGLE} nor ${INDEX}: QuantLab reads safetensors weights`,
      'Pick a Hugging Face model folder with .safetensors weights (pytorch_model.bin is not read).',
    );
  }
  const index = parseJson(indexBytes, INDEX, 'bad-checkpoint');
  const map = index.weight_map;
  if (!map || typeof map !== 'object' || Array.isArray(map)) {
    throw new QuantlabError('bad-checkpoint', `${INDEX} has no "weight_map" object`, `Download ${INDEX} again.`);
  }
  const plan = new Map<string, string[]>();
  for (const name of needed) {
    if (!(name in map)) continue; // reported with every other missing tensor by checkWeights
    const file = checkShardName((map as Record<string, unknown>)[name], name);
    const list = plan.get(file);
    if (list) list.push(name);
    else plan.set(file, [name]);
  }
  return { plan };
}

/**
 * Imports a Hugging Face llama/qwen2 folder through `read`. Keeps only the tensors the decoder
 * needs, converted to float32 in Hugging Face layout, and checks them against config.json.
 * Errors: 'bad-checkpoint' (missing config.json / weights, malformed files), 'bad-tokenizer'
 * (no tokenizer.json), 'unsupported-model', 'missing-tensor', 'cancelled'.
 */
export async function importHfFolder(read: FolderReader, opts: HfImportOptions = {}): Promise<HfImport> {
  const { signal, onProgress } = opts;
  throwIfAborted(signal);
  const configBytes = await read('config.json');
  if (!configBytes) {
    throw new QuantlabError(
      'bad-checkpoint',
      'The folder has no config.json: a Hugging Face model folder needs config.json',
      'Pick the folder that holds config.json, tokenizer.json and the .safetensors weights.',
    );
  }
  const config = fromHfConfig(parseJson(configBytes, 'config.json', 'bad-config'));
  throwIfAborted(signal);
  const tokenizerBytes = await read('tokenizer.json');
  if (!tokenizerBytes) {
    throw new QuantlabError(
      'bad-tokenizer',
      'The folder has no tokenizer.json: QuantLab needs tokenizer.json beside config.json',
      'Add the model\'s tokenizer.json (the "fast" tokenizer file from the Hub) to the folder.',
    );
  }
  const tokenizerJson = parseJson(tokenizerBytes, 'tokenizer.json', 'bad-tokenizer');
  const tokenizerConfig = await readOptionalJson(read, 'tokenizer_config.json', 'bad-tokenizer');
  const generationConfig = await readOptionalJson(read, 'generation_config.json', 'bad-config');
  throwIfAborted(signal);

  const needed = [...expectedWeights(config).keys()];
  const { plan, single } = await planFiles(read, needed);
  const weights: WeightMap = new Map();
  const dtypes: string[] = [];
  let lastYield = Date.now();
  for (const [file, names] of plan) {
    throwIfAborted(signal);
    const bytes = file === SINGLE && single ? single : await read(file);
    if (!bytes) {
      throw new QuantlabError(
        'bad-checkpoint',
        `${INDEX} lists ${file}, but the folder has no such file`,
        'Download every shard of the model.',
      );
    }
    const entries = parseSafetensors(bytes, file);
    for (const name of names) {
      throwIfAborted(signal);
      const entry = entries.get(name);
      if (!entry) {
        if (file === SINGLE) continue; // checkWeights names it
        throw new QuantlabError('bad-checkpoint', `${INDEX} puts ${name} in ${file}, but ${file} has no such tensor`);
      }
      weights.set(name, { shape: entry.shape, data: toFloat32(entry, name) });
      if (!dtypes.includes(entry.dtype)) dtypes.push(entry.dtype);
      onProgress?.({ file, loaded: weights.size, total: needed.length });
      if (Date.now() - lastYield > YIELD_MS) {
        await new Promise((r) => setTimeout(r, 0)); // let a cancel arrive during long conversions
        lastYield = Date.now();
      }
    }
  }
  checkWeights(config, weights);
  return {
    config,
    weights,
    tokenizerJson,
    ...(tokenizerConfig ? { tokenizerConfig } : {}),
    ...(generationConfig ? { generationConfig } : {}),
    sourceDtype: dtypes.join('+'),
  };
}
