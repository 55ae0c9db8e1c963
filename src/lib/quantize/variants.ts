// The variant table: which dtypes exist, their options and defaults, the file each is written to
// (transformers.js's names where it has one, descriptive names otherwise), and the manifest
// (quantlab-manifest.json) that records every file's format beside them.

import { QuantlabError } from '../errors';

/** Every precision the quantizer produces. */
export const DTYPES = ['fp16', 'bf16', 'q8', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4'] as const;
export type Dtype = (typeof DTYPES)[number];

export interface QuantizeOptions {
  dtype: Dtype;
  /** MatMulNBits bits for q4 / q4f16 (4 by default; 8 = weight-only 8-bit). */
  bits?: 4 | 8;
  /** Weights per block: q4/q4f16 default 32, bnb4 default 64; a power of two in 16..256. */
  blockSize?: number;
  /** q4/q4f16: implicit zero point (default) or a stored zero point per block. */
  symmetric?: boolean;
  /** bnb4 code: 'nf4' (default) or 'fp4'. */
  quantType?: 'nf4' | 'fp4';
  /** bnb4: quantize the absmax scales again (8-bit dynamic code, blocks of 256). */
  doubleQuant?: boolean;
  /** q8/int8/uint8: one scale per output column instead of one per tensor. */
  perChannel?: boolean;
  /** Keep the lm_head in full precision, as transformers.js exports do (default true). */
  keepLmHead?: boolean;
  /** More node or initializer names to keep in full precision. */
  keep?: string[];
}

export type ResolvedOptions = Required<QuantizeOptions>;

export const BLOCK_SIZES = [16, 32, 64, 128, 256];

/** transformers.js's dtype names, for the files it can load with `{ dtype }`. */
const TRANSFORMERS_FILE: Partial<Record<Dtype, string>> = {
  fp16: 'model_fp16', q8: 'model_quantized', int8: 'model_int8', uint8: 'model_uint8', q4: 'model_q4', q4f16: 'model_q4f16', bnb4: 'model_bnb4',
};

/** Fills in defaults and validates; a bad option gets a 'bad-argument' error naming the valid values. */
export function resolveOptions(o: QuantizeOptions): ResolvedOptions {
  if (!DTYPES.includes(o.dtype)) {
    throw new QuantlabError('bad-argument', `Unknown dtype "${String(o.dtype)}"`, `Valid dtypes: ${DTYPES.join(', ')}.`);
  }
  const bits = o.bits ?? 4;
  if (bits !== 4 && bits !== 8) {
    throw new QuantlabError('bad-argument', `Unsupported bits ${String(bits)}`, 'MatMulNBits variants take --bits 4 or 8.');
  }
  const blockSize = o.blockSize ?? (o.dtype === 'bnb4' ? 64 : 32);
  if (!Number.isInteger(blockSize) || !BLOCK_SIZES.includes(blockSize)) {
    throw new QuantlabError(
      'bad-argument',
      `Block size ${String(blockSize)} is not a power of two between 16 and 256`,
      `Use one of ${BLOCK_SIZES.join(', ')}.`,
    );
  }
  const quantType = o.quantType ?? 'nf4';
  if (quantType !== 'nf4' && quantType !== 'fp4') {
    throw new QuantlabError('bad-argument', `Unknown bnb4 quant type "${String(quantType)}"`, 'Valid quant types: nf4, fp4.');
  }
  return {
    dtype: o.dtype,
    bits,
    blockSize,
    symmetric: o.symmetric ?? true,
    quantType,
    doubleQuant: o.doubleQuant ?? false,
    perChannel: o.perChannel ?? false,
    keepLmHead: o.keepLmHead ?? true,
    keep: [...(o.keep ?? [])].sort(),
  };
}

function shortHash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(36);
}

