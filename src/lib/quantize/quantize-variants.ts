// Produces several variants of one fp32 model in a row, as the CLI and the builder worker both
// need: validates every request first, then quantizes, and returns the files plus the updated
// manifest, so the caller writes them only when everything succeeded.

import { QuantlabError, throwIfAborted } from '../errors';
import { decodeModel } from '../onnx/proto';
import { externalDataFiles, loadExternalData, type ExternalDataOptions } from '../onnx/external-data';
import { quantizeModel, type QuantizeProgress, type VariantReport } from './quantize-model';
import { hessianCalibrator, thinHessianWarning, type CalibRuntime } from './calibration';
import { awqPrepare } from './awq-model';
import type { GridSpec } from './grid';
import type { WeightCalibrator } from './methods';
import { MANIFEST_PATH, encodeManifest, upsertManifest, type QuantlabManifest } from '../variants/manifest';
import {
  CALIBRATED_METHODS,
  DTYPES,
  describeFormat,
  resolveOptions,
  type QuantizeOptions,
  type ResolvedOptions,
} from '../variants/options';
import { FP32_PATH, transformersDtype, variantFileName } from '../variants/table';

export interface VariantsProgress {
  status: 'quantize';
  /** Index of the variant in the request list, and how many there are. */
  variant: number;
  variants: number;
  file: string;
  tensor: string;
  /** 0..1 over all variants. */
  fraction: number;
}

/** Expands 'all' (every dtype with default options) and checks every option set up front. */
export function expandRequests(dtypes: string[], common: Omit<QuantizeOptions, 'dtype'>): QuantizeOptions[] {
  const list = dtypes.flatMap((d) => (d === 'all' ? [...DTYPES] : [d]));
  if (list.length === 0)
    throw new QuantlabError('bad-argument', 'No dtype given', `Valid dtypes: ${DTYPES.join(', ')}, or all.`);
  if (common.name !== undefined && list.length > 1) {
    throw new QuantlabError(
      'bad-argument',
      `A variant name ("${common.name}") names one file, but ${list.length} dtypes were asked for`,
      'Give one dtype with --name, or leave --name out.',
    );
  }
  const requests = list.map((dtype) => ({ ...common, dtype }) as QuantizeOptions);
  requests.forEach((r) => resolveOptions(r));
  return requests;
}

export interface VariantsResult {
  /** Paths relative to the model folder (onnx/...). */
  files: Map<string, Uint8Array>;
  manifest: QuantlabManifest;
  reports: VariantReport[];
}

export interface VariantsHooks {
  onProgress?: (p: VariantsProgress) => void;
  signal?: AbortSignal;
  /**
   * Reads a file beside onnx/model.onnx by the name its external tensors give (model.onnx_data,
   * ...); undefined when there is no such file. Needed when the source keeps weights in .onnx_data.
   */
  readData?: (name: string) => Promise<Uint8Array | undefined>;
  /** When the variants keep their weights in .onnx_data files (default: only past protobuf's 2 GB limit). */
  write?: ExternalDataOptions;
  /** The calibration text's windows and the runtime to run them in, for gptq and awq. */
  calibration?: { windows: number[][]; runtime: CalibRuntime };
}

function gridSpecOf(o: ResolvedOptions): GridSpec {
  return {
    bits: o.bits,
    blockSize: o.blockSize,
    symmetric: o.symmetric,
    scaleType: o.dtype === 'q4f16' ? 'float16' : 'float32',
  };
}

/** Refuses calibrated methods (gptq, awq) without a calibration text, before anything runs. */
export function checkCalibration(requests: QuantizeOptions[], calibration: VariantsHooks['calibration']): void {
  const needs = requests.map((r) => resolveOptions(r).method).find((m) => CALIBRATED_METHODS.includes(m));
  if (needs && (!calibration || calibration.windows.length === 0)) {
    throw new QuantlabError(
      'bad-argument',
      `Method "${needs}" needs a calibration text`,
      'Give one (quantlab quantize --calib FILE, or a calibration source in the Quantize dialog).',
    );
  }
}

