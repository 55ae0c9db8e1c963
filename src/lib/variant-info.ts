// Names the columns a model folder offers: every onnx/*.onnx is a variant, labelled from the
// quantizer's manifest (onnx/quantlab-manifest.json: format, measured bits per weight) when it
// has an entry, else from the file name (transformers.js suffixes and the quantizer's name parts).

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
  /** Weights in a separate .onnx_data file, which this app does not load. */
  externalData?: boolean;
  /** Sort key: lower = higher precision (fp32 first). */
  rank: number;
}

interface Kind {
  base: string;
  label: string;
  format: string;
  bits: number;
  f16: boolean;
  integer: boolean;
}

// Longest first, so model_q4f16 is not read as model_q4 + "f16".
const KINDS: Kind[] = [
  { base: 'model_q8f16nbits', label: 'q8f16 nbits', format: 'MatMulNBits 8-bit, float16 scales and activations', bits: 8, f16: true, integer: false },
  { base: 'model_q8nbits', label: 'q8 nbits', format: 'MatMulNBits 8-bit, float32 scales', bits: 8, f16: false, integer: false },
  { base: 'model_quantized', label: 'q8', format: 'DynamicQuantizeLinear + MatMulInteger, 8-bit weights', bits: 8, f16: false, integer: true },
  { base: 'model_q4f16', label: 'q4f16', format: 'MatMulNBits 4-bit, float16 scales and activations', bits: 4, f16: true, integer: false },
  { base: 'model_uint8', label: 'uint8', format: 'DynamicQuantizeLinear + MatMulInteger, uint8 weights', bits: 8, f16: false, integer: true },
  { base: 'model_int8', label: 'int8', format: 'DynamicQuantizeLinear + MatMulInteger, int8 weights', bits: 8, f16: false, integer: true },
  { base: 'model_bnb4', label: 'bnb4', format: 'MatMulBnb4 (NF4 unless named fp4)', bits: 4, f16: false, integer: false },
  { base: 'model_fp16', label: 'fp16', format: 'float16 weights and compute', bits: 16, f16: true, integer: false },
  { base: 'model_bf16', label: 'bf16', format: 'weights rounded to bfloat16, computed in float32', bits: 16, f16: false, integer: false },
  { base: 'model_q4', label: 'q4', format: 'MatMulNBits 4-bit, float32 scales', bits: 4, f16: false, integer: false },
  { base: 'model', label: 'fp32', format: 'float32 weights and compute', bits: 32, f16: false, integer: false },
];

const PART_WORDS: Record<string, string> = { asym: 'asym', dq: 'dq', fp4: 'fp4', nf4: 'nf4', pc: 'per-channel', qhead: 'q-head' };

/** Labels a variant from its file stem alone. */
export function variantFromStem(stem: string, bytes?: number): VariantInfo {
  const kind = KINDS.find((k) => stem === k.base || stem.startsWith(`${k.base}_`));
  if (!kind) {
    return { stem, label: stem, format: 'unknown format (not a transformers.js or QuantLab name)', bitsMeasured: false, bytes, needsShaderF16: /f16/.test(stem), integerMatMul: false, rank: 100 };
  }
  const parts = stem === kind.base ? [] : stem.slice(kind.base.length + 1).split('_').filter(Boolean);
  const words = parts.map((p) => (/^b\d+$/.test(p) ? p : PART_WORDS[p] ?? (p.startsWith('keep') ? 'keep' : p)));
  let format = kind.format;
  if (kind.base === 'model_bnb4') format = `MatMulBnb4 ${parts.includes('fp4') ? 'FP4' : 'NF4'}${parts.includes('dq') ? ', double-quantized scales' : ''}`;
  const block = parts.find((p) => /^b\d+$/.test(p));
  if (block) format += `, block ${block.slice(1)}`;
  return {
    stem,
    label: [kind.label, ...words].join(' '),
    format,
    bitsPerWeight: kind.bits,
    bitsMeasured: false,
    bytes,
    needsShaderF16: kind.f16,
    integerMatMul: kind.integer,
    rank: 32 - kind.bits + parts.length / 10,
  };
}

