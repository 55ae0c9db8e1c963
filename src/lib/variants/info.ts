// Names the columns a model folder offers: every onnx/*.onnx is a variant, labelled from the
// quantizer's manifest (format, measured bits per weight) when it has an entry, else from the
// file name (table.ts), and the words the page shows for its size.

import { countDataFiles, dataFileName } from '../onnx/external-data';
import { parseManifest, type ManifestEntry } from './manifest';
import { dtypeNeeds, variantFromStem, type VariantInfo } from './table';

/** What a manifest entry says about a variant, each field checked. */
export interface ManifestInfo {
  format?: string;
  bitsPerWeight?: number;
  bitsQuantized?: number;
  bytes?: number;
  dtype?: string;
  /** The entry's options as written (dtype, bits, quantType, method, ...). */
  options?: Readonly<Record<string, unknown>>;
  /** The calibration text it was made with (name and sameTextTag), when recorded. */
  calibration?: { name: string; tag: string };
}

function calibrationOf(c: unknown): ManifestInfo['calibration'] {
  const o = (c && typeof c === 'object' ? c : {}) as Record<string, unknown>;
  return typeof o.name === 'string' && typeof o.tag === 'string' ? { name: o.name, tag: o.tag } : undefined;
}

function entryInfo(entry: ManifestEntry): ManifestInfo {
  const e = entry as unknown as Record<string, unknown>;
  const opts = (e.options && typeof e.options === 'object' ? e.options : {}) as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined);
  return {
    format: typeof e.format === 'string' ? e.format : undefined,
    bitsPerWeight: num(e.bitsPerWeight),
    bitsQuantized: num(e.bitsPerWeightQuantized),
    bytes: num(e.bytes),
    dtype: typeof opts.dtype === 'string' ? opts.dtype : undefined,
    options: opts,
    calibration: calibrationOf(e.calibration),
  };
}

const baseName = (f: string) => f.split('/').pop()!;

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
    ...(dtype ? dtypeNeeds(dtype) : {}),
    ...(entry.options ? { options: entry.options } : {}),
    ...(entry.calibration ? { calibration: entry.calibration } : {}),
  };
}

/**
 * Every onnx/*.onnx of a folder listing, labelled, highest precision first; one with .onnx_data
 * files says how many (transformers.js fetches them by name) and counts their bytes in its size.
 */
export function variantsFromFiles(
  files: readonly { path: string; bytes: number }[],
  manifest?: unknown,
): VariantInfo[] {
  const entries = new Map((parseManifest(manifest)?.variants ?? []).map((e) => [baseName(e.file), entryInfo(e)]));
  const paths = new Set(files.map((f) => f.path));
  const bytesOf = new Map(files.map((f) => [f.path, f.bytes]));
  return files
    .filter((f) => /^onnx\/[^/]+\.onnx$/.test(f.path))
    .map((f) => {
      const name = baseName(f.path);
      const chunks = countDataFiles(f.path, paths);
      let bytes = f.bytes;
      for (let i = 0; i < chunks; i++) bytes += bytesOf.get(dataFileName(f.path, i)) ?? 0;
      const v = variantInfo(name.slice(0, -'.onnx'.length), bytes, entries.get(name));
      return chunks > 0 ? { ...v, externalData: chunks } : v;
    })
    .sort((a, b) => a.rank - b.rank || a.stem.localeCompare(b.stem));
}

/** "4.50 bit/weight, 10.55 overall" (measured: quantized tensors, whole file) or "≈4 bit" (nominal). */
export function describeBits(v: VariantInfo): string {
  // bf16 rounds each weight to bfloat16 but stores and computes it as fp32: its 32 bits are storage,
  // not precision, so it says so rather than "32.00 bit/weight".
  if (/^model_bf16(_|$)/.test(v.stem))
    return v.bitsPerWeight !== undefined && v.bitsMeasured
      ? `bf16 values in fp32 storage (${v.bitsPerWeight.toFixed(2)} bit/weight overall)`
      : 'bf16 values in fp32 storage';
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
