// `quantlab quantize`: writes quantized variants next to onnx/model.onnx, plus the manifest.

import { existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { QuantlabError } from '../../lib/errors';
import { staleDataFiles } from '../../lib/onnx/external-data';
import { checkCalibration, expandRequests, quantizeVariants } from '../../lib/quantize/quantize-variants';
import { MANIFEST_PATH, parseManifest } from '../../lib/variants/manifest';
import type { GridBits } from '../../lib/quantize/grid';
import { DTYPES, IMPLEMENTED_METHODS, type Method, type QuantizeOptions } from '../../lib/variants/options';
import { BUILTIN_CALIBRATION, nodeCalibRuntime, nodeCalibrationWindows } from '../../node/calibration';
import { FP32_PATH } from '../../lib/variants/table';
import type { FlagSpecs, ParsedArgs } from '../args';
import { defineCommand } from '../command';
import { logger } from '../format';
import { EXTERNAL_DATA_FLAGS, EXTERNAL_DATA_HELP, externalDataOptions } from '../model-folder';

const HELP = `quantlab quantize <dir> --dtype <dtype[,dtype...] | all> [options]
  dtypes: ${DTYPES.join(', ')} (all = every one with default options)
  --method M            q4/q4f16: how levels and scales are chosen: ${IMPLEMENTED_METHODS.join(', ')} (default rtn,
                        round-to-nearest; hqq = half-quadratic, calibration-free; gptq and awq
                        fit each layer to a calibration text: --calib)
  --bits 2|3|4|8        q4/q4f16 levels per weight (default 4; 3-bit levels are stored in 4-bit
                        MatMulNBits, as no runtime has a 3-bit kernel; 8 = weight-only 8-bit)
  --block-size N        16..256, power of two (q4 default 32, bnb4 default 64)
  --asym                q4/q4f16 with a zero point per block
  --name STEM           write onnx/STEM.onnx (one dtype only); eval --dtypes and generate --dtype take STEM
  --quant-type nf4|fp4  bnb4 code (default nf4)
  --double-quant        bnb4: quantize the absmax scales again
  --per-channel         q8/int8/uint8: one scale per output column
  --calib FILE|builtin  calibration text file, or builtin (QuantLab's calibration sample, not the lab's
                        evaluation text); evaluate on a different text from the one you calibrate on
  --calib-tokens N      tokens of the calibration text to use (default 512)
  --calib-window N      tokens per calibration window (default 128, at most the model's positions)
  --quantize-lm-head    also quantize the lm_head (kept in full precision by default)
  --keep a,b            more node or weight names to keep in full precision
${EXTERNAL_DATA_HELP}
  --json                print the reports as JSON
  --quiet               no progress lines, no table`;

const FLAGS = {
  dtype: { type: 'list' },
  method: { type: 'string' },
  bits: { type: 'number' },
  'block-size': { type: 'number' },
  asym: { type: 'boolean' },
  'quant-type': { type: 'string' },
  'double-quant': { type: 'boolean' },
  'per-channel': { type: 'boolean' },
  calib: { type: 'string' },
  'calib-tokens': { type: 'number' },
  'calib-window': { type: 'number' },
  'quantize-lm-head': { type: 'boolean' },
  keep: { type: 'list' },
  name: { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  ...EXTERNAL_DATA_FLAGS,
} as const satisfies FlagSpecs;

export const quantizeCommand = defineCommand({
  name: 'quantize',
  summary: 'Write quantized variants next to onnx/model.onnx, with a manifest of their formats.',
  help: HELP,
  flags: FLAGS,
  run: runQuantize,
});

async function runQuantize({ values: v, positionals }: ParsedArgs<typeof FLAGS>): Promise<number> {
  if (positionals.length !== 1 || !v.dtype)
    throw new QuantlabError('bad-argument', 'quantize needs a model folder and --dtype', HELP);
  const dir = resolve(positionals[0]);
  const source = join(dir, FP32_PATH);
  if (!existsSync(source)) {
    throw new QuantlabError(
      'bad-argument',
      `${positionals[0]} has no onnx/model.onnx`,
      "Quantize a folder made by 'quantlab import' or 'quantlab tiny', or any transformers.js folder with the fp32 model.",
    );
  }
  const common: Omit<QuantizeOptions, 'dtype'> = {
    bits: v.bits as GridBits | undefined,
    method: v.method as Method | undefined,
    blockSize: v['block-size'],
    symmetric: v.asym ? false : undefined,
    quantType: v['quant-type'] as 'nf4' | 'fp4' | undefined,
    doubleQuant: v['double-quant'] ? true : undefined,
    perChannel: v['per-channel'] ? true : undefined,
    keepLmHead: v['quantize-lm-head'] ? false : undefined,
    keep: v.keep,
    name: v.name,
  };
  for (const k of Object.keys(common) as (keyof typeof common)[]) if (common[k] === undefined) delete common[k];
  const requests = expandRequests(v.dtype, common);
  const calibration = v.calib
    ? {
        windows: await nodeCalibrationWindows(dir, v.calib === BUILTIN_CALIBRATION ? v.calib : resolve(v.calib), {
          tokens: v['calib-tokens'],
          window: v['calib-window'],
        }),
        runtime: nodeCalibRuntime,
      }
    : undefined;
  checkCalibration(requests, calibration);
  const manifestPath = join(dir, MANIFEST_PATH);
  const previous = parseManifest(existsSync(manifestPath) ? new Uint8Array(readFileSync(manifestPath)) : undefined);
  const log = logger(v.quiet || v.json);
  let shown = -1;
  const onnxDir = join(dir, 'onnx');
  const result = await quantizeVariants(new Uint8Array(readFileSync(source)), requests, previous, {
    // The source's .onnx_data files, by the plain names its tensors give (nothing outside onnx/).
    readData: async (name) => {
      const path = join(onnxDir, name);
      return basename(name) === name && existsSync(path) ? new Uint8Array(readFileSync(path)) : undefined;
    },
    write: externalDataOptions(v),
    calibration,
    onProgress: (p) => {
      if (p.variant !== shown) log(`[${p.variant + 1}/${p.variants}] ${p.file}`);
      shown = p.variant;
    },
  });
  // Each file appears whole or not at all: written beside its final name, then renamed.
  for (const [rel, bytes] of result.files) {
    const target = join(dir, rel);
    const tmp = `${target}.tmp-${process.pid}`;
    try {
      writeFileSync(tmp, bytes);
      renameSync(tmp, target);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw new QuantlabError('bad-argument', `Could not write ${target}: ${(err as Error).message}`);
    }
  }
  // A rewritten variant's old .onnx_data files would be fetched with it: they go.
  const existing = readdirSync(onnxDir).map((f) => `onnx/${f}`);
  for (const rel of staleDataFiles(existing, result.files.keys())) rmSync(join(dir, rel), { force: true });
  if (v.json) {
    console.log(JSON.stringify({ model: positionals[0], variants: result.reports }));
  } else if (!v.quiet) {
    console.log('file                             bytes        bits/weight  max tensor RMS err  seconds');
    for (const r of result.reports) {
      const worst = Math.max(0, ...r.tensors.map((t) => t.rmsError));
      console.log(
        `${r.file.padEnd(32)} ${String(r.fileBytes).padStart(11)}  ${r.bitsPerWeightOverall.toFixed(2).padStart(11)}  ${worst.toExponential(2).padStart(18)}  ${r.seconds.toFixed(2).padStart(7)}`,
      );
      for (const w of r.warnings) console.error(`  warning: ${w}`);
    }
  }
  return 0;
}