/** One manifest entry, whichever of the two manifest shapes it came from. */
export interface ManifestInfo {
  format?: string;
  bitsPerWeight?: number;
  bitsQuantized?: number;
  bytes?: number;
  dtype?: string;
}

function entryInfo(e: Record<string, unknown>): ManifestInfo {
  const opts = (e.options && typeof e.options === 'object' ? e.options : {}) as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined);
  return {
    format: typeof e.format === 'string' ? e.format : undefined,
    bitsPerWeight: num(e.bitsPerWeight),
    bitsQuantized: num(e.bitsPerWeightQuantized),
    bytes: num(e.bytes),
    dtype: typeof opts.dtype === 'string' ? opts.dtype : undefined,
  };
}

const baseName = (f: string) => f.split('/').pop()!;

/**
 * Reads quantlab-manifest.json in either shape: `{ files: { "<file>": {...} } }` or
 * `{ variants: [{ file, ... }] }`. Anything malformed is skipped, never thrown.
 */
export function parseManifest(json: unknown): Map<string, ManifestInfo> {
  const out = new Map<string, ManifestInfo>();
  if (!json || typeof json !== 'object') return out;
  const m = json as Record<string, unknown>;
  if (m.files && typeof m.files === 'object' && !Array.isArray(m.files)) {
    for (const [file, e] of Object.entries(m.files as Record<string, unknown>)) {
      if (e && typeof e === 'object') out.set(baseName(file), entryInfo(e as Record<string, unknown>));
    }
  }
  if (Array.isArray(m.variants)) {
    for (const e of m.variants) {
      if (e && typeof e === 'object' && typeof (e as { file?: unknown }).file === 'string') {
        out.set(baseName((e as { file: string }).file), entryInfo(e as Record<string, unknown>));
      }
    }
  }
  return out;
}

/** A variant labelled from its name, refined by its manifest entry when there is one. */
export function variantInfo(stem: string, bytes?: number, entry?: ManifestInfo): VariantInfo {
  const v = variantFromStem(stem, bytes);
  if (!entry) return v;
  const dtype = entry.dtype;
  return {
    ...v,
    format: entry.format ?? v.format,
    bitsPerWeight: entry.bitsPerWeight ?? v.bitsPerWeight,
    bitsMeasured: entry.bitsPerWeight !== undefined,
    bitsQuantized: entry.bitsQuantized,
    bytes: bytes ?? entry.bytes,
    needsShaderF16: dtype ? dtype === 'fp16' || dtype === 'q4f16' : v.needsShaderF16,
    integerMatMul: dtype ? ['q8', 'int8', 'uint8'].includes(dtype) : v.integerMatMul,
  };
}

/** Every onnx/*.onnx of a folder listing, labelled, highest precision first. */
export function variantsFromFiles(files: readonly { path: string; bytes: number }[], manifest?: unknown): VariantInfo[] {
  const entries = parseManifest(manifest);
  const paths = new Set(files.map((f) => f.path));
  return files
    .filter((f) => /^onnx\/[^/]+\.onnx$/.test(f.path))
    .map((f) => {
      const name = baseName(f.path);
      const v = variantInfo(name.slice(0, -'.onnx'.length), f.bytes, entries.get(name));
      return paths.has(`${f.path}_data`) ? { ...v, externalData: true } : v;
    })
    .sort((a, b) => a.rank - b.rank || a.stem.localeCompare(b.stem));
}

/** "4.50 bit/weight, 10.55 overall" (measured: quantized tensors, whole file) or "≈4 bit" (nominal). */
export function describeBits(v: VariantInfo): string {
  if (v.bitsPerWeight === undefined) return '';
  if (!v.bitsMeasured) return `≈${v.bitsPerWeight} bit`;
  if (v.bitsQuantized === undefined) return `${v.bitsPerWeight.toFixed(2)} bit/weight`;
  return `${v.bitsQuantized.toFixed(2)} bit/weight, ${v.bitsPerWeight.toFixed(2)} overall`;
}

/** "654 MB", "3.5 MB", "21 kB". */
export function formatBytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '';
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e8 ? 0 : 1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)} kB`;
  return `${n} B`;
}