/** Quantizes `modelBytes` (onnx/model.onnx, its .onnx_data files read through hooks.readData) into every requested variant. */
export async function quantizeVariants(
  modelBytes: Uint8Array,
  requests: QuantizeOptions[],
  previous: QuantlabManifest | undefined,
  hooks: VariantsHooks = {},
): Promise<VariantsResult> {
  requests.forEach((r) => resolveOptions(r));
  checkCalibration(requests, hooks.calibration);
  const model = decodeModel(modelBytes, FP32_PATH);
  const dataNames = externalDataFiles(model, FP32_PATH);
  if (dataNames.length > 0) {
    const data = new Map<string, Uint8Array>();
    for (const name of dataNames) {
      throwIfAborted(hooks.signal);
      const bytes = await hooks.readData?.(name);
      if (bytes) data.set(name, bytes);
    }
    loadExternalData(model, data, FP32_PATH);
  }
  const files = new Map<string, Uint8Array>();
  const reports: VariantReport[] = [];
  let manifest = previous;
  for (const [i, req] of requests.entries()) {
    throwIfAborted(hooks.signal);
    const file = variantFileName(req);
    const o = resolveOptions(req);
    let source = model;
    let calibrator: WeightCalibrator | undefined;
    if (o.method === 'gptq' && hooks.calibration) {
      calibrator = hessianCalibrator(model, hooks.calibration.runtime, hooks.calibration.windows);
    } else if (o.method === 'awq' && hooks.calibration) {
      const spec = gridSpecOf(o);
      const prepared = await awqPrepare(model, hooks.calibration.runtime, hooks.calibration.windows, spec, {
        signal: hooks.signal,
        kept: (t) =>
          (t.role === 'lm_head' && o.keepLmHead) || o.keep.includes(t.node.name) || o.keep.includes(t.weight.name),
        onProgress: (done, total, input) =>
          hooks.onProgress?.({
            status: 'quantize',
            variant: i,
            variants: requests.length,
            file,
            tensor: `AWQ scales: ${input}`,
            fraction: (i + (0.5 * done) / Math.max(1, total)) / requests.length,
          }),
      });
      source = prepared.model;
      calibrator = prepared.calibrator;
    }
    // AWQ's second half (clip search and rounding) fills the second half of its progress.
    const share = o.method === 'awq' ? 0.5 : 0;
    const onProgress = (p: QuantizeProgress) =>
      hooks.onProgress?.({
        status: 'quantize',
        variant: i,
        variants: requests.length,
        file,
        tensor: p.tensor,
        fraction: (i + share + ((1 - share) * p.done) / Math.max(1, p.total)) / requests.length,
      });
    const out = await quantizeModel(source, req, {
      onProgress,
      signal: hooks.signal,
      write: hooks.write,
      calibrator,
      pool: hooks.calibration?.runtime.pool,
    });
    const report = out.report;
    if (o.method === 'gptq' && hooks.calibration) {
      const tokens = hooks.calibration.windows.reduce((a, w) => a + w.length, 0);
      const widest = Math.max(...report.tensors.map((t) => t.shape[0]));
      const thin = thinHessianWarning(tokens, widest);
      if (thin) report.warnings.push(thin);
    }
    for (const [name, bytes] of out.files) files.set(`onnx/${name}`, bytes);
    reports.push(report);
    manifest = upsertManifest(manifest, {
      file,
      transformersDtype: transformersDtype(file),
      format: describeFormat(o),
      options: o,
      bytes: report.fileBytes,
      ...(report.externalData ? { externalData: report.externalData } : {}),
      bitsPerWeight: report.bitsPerWeightOverall,
      bitsPerWeightQuantized: report.bitsPerWeightQuantized,
    });
  }
  files.set(MANIFEST_PATH, encodeManifest(manifest!));
  return { files, manifest: manifest!, reports };
}
