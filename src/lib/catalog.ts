// The one list of models the playground offers: Hub models (loaded by transformers.js from the
// Hugging Face Hub, with the ONNX files each repository really ships), the built-in models served
// by the app itself (the trained default and a random-weight test fixture), and the user's own
// models kept in browser storage.

import { refKey, type ModelRef } from './model/ref';
import { variantsFromFiles } from './variants/info';
import { variantFromStem, type VariantInfo } from './variants/table';

export interface CatalogModel {
  /** refKey(ref): "hub:<id>", "served:<id>", "local:<id>". */
  key: string;
  ref: ModelRef;
  name: string;
  description: string;
  /** Has a chat template: the chat toggle starts on. */
  instruct: boolean;
  /** Known ahead (Hub); served and local models list theirs from their folder at run time. */
  variants?: VariantInfo[];
  /** Stems selected when the model is first picked. */
  defaultVariants: string[];
  /** Characters per token its text averages, where known: the output box's first guess before a run of its own. */
  charsPerToken?: number;
}

const MB = 1e6;
const GB = 1e9;

/** A Hub model: `files` maps each onnx/ stem it ships to its approximate size in bytes; `external` lists those with one .onnx_data file. */
function hub(
  id: string,
  name: string,
  description: string,
  files: Record<string, number>,
  defaults: string[],
  external: string[] = [],
): CatalogModel {
  const ref: ModelRef = { kind: 'hub', id };
  const variants = Object.entries(files)
    .map(([stem, bytes]) => ({
      ...variantFromStem(stem, bytes),
      ...(external.includes(stem) ? { externalData: 1 } : {}),
    }))
    .sort((a, b) => a.rank - b.rank);
  return { key: refKey(ref), ref, name, description, instruct: true, variants, defaultVariants: defaults };
}

/*
 * File lists and sizes come from the repositories' onnx/ folder listings on the Hub as stored by
 * our reference search (2026-11); sizes are the Hub's rounded figures. Checked: SmolLM2-135M- and
 * 360M-Instruct (main: fp32, fp16, q4, q4f16 only), onnx-community/Qwen2.5-0.5B-Instruct (main,
 * commit 516c8d0: all eight dtypes, single files) and onnx-community/Llama-3.2-1B-Instruct (a
 * snapshot, commit c5b77c4; its fp32 and fp16 keep weights in .onnx_data files). NOT verified:
 * that Llama's main branch still matches that snapshot, and that every file loads in
 * transformers.js 4.3.1 (the Hub is unreachable from our test machines).
 */
export const HUB_MODELS: readonly CatalogModel[] = [
  hub(
    'HuggingFaceTB/SmolLM2-135M-Instruct',
    'SmolLM2 135M Instruct',
    '135M-parameter Llama; the smallest useful Hub model.',
    { model: 654 * MB, model_fp16: 327 * MB, model_q4: 200 * MB, model_q4f16: 134 * MB },
    ['model', 'model_q4'],
  ),
  hub(
    'HuggingFaceTB/SmolLM2-360M-Instruct',
    'SmolLM2 360M Instruct',
    '360M-parameter Llama.',
    { model: 1.64 * GB, model_fp16: 819 * MB, model_q4: 417 * MB, model_q4f16: 299 * MB },
    ['model_fp16', 'model_q4'],
  ),
  hub(
    'onnx-community/Qwen2.5-0.5B-Instruct',
    'Qwen2.5 0.5B Instruct',
    '494M-parameter Qwen2; ships every transformers.js dtype.',
    {
      model: 1.99 * GB,
      model_fp16: 997 * MB,
      model_quantized: 512 * MB,
      model_int8: 512 * MB,
      model_uint8: 512 * MB,
      model_q4: 786 * MB,
      model_q4f16: 483 * MB,
      model_bnb4: 764 * MB,
    },
    ['model_quantized', 'model_q4', 'model_bnb4'],
  ),
  hub(
    'onnx-community/Llama-3.2-1B-Instruct',
    'Llama 3.2 1B Instruct',
    '1.2B-parameter Llama; its fp32 and fp16 keep their weights in .onnx_data files.',
    {
      model: 4.94 * GB,
      model_fp16: 2.47 * GB,
      model_quantized: 1.24 * GB,
      model_int8: 1.24 * GB,
      model_uint8: 1.24 * GB,
      model_q4: 1.66 * GB,
      model_q4f16: 1.07 * GB,
      model_bnb4: 1.6 * GB,
    },
    ['model_q4f16', 'model_q4'],
    ['model', 'model_fp16'],
  ),
];

