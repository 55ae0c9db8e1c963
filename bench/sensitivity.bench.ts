// Benchmark (not a test): layer sensitivity of the SmolLM2-135M-shaped fixture (random weights)
// at one bit width with rtn, on the built-in calibration text's token count, with the wall time,
// the CPU time and the peak resident memory. Target: under 5 minutes, peak under 2 GB.
// Run: npx tsx bench/sensitivity.bench.ts [--tokens 256] [--ctx 128] [--bits 4] [--method rtn]
import { parseArgs } from 'node:util';
import { buildDecoderGraph } from '../src/lib/model/llama-graph';
import { SMOLLM2_135M_SHAPE, tinyConfig, tinyWeights } from '../src/lib/model/tiny';
import type { GridBits } from '../src/lib/quantize/grid';
import { measureSensitivity } from '../src/lib/quantize/sensitivity';
import type { Method } from '../src/lib/variants/options';
import { PeakSampler, processRss } from '../src/node/memory';
import { nodeOrtRuntime } from '../src/node/ort-runtime';

const { values } = parseArgs({
  options: {
    tokens: { type: 'string', default: '256' },
    ctx: { type: 'string', default: '128' },
    bits: { type: 'string', default: '4' },
    method: { type: 'string', default: 'rtn' },
  },
});
const config = tinyConfig(SMOLLM2_135M_SHAPE);
const model = buildDecoderGraph(config, tinyWeights(config, 0));
// Token ids spread over the vocabulary (random weights: any text reads alike).
const ids = Array.from({ length: Number(values.tokens) }, (_, i) => (i * 7919 + 13) % config.vocabSize);
const peak = new PeakSampler(processRss, 500).start();
const cpu = process.cpuUsage();
const t = performance.now();
let last = 0;
const r = await measureSensitivity({
  model,
  ids,
  ctx: Number(values.ctx),
  bits: values.bits.split(',').map(Number) as GridBits[],
  method: values.method as Method,
  runtime: await nodeOrtRuntime(),
  onProgress: (p) => {
    if (p.done - last >= 10 || p.done === p.total) {
      const c = process.cpuUsage(cpu);
      console.error(
        `${p.done}/${p.total} runs, ${((performance.now() - t) / 1000).toFixed(0)} s wall, ${((c.user + c.system) / 1e6).toFixed(0)} s CPU, RSS ${(processRss() / 2 ** 20).toFixed(0)} MiB`,
      );
      last = p.done;
    }
  },
});
const used = process.cpuUsage(cpu);
const peakRss = peak.peak;
peak.stop();
console.log(
  `sensitivity ${values.method} ${values.bits}-bit: ${r.entries.length} runs (${r.windows} windows of ${r.ctx} tokens) in ${((performance.now() - t) / 1000).toFixed(1)} s wall, ${((used.user + used.system) / 1e6).toFixed(1)} s CPU, peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`,
);
