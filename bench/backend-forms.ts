// `npm run bench`'s backend steps (issue 15, items 2, 3 and 5), apart from run.ts so they merge
// alone: the 4-bit forms table of each model (quantlab bench --forms, with the weights' files
// quantized first), the fused graph against the unfused one (quantlab import/tiny --fused, then
// quantlab bench on both folders), and the WebGPU rows (browser-webgpu; on this machine's
// SwiftShader adapter correctness-only, so only for the small model by default).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FORMS, weightsStem } from '../src/lib/bench/forms';
import { quantizeFlags } from '../src/node/bench-forms';

type Cli = (args: string[]) => Promise<void>;

/** Quantizes the forms' missing weights, then times the forms on `runtimes`. */
export async function formsStep(cli: Cli, dir: string, runtimes: string, common: string[], out: string): Promise<void> {
  const missing = [...new Map(FORMS.map((f) => [weightsStem(f), f])).values()].filter(
    (f) => !existsSync(join(dir, 'onnx', `${weightsStem(f)}.onnx`)),
  );
  for (const f of missing) await cli(['quantize', dir, ...quantizeFlags(f).split(' '), '--quiet']);
  await cli(['bench', dir, '--forms', '--runtimes', runtimes, ...common, '--out', out]);
}

/** fp32 of the fused graph and of the unfused one, each timed with quantlab bench (prefill and decode both ways). */
export async function fusedStep(
  cli: Cli,
  make: (out: string, fused: boolean) => string[][],
  dir: string,
  runtimes: string,
  common: string[],
  outPrefix: string,
): Promise<void> {
  const fused = `${dir}-fused`;
  if (!existsSync(join(fused, 'onnx/model.onnx'))) for (const args of make(fused, true)) await cli(args);
  for (const d of [dir, fused])
    if (!existsSync(join(d, 'onnx/model_q4.onnx'))) await cli(['quantize', d, '--dtype', 'q4', '--quiet']);
  for (const [d, tag] of [
    [dir, 'unfused'],
    [fused, 'fused'],
  ] as const)
    await cli([
      'bench',
      d,
      '--dtypes',
      'fp32,q4',
      '--runtimes',
      runtimes,
      ...common,
      '--out',
      `${outPrefix}-${tag}.json`,
    ]);
}
