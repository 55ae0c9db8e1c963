// The options a variant is quantized with: which precisions (dtypes) the quantizer produces, their
// settings and defaults, and the one-line description of each storage format. A variant's file
// name is derived from these in table.ts.

import { QuantlabError } from '../errors';
import { storageBitsFor, type GridBits } from '../quantize/grid';

/** Every precision the quantizer produces. */
export const DTYPES = ['fp16', 'bf16', 'q8', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4'] as const;
export type Dtype = (typeof DTYPES)[number];

/** The precisions stored as MatMulNBits, whose levels a method chooses. */
export const NBITS_DTYPES: readonly string[] = ['q4', 'q4f16'] satisfies Dtype[];

/** How MatMulNBits weights (q4, q4f16) choose their levels and scales. */
export const METHODS = ['rtn', 'hqq', 'gptq', 'awq'] as const;
export type Method = (typeof METHODS)[number];
/** Methods this build implements (the rest are named, and refused with a message). */
export const IMPLEMENTED_METHODS: readonly Method[] = ['rtn', 'hqq', 'gptq', 'awq'];
/** Methods that need a calibration text. */
export const CALIBRATED_METHODS: readonly Method[] = ['gptq', 'awq'];

/** One weight's width and method in a mixed-precision variant (QuantizeOptions.plan). */
export interface WeightChoice {
  /** The weight's initializer name. */
  weight: string;
  bits: GridBits;
  method: Method;
}

export interface QuantizeOptions {
  dtype: Dtype;
  /** MatMulNBits levels for q4 / q4f16: 2, 3, 4 (default) or 8 (3-bit levels are stored in 4 bits). */
  bits?: GridBits;
  /** q4 / q4f16: how levels and scales are chosen (default 'rtn', round-to-nearest). */
  method?: Method;
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
  /** The output file stem (onnx/<name>.onnx) instead of the one derived from the options. */
  name?: string;
  /** q4 / q4f16 mixed precision: these weights get their own bits and method (the rest: bits, method). */
  plan?: WeightChoice[];
}

/** Every option filled in; `name` and `plan` stay optional (absent: the derived file name, one width). */
export type ResolvedOptions = Required<Omit<QuantizeOptions, 'name' | 'plan'>> & Pick<QuantizeOptions, 'name' | 'plan'>;

/** MatMulNBits level widths (q4, q4f16 --bits). */
export const NBITS_BITS: readonly GridBits[] = [2, 3, 4, 8];
/** Bit widths a mixed-precision plan may give a weight. */
export const PLAN_BITS: readonly number[] = [2, 3, 4, 8];

/** Checks a plan's entries (q4/q4f16 only, known widths and available methods, each weight once). */
function checkPlan(plan: WeightChoice[], dtype: Dtype): WeightChoice[] {
  if (!NBITS_DTYPES.includes(dtype)) {
    throw new QuantlabError(
      'bad-argument',
      `A per-weight plan applies to MatMulNBits variants (q4, q4f16), not ${dtype}`,
      'Use --dtype q4 or q4f16 for mixed precision.',
    );
  }
  const seen = new Set<string>();
  for (const c of plan) {
    if (!PLAN_BITS.includes(c.bits))
      throw new QuantlabError(
        'bad-argument',
        `Unsupported bits ${String(c.bits)} for ${c.weight}`,
        'Use 2, 3, 4 or 8.',
      );
    if (!IMPLEMENTED_METHODS.includes(c.method))
      throw new QuantlabError(
        'bad-argument',
        `Method "${String(c.method)}" for ${c.weight} is not available in this build`,
        `Available: ${IMPLEMENTED_METHODS.join(', ')}.`,
      );
    if (seen.has(c.weight)) throw new QuantlabError('bad-argument', `The plan lists ${c.weight} twice`);
    seen.add(c.weight);
  }
  return plan.map((c) => ({ weight: c.weight, bits: c.bits, method: c.method }));
}

export const BLOCK_SIZES = [16, 32, 64, 128, 256];

/** Fills in defaults and validates; a bad option gets a 'bad-argument' error naming the valid values. */
export function resolveOptions(o: QuantizeOptions): ResolvedOptions {
  if (!DTYPES.includes(o.dtype)) {
    throw new QuantlabError(
      'bad-argument',
      `Unknown dtype "${String(o.dtype)}"`,
      `Valid dtypes: ${DTYPES.join(', ')}.`,
    );
  }
  const bits = o.bits ?? 4;
  if (!NBITS_BITS.includes(bits)) {
    throw new QuantlabError(
      'bad-argument',
      `Unsupported bits ${String(bits)}`,
      `MatMulNBits variants take --bits ${NBITS_BITS.join(', ')} (3-bit levels are stored in 4-bit MatMulNBits).`,
    );
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
    throw new QuantlabError(
      'bad-argument',
      `Unknown bnb4 quant type "${String(quantType)}"`,
      'Valid quant types: nf4, fp4.',
    );
  }
  const method = o.method ?? 'rtn';
  if (!METHODS.includes(method)) {
    throw new QuantlabError(
      'bad-argument',
      `Unknown method "${String(method)}"`,
      `Valid methods: ${METHODS.join(', ')}.`,
    );
  }
  if (!IMPLEMENTED_METHODS.includes(method)) {
    throw new QuantlabError(
      'bad-argument',
      `Method "${method}" is not available in this build`,
      `Available: ${IMPLEMENTED_METHODS.join(', ')}.`,
    );
  }
  if (method !== 'rtn' && o.dtype !== 'q4' && o.dtype !== 'q4f16') {
    throw new QuantlabError(
      'bad-argument',
      `Method "${method}" applies to MatMulNBits variants (q4, q4f16), not ${o.dtype}`,
      'Use --dtype q4 or q4f16 with --method, or --method rtn.',
    );
  }
  if (o.name !== undefined) checkVariantName(o.name);
  return {
    dtype: o.dtype,
    bits,
    method,
    blockSize,
    symmetric: o.symmetric ?? true,
    quantType,
    doubleQuant: o.doubleQuant ?? false,
    perChannel: o.perChannel ?? false,
    keepLmHead: o.keepLmHead ?? true,
    keep: [...(o.keep ?? [])].sort(),
    ...(o.name !== undefined ? { name: o.name } : {}),
    ...(o.plan ? { plan: checkPlan(o.plan, o.dtype) } : {}),
  };
}

/** Refuses a --name that is not a plain file stem, or that would overwrite the fp32 source (onnx/model.onnx). */
export function checkVariantName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/.test(name) || name.endsWith('.onnx') || /\.onnx_data/.test(name)) {
    throw new QuantlabError(
      'bad-argument',
      `Variant name "${name}" is not a plain file stem`,
      'Use letters, digits, "_", "-" and "." (at most 100, no ".onnx" suffix): the file becomes onnx/<name>.onnx.',
    );
  }
  if (name === 'model') {
    throw new QuantlabError(
      'bad-argument',
      'Variant name "model" is the fp32 source (onnx/model.onnx)',
      'Pick another name: quantizing never overwrites the source.',
    );
  }
}

