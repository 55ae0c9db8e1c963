// The calibrated methods' part of bench/quantize.bench.ts: GPTQ and AWQ on one fixture, with the
// seconds spent capturing inputs in ONNX Runtime apart from the total, and the process's peak
// resident memory so far (getrusage's maxrss, which includes building the fixture).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelProto } from '../src/lib/onnx/proto';
import { awqPrepare } from '../src/lib/quantize/awq-model';
import { hessianCalibrator } from '../src/lib/quantize/calibration';
import { quantizeModel } from '../src/lib/quantize/quantize-model';
import { nodeCalibRuntime } from '../src/node/calibration';

/** 4 windows of 128 seeded pseudo-random token ids, each starting with id 1. */
function windows(vocab: number): number[][] {
  let s = 12345;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
  return Array.from({ length: 4 }, () => [1, ...Array.from({ length: 127 }, () => 2 + (next() % (vocab - 2)))]);
}

const peakMiB = () => (process.resourceUsage().maxRSS / 1024).toFixed(0);
const cpuSeconds = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};

export async function benchCalibrated(
  model: ModelProto,
  vocab: number,
  methods: string[],
  bitWidths: (2 | 3 | 4)[],
  outDir?: string,
): Promise<void> {
  // --out DIR keeps each file (as <method>-<bits>.onnx), to compare outputs across code changes.
  const keep = (name: string, bytes: Uint8Array) => {
    if (!outDir) return;
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, name), bytes);
  };
  const w = windows(vocab);
  for (const method of methods) {
    for (const bits of bitWidths) {
      const t = performance.now();
      const c0 = cpuSeconds();
      const cpu = () => `${(cpuSeconds() - c0).toFixed(1)} s CPU`;
      if (method === 'gptq') {
        const calibrator = hessianCalibrator(model, nodeCalibRuntime, w);
        const { report, bytes } = await quantizeModel(
          model,
          { dtype: 'q4', method: 'gptq', bits },
          {
            calibrator,
            pool: nodeCalibRuntime.pool,
          },
        );
        keep(`gptq-${bits}.onnx`, bytes);
        const captureS = calibrator.capture.seconds;
        console.log(
          `${report.file.padEnd(26)} gptq ${bits}-bit: ${((performance.now() - t) / 1000).toFixed(1)} s (${cpu()}; capture ${captureS.toFixed(1)} s), peak RSS ${peakMiB()} MiB`,
        );
      } else if (method === 'awq') {
        const spec = { bits, blockSize: 32, symmetric: true, scaleType: 'float32' as const };
        const prepared = await awqPrepare(model, nodeCalibRuntime, w, spec, { kept: (x) => x.role === 'lm_head' });
        const search = (performance.now() - t) / 1000;
        const { report, bytes } = await quantizeModel(
          prepared.model,
          { dtype: 'q4', method: 'awq', bits },
          { calibrator: prepared.calibrator, pool: nodeCalibRuntime.pool },
        );
        keep(`awq-${bits}.onnx`, bytes);
        console.log(
          `${report.file.padEnd(26)} awq ${bits}-bit: ${((performance.now() - t) / 1000).toFixed(1)} s (${cpu()}; scale search ${search.toFixed(1)} s), peak RSS ${peakMiB()} MiB`,
        );
      }
    }
  }
}
