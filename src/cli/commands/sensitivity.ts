// `quantlab sensitivity`: how much each linear weight alone moves the model away from fp32 on a
// calibration text when quantized (mean KL divergence per weight and bit width), as a table,
// JSON or CSV. `quantize --budget` uses the same measurement to choose per-weight widths.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { QuantlabError } from '../../lib/errors';
import { decodeModel } from '../../lib/onnx/proto';
import { DEFAULT_SENSITIVITY_CALIB_TOKENS } from '../../lib/quantize/calibration';
import type { GridBits } from '../../lib/quantize/grid';
import {
  measureSensitivity,
  sensitivityCsv,
  sensitivityJson,
  sortedBySensitivity,
} from '../../lib/quantize/sensitivity';
import type { Method } from '../../lib/variants/options';
import { FP32_PATH } from '../../lib/variants/table';
import { nodeOrtRuntime } from '../../node/ort-runtime';
import type { FlagSpecs, ParsedArgs } from '../args';
import { CALIBRATION_FLAGS, calibrationFromFlags, calibrationHelp } from '../calibration';
import { defineCommand } from '../command';
import { fixed, formatTable, progressLine } from '../format';
import { readModelFolder } from '../model-folder';

const HELP = `quantlab sensitivity <dir> --calib FILE [options]
  --bits N[,N...]       bit widths to measure each weight at: 2, 3, 4, 8 (default 4)
  --method M            rtn (default), or another method this build has
  --block-size N        16..256, power of two (default 32)
  --asym                a zero point per block
${calibrationHelp(`default ${DEFAULT_SENSITIVITY_CALIB_TOKENS}; the time grows with them`)}
  --quantize-lm-head    measure the lm_head too (variants keep it in full precision by default)
  --json                print the report as JSON
  --csv FILE            also write one CSV row per weight and width`;

const FLAGS = {
  bits: { type: 'numbers' },
  method: { type: 'string' },
  'block-size': { type: 'int' },
  asym: { type: 'boolean' },
  'quantize-lm-head': { type: 'boolean' },
  json: { type: 'boolean' },
  csv: { type: 'string' },
  ...CALIBRATION_FLAGS,
} as const satisfies FlagSpecs;

export const sensitivityCommand = defineCommand({
  name: 'sensitivity',
  summary: 'KL divergence from fp32 on a calibration text when only one weight is quantized, per weight.',
  help: HELP,
  flags: FLAGS,
  run: runSensitivity,
});

async function runSensitivity({ values: v, positionals }: ParsedArgs<typeof FLAGS>): Promise<number> {
  if (positionals.length !== 1) throw new QuantlabError('bad-argument', 'sensitivity needs one model folder', HELP);
  const { dir, maxPositions } = readModelFolder(positionals[0]);
  const calib = calibrationFromFlags(dir, v, { tokens: DEFAULT_SENSITIVITY_CALIB_TOKENS, maxPositions });
  const model = decodeModel(new Uint8Array(readFileSync(join(dir, FP32_PATH))), FP32_PATH);
  const report = await measureSensitivity({
    model,
    ids: calib.ids,
    bos: calib.bos,
    ctx: calib.window,
    bits: v.bits as GridBits[] | undefined,
    method: v.method as Method | undefined,
    blockSize: v['block-size'],
    symmetric: v.asym ? false : undefined,
    keepLmHead: v['quantize-lm-head'] ? false : undefined,
    runtime: await nodeOrtRuntime(),
    onProgress: (p) => !v.json && progressLine(p.done, p.total, 'run'),
  });
  if (typeof v.csv === 'string') writeFileSync(v.csv, sensitivityCsv(report));
  if (v.json) {
    console.log(sensitivityJson(report, { model: positionals[0], calib_file: v.calib }));
    return 0;
  }
  console.log(
    `${positionals[0]}: ${report.method}, block ${report.blockSize}${report.symmetric ? '' : ' asym'}, calibration ${v.calib} (${report.tokens} tokens, ${report.windows} windows of ${report.ctx}, fp32 ppl ${fixed(report.ppl_base, 3)}), ${report.seconds.toFixed(1)} s`,
  );
  const rows = sortedBySensitivity(report.entries).map((e) => [
    e.weight,
    e.layer === null ? '-' : String(e.layer),
    e.module,
    String(e.bits),
    fixed(e.bits_per_weight, 2),
    e.kld_mean.toExponential(3),
    e.kld_p99.toExponential(3),
    fixed(e.same_top_pct, 1),
  ]);
  console.log(
    formatTable([['weight', 'layer', 'module', 'bits', 'bits/w', 'KLD mean', 'KLD p99', 'same top %'], ...rows]),
  );
  return 0;
}
