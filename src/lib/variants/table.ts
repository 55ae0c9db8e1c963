// The variant table: every kind of ONNX file a model folder can hold under onnx/, its file stem
// (transformers.js's name where it has one), label, nominal bits and device needs. Both directions
// go through it: options -> file name (the quantizer) and file name -> variant (runner, page, CLI).

import { dataFileName } from '../onnx/external-data';
import { METHODS, resolveOptions, type Dtype, type Method, type QuantizeOptions } from './options';

/** The full-precision file every other variant is quantized from: onnx/model.onnx. */
export const FP32_STEM = 'model';
/** Its path inside a model folder. */
export const FP32_PATH = `onnx/${FP32_STEM}.onnx`;

interface VariantKind {
  /** File stem with default options; the quantizer's name parts follow it after '_'. */
  base: string;
  /** The precision name that writes this kind with default options (none: only reached by --bits 8). */
  dtype?: 'fp32' | Dtype;
  /** transformers.js loads the file by `{ dtype }` (its own file name). */
  transformers: boolean;
  label: string;
  format: string;
  bits: number;
  /** Computes in float16: WebGPU needs the shader-f16 feature. */
  f16: boolean;
  /** DynamicQuantizeLinear + MatMulInteger. */
  integer: boolean;
  /** Said after the label: how the levels are stored when the runtime has no kernel for their width. */
  note?: string;
}

/** MatMulNBits kinds below 4 bits: 3-bit levels go into 4-bit storage (no 3-bit kernel), 2-bit ones run as they are. */
const LOW_BIT_KINDS: readonly VariantKind[] = [3, 2].flatMap((bits) =>
  [true, false].map((f16) => ({
    base: `model_q${bits}${f16 ? 'f16' : ''}nbits`,
    transformers: false,
    label: `q${bits}${f16 ? 'f16' : ''}`,
    format: `MatMulNBits ${bits === 3 ? '3-bit levels in 4-bit storage' : '2-bit'}, ${f16 ? 'float16 scales and activations' : 'float32 scales'}`,
    bits,
    f16,
    integer: false,
    ...(bits === 3 ? { note: '(3-bit levels, 4-bit storage)' } : {}),
  })),
);

// Longest first, so model_q4f16 is not read as model_q4 + "f16".
const KINDS: readonly VariantKind[] = [
  ...LOW_BIT_KINDS,
  {
    base: 'model_q8f16nbits',
    transformers: false,
    label: 'q8f16 nbits',
    format: 'MatMulNBits 8-bit, float16 scales and activations',
    bits: 8,
    f16: true,
    integer: false,
  },
  {
    base: 'model_q8nbits',
    transformers: false,
    label: 'q8 nbits',
    format: 'MatMulNBits 8-bit, float32 scales',
    bits: 8,
    f16: false,
    integer: false,
  },
  {
    base: 'model_quantized',
    dtype: 'q8',
    transformers: true,
    label: 'q8',
    format: 'DynamicQuantizeLinear + MatMulInteger, 8-bit weights',
    bits: 8,
    f16: false,
    integer: true,
  },
  {
    base: 'model_q4f16',
    dtype: 'q4f16',
    transformers: true,
    label: 'q4f16',
    format: 'MatMulNBits 4-bit, float16 scales and activations',
    bits: 4,
    f16: true,
    integer: false,
  },
  {
    base: 'model_uint8',
    dtype: 'uint8',
    transformers: true,
    label: 'uint8',
    format: 'DynamicQuantizeLinear + MatMulInteger, uint8 weights',
    bits: 8,
    f16: false,
    integer: true,
  },
  {
    base: 'model_int8',
    dtype: 'int8',
    transformers: true,
    label: 'int8',
    format: 'DynamicQuantizeLinear + MatMulInteger, int8 weights',
    bits: 8,
    f16: false,
    integer: true,
  },
  {
    base: 'model_bnb4',
    dtype: 'bnb4',
    transformers: true,
    label: 'bnb4',
    format: 'MatMulBnb4 (NF4 unless named fp4)',
    bits: 4,
    f16: false,
    integer: false,
  },
  {
    base: 'model_fp16',
    dtype: 'fp16',
    transformers: true,
    label: 'fp16',
    format: 'float16 weights and compute',
    bits: 16,
    f16: true,
    integer: false,
  },
  {
    base: 'model_bf16',
    dtype: 'bf16',
    transformers: false,
    label: 'bf16',
    format: 'weights rounded to bfloat16, computed in float32',
    bits: 16,
    f16: false,
    integer: false,
  },
  {
    base: 'model_q4',
    dtype: 'q4',
    transformers: true,
    label: 'q4',
    format: 'MatMulNBits 4-bit, float32 scales',
    bits: 4,
    f16: false,
    integer: false,
  },
  {
    base: FP32_STEM,
    dtype: 'fp32',
    transformers: true,
    label: 'fp32',
    format: 'float32 weights and compute',
    bits: 32,
    f16: false,
    integer: false,
  },
];