/** "4-bit" or "3-bit levels in 4-bit storage": what a MatMulNBits variant's weights take. */
export function describeNBits(bits: GridBits, storageBits: number): string {
  return bits === storageBits ? `${bits}-bit` : `${bits}-bit levels in ${storageBits}-bit storage`;
}

/** "12 at 2-bit, 16 at 4-bit" for a plan. */
function planSummary(plan: WeightChoice[]): string {
  const counts = new Map<number, number>();
  for (const c of plan) counts.set(c.bits, (counts.get(c.bits) ?? 0) + 1);
  return [...counts.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([b, n]) => `${n} at ${b}-bit${b === 3 ? ' (4-bit storage)' : ''}`)
    .join(', ');
}

/** One line describing a variant's storage format. */
export function describeFormat(o: ResolvedOptions): string {
  switch (o.dtype) {
    case 'fp16':
      return 'float16 weights and compute (softmax and RMSNorm statistics in float32)';
    case 'bf16':
      return 'weights rounded to bfloat16, stored and computed as float32';
    case 'q8':
    case 'uint8':
      return `DynamicQuantizeLinear + MatMulInteger, uint8 weights ${o.perChannel ? 'per column' : 'per tensor'}`;
    case 'int8':
      return `DynamicQuantizeLinear + MatMulInteger, int8 weights in [-64, 64] ${o.perChannel ? 'per column' : 'per tensor'}`;
    case 'q4':
    case 'q4f16':
      if (o.plan)
        return `MatMulNBits mixed precision (${planSummary(o.plan)}), block ${o.blockSize}, ${o.symmetric ? 'symmetric' : 'asymmetric'}, ${o.dtype === 'q4f16' ? 'float16 scales and activations' : 'float32 scales'}`;
      return `MatMulNBits ${describeNBits(o.bits, storageBitsFor(o.bits))}, block ${o.blockSize}, ${o.symmetric ? 'symmetric' : 'asymmetric'}, ${o.dtype === 'q4f16' ? 'float16 scales and activations' : 'float32 scales'}${o.method === 'rtn' ? '' : `, ${o.method.toUpperCase()}`}`;
    case 'bnb4':
      return `MatMulBnb4 ${o.quantType}, block ${o.blockSize}${o.doubleQuant ? ', double-quantized absmax (8-bit dynamic code, blocks of 256)' : ''}`;
  }
}
