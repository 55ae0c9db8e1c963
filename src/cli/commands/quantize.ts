// `quantlab quantize`: writes quantized variants next to onnx/model.onnx, plus the manifest.

import { existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { QuantlabError } from '../../lib/errors';
import { externalDataFiles, loadExternalData, staleDataFiles } from '../../lib/onnx/external-data';
import { decodeModel } from '../../lib/onnx/proto';
import { checkBudget, planMixed } from '../../lib/quantize/mixed';
import {
  measureSensitivity,
  measuredTargets,
  resolveSensitivitySpec,
  type SensitivityReport,
  type SensitivitySpec,
} from '../../lib/quantize/sensitivity';
import type { WeightTarget } from '../../lib/quantize/targets';
import { checkCalibration, expandRequests, quantizeVariants } from '../../lib/quantize/quantize-variants';
import { MANIFEST_PATH, parseManifest } from '../../lib/variants/manifest';
import type { GridBits } from '../../lib/quantize/grid';
import { DEFAULT_CALIB_TOKENS, DEFAULT_SENSITIVITY_CALIB_TOKENS } from '../../lib/quantize/calibration';
import {
  CALIBRATED_METHODS,
  DTYPES,
  IMPLEMENTED_METHODS,
  type Method,
  resolveOptions,
  type QuantizeOptions,
} from '../../lib/variants/options';
import { nodeCalibRuntime } from '../../node/calibration';
import { FP32_PATH } from '../../lib/variants/table';
import type { FlagSpecs, ParsedArgs } from '../args';
import { defineCommand } from '../command';
import { logger, progressLine } from '../format';
import { EXTERNAL_DATA_FLAGS, EXTERNAL_DATA_HELP, externalDataOptions, readModelFolder } from '../model-folder';
import { CALIBRATION_FLAGS, calibrationFromFlags, calibrationHelp } from '../calibration';
import { nodeOrtRuntime } from '../../node/ort-runtime';

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
${calibrationHelp(`default ${DEFAULT_CALIB_TOKENS} for gptq and
                        awq; ${DEFAULT_SENSITIVITY_CALIB_TOKENS} for the sensitivity measurement of --budget, whose time
                        grows with them`)}
  --quantize-lm-head    also quantize the lm_head (kept in full precision by default)
  --keep a,b            more node or weight names to keep in full precision
  --budget B            q4/q4f16 mixed precision: measure each weight's sensitivity on --calib,
                        then give each weight a width so the quantized weights take at most B
                        bits per weight (scales and zero points included); one file, its
                        manifest lists each weight's bits and method
  --widths 2,4,8        the widths --budget chooses from (2, 3, 4, 8; default 2,4,8)
  --sensitivity FILE    plan from this report of 'quantlab sensitivity --json' (same method, block
                        size, zero points and scale type) instead of measuring again
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
  ...CALIBRATION_FLAGS,
  'quantize-lm-head': { type: 'boolean' },
  keep: { type: 'list' },
  name: { type: 'string' },
  budget: { type: 'number', min: 0 },
  widths: { type: 'numbers' },
  sensitivity: { type: 'string' },
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
  let requests = expandRequests(v.dtype, common);
  const log = logger(v.quiet || v.json);
  if (v.budget !== undefined) requests = [await mixedRequest(dir, requests, v, log)];
  // The text is read only for a method fitted to it (--budget read it for its measurement above).
  const calibrated = requests.some((r) => CALIBRATED_METHODS.includes(resolveOptions(r).method));
  const calibration =
    calibrated && v.calib !== undefined
      ? {
          windows: calibrationFromFlags(dir, v, {
            tokens: DEFAULT_CALIB_TOKENS,
            maxPositions: readModelFolder(dir).maxPositions,
          }).windows,
          runtime: nodeCalibRuntime,
        }
      : undefined;
  checkCalibration(requests, calibration);
  const manifestPath = join(dir, MANIFEST_PATH);
  const previous = parseManifest(existsSync(manifestPath) ? new Uint8Array(readFileSync(manifestPath)) : undefined);
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
    }
  }
  // Warnings print with --quiet too (and are in --json's reports).
  if (!v.json) for (const r of result.reports) for (const w of r.warnings) console.error(`warning: ${r.file}: ${w}`);
  return 0;
}