const kindOfDtype = (dtype: string) => KINDS.find((k) => k.dtype === dtype);
const kindOfStem = (stem: string) => KINDS.find((k) => stem === k.base || stem.startsWith(`${k.base}_`));

/** File stem of a precision name with default options ('fp32' -> 'model', 'q8' -> 'model_quantized'); undefined for an unknown name. */
export function stemOf(dtype: string): string | undefined {
  return kindOfDtype(dtype)?.base;
}

/** A precision name's stem, or a file stem given as is (a name starting with 'model'); undefined otherwise. */
export function stemOfArg(nameOrStem: string): string | undefined {
  return stemOf(nameOrStem) ?? (nameOrStem.startsWith(FP32_STEM) ? nameOrStem : undefined);
}

/** The transformers.js dtype that loads this file by name, if the file has a transformers.js name (fp32 aside). */
export function transformersDtype(fileName: string): Dtype | undefined {
  const stem = fileName.replace(/\.onnx$/, '');
  const kind = KINDS.find((k) => k.base === stem && k.transformers && k.dtype !== 'fp32');
  return kind?.dtype as Dtype | undefined;
}

/** What transformers.js's from_pretrained takes to load one variant. */
export interface VariantLoadOptions {
  dtype: string;
  model_file_name?: string;
  use_external_data_format?: false;
  session_options?: { externalData: { path: string; data: string }[] };
}

/**
 * transformers.js from_pretrained options selecting onnx/<stem>.onnx: its own dtype name where one
 * exists, else fp32 with an explicit file name. With `externalData` chunks it also fetches
 * onnx/<stem>.onnx_data (and _1, _2, ...) and hands them to ONNX Runtime under the names the
 * model's tensors give. They are listed as session externalData rather than counted with
 * use_external_data_format: transformers.js 4.3.1 fetches counted chunks inside
 * `new Promise(async ...)`, so a missing or failed chunk never settles the load (seen in Node).
 */
export function variantLoadOptions(stem: string, externalData?: number): VariantLoadOptions {
  const kind = KINDS.find((k) => k.base === stem && k.transformers);
  const file = kind?.dtype ? { dtype: kind.dtype } : { dtype: 'fp32', model_file_name: stem };
  if (!externalData) return file;
  const chunks = Array.from({ length: externalData }, (_, i) => dataFileName(`${stem}.onnx`, i));
  return {
    ...file,
    use_external_data_format: false,
    session_options: { externalData: chunks.map((path) => ({ path, data: `onnx/${path}` })) },
  };
}

/** Whether a variant computes in float16 (needs WebGPU's shader-f16): fp16 and q4f16 files and their descendants. */
export function variantNeedsFloat16(stem: string): boolean {
  return kindOfStem(stem)?.f16 ?? false;
}

/** What a precision name asks of the device, when it is one of the table's. */
export function dtypeNeeds(dtype: string): { needsShaderF16: boolean; integerMatMul: boolean } {
  const kind = kindOfDtype(dtype);
  return { needsShaderF16: kind?.f16 ?? false, integerMatMul: kind?.integer ?? false };
}

function shortHash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(36);
}

/**
 * File name (no directory) of a variant: the options' `name` when given, else transformers.js's
 * name for default options, else descriptive (model_q3nbits_hqq_b64_asym: bits, method, block, zero points).
 */
