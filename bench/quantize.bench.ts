// Benchmark (not a test): seconds to produce each quantized variant of the SmolLM2-135M-shaped
// fixture with quantizeModel (encode included), on this machine, and the process's peak resident
// memory so far. Targets: every RTN variant < 15 s, q4 < 8 s, HQQ < 20 s, peak < 2 GB. Then the
// calibrated methods (targets: GPTQ 4-bit < 60 s, AWQ < 60 s) on 512 calibration tokens (random
// ids: the weights are random too, so only the time means anything).
// Run: npx tsx bench/quantize.bench.ts [--runs 1] [--only q4,bnb4 | --only hqq] [--methods gptq,awq] [--method-bits 4,3,2] [--out DIR]
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { buildDecoderGraph } from '../src/lib/model/llama-graph';
import { SMOLLM2_135M_SHAPE, tinyConfig, tinyWeights } from '../src/lib/model/tiny';
import { quantizeModel } from '../src/lib/quantize/quantize-model';
import type { QuantizeOptions } from '../src/lib/variants/options';
import { median } from '../src/lib/bench/stats';
import { benchCalibrated } from './calibrated';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '1' },
    only: { type: 'string', default: '' },
    methods: { type: 'string', default: 'gptq,awq' },
    'method-bits': { type: 'string', default: '4' },
    out: { type: 'string' },
  },
});
const runs = Number(values.runs);
const only = new Set(values.only ? values.only.split(',') : []);

const VARIANTS: QuantizeOptions[] = [
  { dtype: 'q4' },
  { dtype: 'q4f16' },
  { dtype: 'q4', bits: 8 },
  { dtype: 'q4', symmetric: false },
  { dtype: 'q4', method: 'hqq' },
  { dtype: 'q4', method: 'hqq', symmetric: false },
  { dtype: 'q4', bits: 3 },
  { dtype: 'q4', bits: 3, method: 'hqq' },
  { dtype: 'q4', bits: 2 },
  { dtype: 'q4', bits: 2, method: 'hqq' },
  { dtype: 'bnb4' },
  { dtype: 'bnb4', quantType: 'fp4' },
  { dtype: 'bnb4', doubleQuant: true },
  { dtype: 'q8' },
  { dtype: 'int8' },
  { dtype: 'uint8' },
  { dtype: 'fp16' },
  { dtype: 'bf16' },
];

let t = performance.now();
const config = tinyConfig(SMOLLM2_135M_SHAPE);
const model = buildDecoderGraph(config, tinyWeights(config, 0));
console.log(
  `load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')} on ${availableParallelism()} cores`,
);
console.log(`fixture built in ${((performance.now() - t) / 1000).toFixed(1)} s`);
for (const v of VARIANTS) {
  if (only.size > 0 && !only.has(v.dtype) && !only.has(v.method ?? 'rtn')) continue;
  const times: number[] = [];
  const cpu: number[] = [];
  let line = '';
  for (let r = 0; r < runs; r++) {
    t = performance.now();
    const c0 = process.cpuUsage();
    const { report } = await quantizeModel(model, v);
    times.push((performance.now() - t) / 1000);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e6);
    line = `${report.file.padEnd(30)} ${(report.fileBytes / 2 ** 20).toFixed(1).padStart(6)} MiB  ${report.bitsPerWeightQuantized.toFixed(2)} b/w`;
  }
  const peak = process.resourceUsage().maxRSS / 2 ** 20; // kB -> GiB
  // CPU seconds too: on a shared machine they stay near what an idle machine would take.
  console.log(
    `${line}  ${median(times).toFixed(2)} s  (${median(cpu).toFixed(2)} s CPU, peak RSS ${peak.toFixed(2)} GiB)`,
  );
}

await benchCalibrated(
  model,
  config.vocabSize,
  values.methods ? values.methods.split(',') : [],
  values['method-bits'].split(',').map(Number) as (2 | 3 | 4)[],
  values.out,
);
