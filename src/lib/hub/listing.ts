// A Hub repository's onnx/ listing (the tree API's JSON) as the precisions the page offers: every
// onnx/model*.onnx is a variant (named as the catalog names them, variants/info.ts), its size the
// file's plus its external data's (model*.onnx_data, and _data_1, _data_2... chunks), which also
// marks it as external data.

import { variantsFromFiles } from '../variants/info';
import { MANIFEST_PATH } from '../variants/manifest';
import type { VariantInfo } from '../variants/table';

/** One entry of the Hub's tree API answer. */
export interface TreeEntry {
  type: 'file' | 'directory';
  /** From the repository root, e.g. onnx/model_q4.onnx. */
  path: string;
  size: number;
}

/** The entries of a tree API answer, or undefined when it is not one (not a JSON array of entries). */
export function parseTree(json: unknown): TreeEntry[] | undefined {
  if (!Array.isArray(json)) return undefined;
  const out: TreeEntry[] = [];
  for (const e of json) {
    if (!e || typeof e !== 'object') return undefined;
    const { type, path, size } = e as Record<string, unknown>;
    if ((type !== 'file' && type !== 'directory') || typeof path !== 'string') return undefined;
    out.push({ type, path, size: typeof size === 'number' && size >= 0 ? size : 0 });
  }
  return out;
}

const MODEL_FILE = /^onnx\/model[^/]*\.onnx$/;
const DATA_FILE = /^(onnx\/model[^/]*\.onnx)_data(?:_\d+)?$/;

/** What a listing offers: the variants, or why there are none. */
export type ListingResult = { variants: VariantInfo[]; hasManifest: boolean } | { problem: string; detail: string };

/** Maps an onnx/ listing to variants, highest precision first; `manifest` (quantlab-manifest.json) labels them when given. */
export function variantsFromTree(id: string, entries: readonly TreeEntry[], manifest?: unknown): ListingResult {
  const files = entries.filter((e) => e.type === 'file');
  const models = files.filter((f) => MODEL_FILE.test(f.path));
  if (models.length === 0) {
    const other = files.filter((f) => f.path.endsWith('.onnx')).map((f) => f.path.slice('onnx/'.length));
    return {
      problem: `${id}'s onnx/ folder has no model*.onnx file${other.length ? ` (it has ${other.join(', ')})` : ''}`,
      detail:
        'QuantLab runs transformers.js decoder exports named onnx/model.onnx, model_q4.onnx and so on. Look for a transformers.js copy of this model (often under onnx-community/), or open its safetensors folder with "Open folder…" to convert it here.',
    };
  }
  // variantsFromFiles counts each variant's .onnx_data chunks and adds their bytes: the size shown is the whole download.
  const listed = files.filter((f) => MODEL_FILE.test(f.path) || DATA_FILE.test(f.path));
  return {
    variants: variantsFromFiles(
      listed.map((f) => ({ path: f.path, bytes: f.size })),
      manifest,
    ),
    hasManifest: files.some((f) => f.path === MANIFEST_PATH),
  };
}

/** Largest fp32 download picked by default: SmolLM2-135M's 654 MB passes, a 0.5B model's 2 GB does not. */
const DEFAULT_FP32_MAX_BYTES = 700e6;

/**
 * The columns picked when a listed repository is first opened: fp32 when it is small enough,
 * and the smallest single-file variant that needs no float16 support (runs on any device).
 */
export function defaultHubVariants(variants: readonly VariantInfo[]): string[] {
  const out: string[] = [];
  const fp32 = variants.find((v) => v.stem === 'model' && !v.externalData);
  if (fp32 && (fp32.bytes ?? Infinity) <= DEFAULT_FP32_MAX_BYTES) out.push(fp32.stem);
  const small = variants
    .filter((v) => v.stem !== 'model' && !v.externalData && !v.needsShaderF16)
    .sort((a, b) => (a.bytes ?? Infinity) - (b.bytes ?? Infinity))[0];
  if (small) out.push(small.stem);
  if (out.length === 0 && variants.length) out.push(variants.find((v) => !v.externalData)?.stem ?? variants[0].stem);
  return out;
}