export function variantFileName(opts: QuantizeOptions): string {
  const o = resolveOptions(opts);
  if (o.name) return `${o.name}.onnx`;
  let name = stemOf(o.dtype)!;
  const parts: string[] = [];
  switch (o.dtype) {
    case 'q4':
    case 'q4f16':
      if (o.bits !== 4) name = `model_q${o.bits}${o.dtype === 'q4f16' ? 'f16' : ''}nbits`;
      if (o.method !== 'rtn') parts.push(o.method);
      if (o.blockSize !== 32) parts.push(`b${o.blockSize}`);
      if (!o.symmetric) parts.push('asym');
      if (o.plan) parts.push(`mix${shortHash(JSON.stringify(o.plan))}`);
      break;
    case 'bnb4':
      if (o.quantType !== 'nf4' || o.doubleQuant) parts.push(o.quantType);
      if (o.blockSize !== 64) parts.push(`b${o.blockSize}`);
      if (o.doubleQuant) parts.push('dq');
      break;
    case 'q8':
    case 'int8':
    case 'uint8':
      if (o.perChannel) parts.push('pc');
      break;
  }
  if (!o.keepLmHead && o.dtype !== 'fp16' && o.dtype !== 'bf16') parts.push('qhead');
  if (o.keep.length > 0) parts.push(`keep${shortHash(o.keep.join('\n'))}`);
  return `${[name, ...parts].join('_')}.onnx`;
}

/** One ONNX file of a model, as a column can show and load it. */
export interface VariantInfo {
  /** File stem under onnx/ ('model', 'model_q4', 'model_bnb4_fp4_dq', ...): what the runner loads. */
  stem: string;
  /** Short label: 'fp32', 'q4', 'q4 b128 asym', 'bnb4 fp4 dq'. */
  label: string;
  /** One line on the storage format. */
  format: string;
  /** Bits per weight: measured (from the manifest) or nominal (from the name). */
  bitsPerWeight?: number;
  bitsMeasured: boolean;
  /** Measured bits per weight of the quantized tensors alone (the manifest's bitsPerWeightQuantized). */
  bitsQuantized?: number;
  /** File size, when known. */
  bytes?: number;
  /** fp16 / q4f16 graphs need WebGPU's shader-f16 feature. */
  needsShaderF16: boolean;
  /** q8 / int8 / uint8 (DynamicQuantizeLinear + MatMulInteger). */
  integerMatMul: boolean;
  /** How many .onnx_data files hold its weights (<stem>.onnx_data, <stem>.onnx_data_1, ...); absent: none. */
  externalData?: number;
  /** The quantizer's options for this file (its manifest entry's `options`, e.g. dtype, bits, method), when listed. */
  options?: Readonly<Record<string, unknown>>;
  /** The calibration text it was made with (manifest `calibration`: name and sameTextTag), when recorded. */
  calibration?: { name: string; tag: string };
  /** Sort key: lower = higher precision (fp32 first). */
  rank: number;
}

const PART_WORDS: Record<string, string> = {
  hqq: 'hqq',
  gptq: 'gptq',
  awq: 'awq',
  asym: 'asym',
  dq: 'dq',
  fp4: 'fp4',
  nf4: 'nf4',
  pc: 'per-channel',
  qhead: 'q-head',
};

/** Labels a variant from its file stem alone (the inverse of variantFileName). */
export function variantFromStem(stem: string, bytes?: number): VariantInfo {
  const kind = kindOfStem(stem);
  if (!kind) {
    return {
      stem,
      label: stem,
      format: 'unknown format (not a transformers.js or QuantLab name)',
      bitsMeasured: false,
      bytes,
      needsShaderF16: /f16/.test(stem),
      integerMatMul: false,
      rank: 100,
    };
  }
  const parts =
    stem === kind.base
      ? []
      : stem
          .slice(kind.base.length + 1)
          .split('_')
          .filter(Boolean);
  const words = parts.map((p) =>
    /^b\d+$/.test(p) ? p : (PART_WORDS[p] ?? (p.startsWith('keep') ? 'keep' : p.startsWith('mix') ? 'mixed' : p)),
  );
  let format = kind.format;
  if (kind.base === 'model_bnb4')
    format = `MatMulBnb4 ${parts.includes('fp4') ? 'FP4' : 'NF4'}${parts.includes('dq') ? ', double-quantized scales' : ''}`;
  const block = parts.find((p) => /^b\d+$/.test(p));
  if (block) format += `, block ${block.slice(1)}`;
  const method = parts.find((p) => METHODS.includes(p as Method));
  if (method) format += `, ${method.toUpperCase()}`;
  return {
    stem,
    label: [kind.label, ...words, ...(kind.note ? [kind.note] : [])].join(' '),
    format,
    bitsPerWeight: kind.bits,
    bitsMeasured: false,
    bytes,
    needsShaderF16: kind.f16,
    integerMatMul: kind.integer,
    rank: 32 - kind.bits + parts.length / 10,
  };
}