/** Listing of the served models' files, written by `npm run models` beside them. */
export const SERVED_INDEX_PATH = 'models/index.json';

/**
 * The trained built-in model: models/aidreams260K (a llama2.c checkpoint vendored in the
 * repository, see its SOURCE.md), converted into the app's models/ folder with every precision by
 * `npm run models`.
 */
export const BUILTIN_MODEL_ID = 'aidreams260K';

/** A model this site serves from its models/ folder; its variants are read from the served index at run time. */
function served(
  id: string,
  name: string,
  description: string,
  defaults: string[],
  charsPerToken?: number,
): CatalogModel {
  const ref: ModelRef = { kind: 'served', id };
  return {
    key: refKey(ref),
    ref,
    name,
    description,
    instruct: false,
    defaultVariants: defaults,
    ...(charsPerToken ? { charsPerToken } : {}),
  };
}

export const BUILTIN_MODEL: CatalogModel = served(
  BUILTIN_MODEL_ID,
  'aidreams260K (built-in, trained)',
  'A 0.23M-parameter Llama trained on about 2,000 machine-written dream texts (MIT licence, from ai-dreamer-esp32-s3_matrix), served by this site so it works offline. It writes short dream-like English ("I dreamed, as I sense the nodes, a gentle hum of probability."), so you can read where each precision drifts. 128 positions: the prompt and the new tokens share them.',
  ['model', 'model_quantized', 'model_q4'],
  // Its 512-token vocabulary splits English into short pieces: about 2 characters a token, not 4.
  2,
);

/** The random-weight fixture (made by `quantlab tiny`): for shape and speed tests, not for reading. */
export const TINY_MODEL_ID = 'quantlab-tiny';

export const TINY_MODEL: CatalogModel = served(
  TINY_MODEL_ID,
  'QuantLab tiny (random weights: shape and speed tests only)',
  'A 0.9M-parameter Llama with random weights, served by this site for shape and speed tests: it writes unreadable bytes, not text. For readable output use aidreams260K.',
  ['model'],
);

/** The models this site serves itself (offline), the trained one first. */
export const SERVED_MODELS: readonly CatalogModel[] = [BUILTIN_MODEL, TINY_MODEL];

/** The model the page starts with on a first visit: the trained built-in model, which works offline. */
export const DEFAULT_MODEL_KEY = BUILTIN_MODEL.key;

/** The catalog's characters-per-token hint for a model (undefined: none known, use the default). */
export function charsPerTokenHint(ref: ModelRef): number | undefined {
  const key = refKey(ref);
  return [...SERVED_MODELS, ...HUB_MODELS].find((m) => m.key === key)?.charsPerToken;
}

/** A model the user opened from disk, kept in browser storage. */
export function userModelEntry(
  info: { id: string; name: string; source: string; files: { path: string; bytes: number }[] },
  manifest?: unknown,
): CatalogModel {
  const ref: ModelRef = { kind: 'local', id: info.id };
  const variants = variantsFromFiles(info.files, manifest);
  return {
    key: refKey(ref),
    ref,
    name: info.name,
    description: `Opened from disk (${info.source}); kept in this browser only.`,
    instruct: false,
    variants,
    defaultVariants: variants.length ? [variants[0].stem] : [],
  };
}

/** Shape of models/index.json: each served model's files (paths relative to its folder). */
export interface ServedIndex {
  models: { id: string; files: { path: string; bytes: number }[] }[];
}