/** The one q4/q4f16 request of --budget with its per-weight plan, from a sensitivity measurement on --calib. */
async function mixedRequest(
  dir: string,
  requests: QuantizeOptions[],
  v: ParsedArgs<typeof FLAGS>['values'],
  log: (line: string) => void,
): Promise<QuantizeOptions> {
  const [req] = requests;
  if (requests.length !== 1 || (req.dtype !== 'q4' && req.dtype !== 'q4f16')) {
    throw new QuantlabError(
      'bad-argument',
      `--budget makes one mixed-precision q4 or q4f16 file, not ${v.dtype!.join(', ')}`,
      'Use --dtype q4 (or q4f16) with --budget.',
    );
  }
  const { maxPositions } = readModelFolder(dir);
  const model = decodeModel(new Uint8Array(readFileSync(join(dir, FP32_PATH))), FP32_PATH);
  const dataNames = externalDataFiles(model, FP32_PATH);
  if (dataNames.length > 0) {
    const data = new Map(dataNames.map((n) => [n, new Uint8Array(readFileSync(join(dir, 'onnx', basename(n))))]));
    loadExternalData(model, data, FP32_PATH);
  }
  const spec = resolveSensitivitySpec({
    bits: (v.widths ?? [2, 4, 8]) as GridBits[],
    method: req.method,
    blockSize: req.blockSize,
    symmetric: req.symmetric,
    scaleType: req.dtype === 'q4f16' ? 'float16' : 'float32',
    keepLmHead: req.keepLmHead,
  });
  const targets = measuredTargets(model, spec.keepLmHead);
  let report: SensitivityReport;
  if (typeof v.sensitivity === 'string') {
    report = readSensitivity(v.sensitivity, spec, targets);
  } else {
    checkBudget(v.budget!, targets, spec.bits, spec);
    const calib = calibrationFromFlags(dir, v, { tokens: DEFAULT_SENSITIVITY_CALIB_TOKENS, maxPositions });
    report = await measureSensitivity({
      model,
      ids: calib.ids,
      bos: calib.bos,
      ctx: calib.window,
      ...spec,
      runtime: await nodeOrtRuntime(),
      onProgress: (p) => !v.quiet && !v.json && progressLine(p.done, p.total, 'sensitivity run'),
    });
  }
  const mixed = planMixed(report, v.budget!);
  const counts = new Map<number, number>();
  for (const c of mixed.plan) counts.set(c.bits, (counts.get(c.bits) ?? 0) + 1);
  log(
    `sensitivity: ${report.entries.length} runs${v.sensitivity ? ` read from ${v.sensitivity}` : ` in ${report.seconds.toFixed(1)} s`}; plan: ${[...counts].map(([b, n]) => `${n} weights at ${b} bits`).join(', ')}, ${mixed.bitsPerWeight.toFixed(3)} bits per weight (budget ${v.budget})`,
  );
  return { ...req, plan: mixed.plan };
}

/** A saved sensitivity report, refused by name unless it measured these weights with these settings. */
function readSensitivity(file: string, spec: SensitivitySpec, targets: WeightTarget[]): SensitivityReport {
  let r: SensitivityReport;
  try {
    r = JSON.parse(readFileSync(file, 'utf8')) as SensitivityReport;
  } catch (err) {
    throw new QuantlabError('bad-argument', `Cannot read --sensitivity ${file}: ${(err as Error).message}`);
  }
  if (!r || !Array.isArray(r.entries) || !Array.isArray(r.bits)) {
    throw new QuantlabError(
      'bad-argument',
      `${file} is not a sensitivity report`,
      "Write one with 'quantlab sensitivity <dir> --calib FILE --json'.",
    );
  }
  for (const k of ['method', 'blockSize', 'symmetric', 'scaleType'] as const) {
    if (r[k] !== spec[k]) {
      throw new QuantlabError(
        'bad-argument',
        `${file} was measured with ${k} ${String(r[k])}, this variant uses ${String(spec[k])}`,
        "Measure again with the same settings, or quantize with the report's.",
      );
    }
  }
  const missing = targets.find((t) => !r.entries.some((e) => e.weight === t.weight.name));
  if (missing) {
    throw new QuantlabError(
      'bad-argument',
      `${file} has no measurement of ${missing.weight.name}`,
      'Measure this model with quantlab sensitivity.',
    );
  }
  return r;
}
