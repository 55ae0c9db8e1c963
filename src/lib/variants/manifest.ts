// quantlab-manifest.json: the quantizer's record, beside the variant files in onnx/, of every file it
// wrote (format, options, measured bits per weight). Written by the quantizer (CLI and builder
// worker), read back by the quantizer (to add to it) and by the page (to label columns).

import type { Dtype, ResolvedOptions } from './options';
import { FP32_STEM } from './table';

export const MANIFEST_FILE = 'quantlab-manifest.json';
/** The manifest's path inside a model folder. */
export const MANIFEST_PATH = `onnx/${MANIFEST_FILE}`;

/** One file of the manifest. */
export interface ManifestEntry {
  file: string;
  /** transformers.js dtype that loads it by name, when it has a transformers.js file name. */
  transformersDtype?: Dtype;
  format: string;
  options: ResolvedOptions;
  /** The .onnx file and its data files together. */
  bytes: number;
  /** The .onnx_data files (beside it in onnx/) holding its weights, when it has any. */
  externalData?: string[];
  bitsPerWeight: number;
  bitsPerWeightQuantized: number;
  /** The text it was calibrated (or its mixed plan measured) on, when the page wrote it: name and sameTextTag. */
  calibration?: { name: string; tag: string };
}

export interface QuantlabManifest {
  version: 1;
  source: string;
  variants: ManifestEntry[];
}

/** Adds or replaces (by file name) an entry of a manifest, keeping entries sorted by file. */
export function upsertManifest(
  m: QuantlabManifest | undefined,
  entry: ManifestEntry,
  source = `${FP32_STEM}.onnx`,
): QuantlabManifest {
  const variants = (m?.variants ?? []).filter((e) => e.file !== entry.file);
  variants.push(entry);
  variants.sort((a, b) => a.file.localeCompare(b.file));
  return { version: 1, source: m?.source ?? source, variants };
}

/** The manifest file's bytes. */
export function encodeManifest(m: QuantlabManifest): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(m, null, 2) + '\n');
}

/**
 * Reads a manifest from the file's bytes or its parsed JSON. Anything that is not a version-1
 * manifest gives undefined, and entries without a file name are dropped: never thrown, since a
 * broken manifest only costs labels.
 */
export function parseManifest(input: unknown): QuantlabManifest | undefined {
  let json = input;
  if (input instanceof Uint8Array) {
    try {
      json = JSON.parse(new TextDecoder().decode(input));
    } catch {
      return undefined;
    }
  }
  if (!json || typeof json !== 'object') return undefined;
  const m = json as Partial<QuantlabManifest>;
  if (m.version !== 1 || !Array.isArray(m.variants)) return undefined;
  const variants = m.variants.filter(
    (e): e is ManifestEntry => !!e && typeof e === 'object' && typeof (e as { file?: unknown }).file === 'string',
  );
  return { version: 1, source: typeof m.source === 'string' ? m.source : `${FP32_STEM}.onnx`, variants };
}