/** File name (no directory) of a variant: transformers.js's name for default options, else descriptive. */
export function variantFileName(opts: QuantizeOptions): string {
  const o = resolveOptions(opts);
  let name: string;
  const parts: string[] = [];
  switch (o.dtype) {
    case 'q4':
    case 'q4f16': {
      const f16 = o.dtype === 'q4f16' ? 'f16' : '';
      name = o.bits === 4 ? `model_q4${f16}` : `model_q8${f16}nbits`;
      if (o.blockSize !== 32) parts.push(`b${o.blockSize}`);
      if (!o.symmetric) parts.push('asym');
      break;
    }
    case 'bnb4':
      name = 'model_bnb4';
      if (o.quantType !== 'nf4' || o.doubleQuant) parts.push(o.quantType);
      if (o.blockSize !== 64) parts.push(`b${o.blockSize}`);
      if (o.doubleQuant) parts.push('dq');
      break;
    case 'q8':
    case 'int8':
    case 'uint8':
      name = TRANSFORMERS_FILE[o.dtype]!;
      if (o.perChannel) parts.push('pc');
      break;
    default:
      name = TRANSFORMERS_FILE[o.dtype] ?? `model_${o.dtype}`;
  }
  if (!o.keepLmHead && o.dtype !== 'fp16' && o.dtype !== 'bf16') parts.push('qhead');
  if (o.keep.length > 0) parts.push(`keep${shortHash(o.keep.join('\n'))}`);
  return `${[name, ...parts].join('_')}.onnx`;
}

/** The transformers.js dtype that loads this file by name, if the file has a transformers.js name. */
export function transformersDtype(fileName: string): Dtype | undefined {
  const stem = fileName.replace(/\.onnx$/, '');
  const hit = Object.entries(TRANSFORMERS_FILE).find(([, f]) => f === stem);
  return hit ? (hit[0] as Dtype) : undefined;
}

/** One line describing a variant's storage format. */
export function describeFormat(o: ResolvedOptions): string {
  switch (o.dtype) {
    case 'fp16': return 'float16 weights and compute (softmax and RMSNorm statistics in float32)';
    case 'bf16': return 'weights rounded to bfloat16, stored and computed as float32';
    case 'q8': case 'uint8': return `DynamicQuantizeLinear + MatMulInteger, uint8 weights ${o.perChannel ? 'per column' : 'per tensor'}`;
    case 'int8': return `DynamicQuantizeLinear + MatMulInteger, int8 weights in [-64, 64] ${o.perChannel ? 'per column' : 'per tensor'}`;
    case 'q4': case 'q4f16':
      return `MatMulNBits ${o.bits}-bit, block ${o.blockSize}, ${o.symmetric ? 'symmetric' : 'asymmetric'}, ${o.dtype === 'q4f16' ? 'float16 scales and activations' : 'float32 scales'}`;
    case 'bnb4':
      return `MatMulBnb4 ${o.quantType}, block ${o.blockSize}${o.doubleQuant ? ', double-quantized absmax (8-bit dynamic code, blocks of 256)' : ''}`;
  }
}

export const MANIFEST_FILE = 'quantlab-manifest.json';

/** One file of the manifest. */
export interface ManifestEntry {
  file: string;
  /** transformers.js dtype that loads it by name, when it has a transformers.js file name. */
  transformersDtype?: Dtype;
  format: string;
  options: ResolvedOptions;
  bytes: number;
  bitsPerWeight: number;
  bitsPerWeightQuantized: number;
}

/** quantlab-manifest.json, written beside the variant files in onnx/. */
export interface QuantlabManifest {
  version: 1;
  source: string;
  variants: ManifestEntry[];
}

/** Adds or replaces (by file name) an entry of a manifest, keeping entries sorted by file. */
export function upsertManifest(m: QuantlabManifest | undefined, entry: ManifestEntry, source = 'model.onnx'): QuantlabManifest {
  const variants = (m?.variants ?? []).filter((e) => e.file !== entry.file);
  variants.push(entry);
  variants.sort((a, b) => a.file.localeCompare(b.file));
  return { version: 1, source: m?.source ?? source, variants };
}
