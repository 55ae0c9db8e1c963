// `npm run bench`: the whole speed benchmark from a fresh clone, in one command (not a test; it
// prints figures). It builds what it needs under .cache/bench/ - the aidreams260K model imported
// from models/aidreams260K (64-token prompt: it has 128 positions), the SmolLM2-135M-shaped random model (quantlab tiny --smollm2-135m, seed
// 0), their fp16/q8/q4/bnb4 variants and the site - then runs `quantlab bench` on both models in
// Node and in headless Chromium, with the concurrency measurement (and, for aidreams260K, the time
// from opening the page to its first token: --first-token), printing the tables and
// writing each report to .cache/bench/results-<model>.json.
// Run: npm run bench [-- --models aidreams260K,smollm2-135m --runtimes node,browser-wasm --runs 5 --min-time 30
//      --max-time 240 --loads 3 --prompt-tokens 128 --new-tokens 64 --dtypes fp32,fp16,q8,q4,bnb4 --no-concurrency --no-first-token --rebuild
//      --threads N --no-stream (browser-wasm levers, see quantlab bench --help)]
import { existsSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { main } from '../src/cli/main';
import { FP32_PATH, FP32_STEM, stemOf } from '../src/lib/variants/table';
import { ensureSite } from '../src/node/browser';
import { formsStep, fusedStep } from './backend-forms';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'aidreams260K,smollm2-135m' },
    runtimes: { type: 'string', default: 'node,browser-wasm' },
    dtypes: { type: 'string', default: 'fp32,fp16,q8,q4,bnb4' },
    runs: { type: 'string', default: '5' },
    'min-time': { type: 'string', default: '30' },
    // Then on until each ratio's 95 % interval is within ±5 %, for at most this long a precision.
    'max-time': { type: 'string', default: '240' },
    // Fresh loads of both sides per precision, the runs shared over them (a load's memory placement moves its speed).
    loads: { type: 'string', default: '3' },
    // Default: 128, or what fits with --new-tokens in a model's positions (aidreams260K has 128).
    'prompt-tokens': { type: 'string' },
    'new-tokens': { type: 'string', default: '64' },
    'no-concurrency': { type: 'boolean' },
    'no-first-token': { type: 'boolean' },
    threads: { type: 'string' },
    'no-stream': { type: 'boolean' },
    rebuild: { type: 'boolean' },
    // Issue 15's backend steps (bench/backend-forms.ts): the 4-bit forms table, fused vs unfused, WebGPU rows.
    'no-forms': { type: 'boolean' },
    'no-fused': { type: 'boolean' },
    'webgpu-models': { type: 'string', default: 'aidreams260K' },
  },
});

const REPO = resolve(import.meta.dirname, '..');
const CACHE = join(REPO, '.cache/bench');
const AIDREAMS = resolve(REPO, 'models/aidreams260K'); // vendored (MIT; models/aidreams260K/SOURCE.md)

/** Positions of each fixture (max_position_embeddings), where fewer than 128 + new tokens. */
const POSITIONS: Record<string, number> = { aidreams260K: 128 };

/** How each fixture is made, with the quantlab CLI itself. */
const FIXTURES: Record<string, (out: string) => string[][]> = {
  aidreams260K: (out) => [
    [
      'import',
      join(AIDREAMS, 'aidreams260K.bin'),
      '--tokenizer',
      join(AIDREAMS, 'tok512.bin'),
      '--out',
      out,
      '--overwrite',
    ],
  ],
  'smollm2-135m': (out) => [['tiny', '--smollm2-135m', '--seed', '0', '--out', out, '--overwrite', '--quiet']],
};

async function cli(args: string[]): Promise<void> {
  const code = await main(args);
  if (code !== 0) throw new Error(`quantlab ${args.join(' ')} failed (exit ${code})`);
}

const models = values
  .models!.split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const dtypes = values
  .dtypes!.split(',')
  .map((s) => s.trim())
  .filter(Boolean);
for (const name of models) {
  const make = FIXTURES[name];
  if (!make) throw new Error(`Unknown bench model "${name}": use ${Object.keys(FIXTURES).join(', ')}`);
  const dir = join(CACHE, name);
  if (values.rebuild) rmSync(dir, { recursive: true, force: true });
  if (!existsSync(join(dir, FP32_PATH))) {
    console.error(`[bench] building the ${name} fixture in ${dir}`);
    for (const args of make(dir)) await cli(args);
  }
  const missing = dtypes.filter(
    (d) => d !== 'fp32' && !existsSync(join(dir, 'onnx', `${stemOf(d) ?? `${FP32_STEM}_${d}`}.onnx`)),
  );
  if (missing.length) {
    console.error(`[bench] quantizing ${name}: ${missing.join(', ')}`);
    await cli(['quantize', dir, '--dtype', missing.join(','), '--quiet']);
  }
}

const runtimes = values.runtimes!;
const site = join(CACHE, 'site');
if (runtimes.includes('browser-wasm')) {
  const ms = ensureSite(site, (line) => console.error(`[bench] ${line}`));
  if (ms > 0) console.error(`[bench] site built in ${(ms / 1000).toFixed(1)} s`);
}

console.error(
  '[bench] timings depend on what else this machine runs: runner and floor runs alternate so both feel the same load.',
);
for (const name of models) {
  const out = join(CACHE, `results-${name}.json`);
  await cli([
    'bench',
    relative(process.cwd(), join(CACHE, name)) || '.',
    '--dtypes',
    dtypes.join(','),
    '--runtimes',
    runtimes,
    '--runs',
    values.runs!,
    '--min-time',
    values['min-time']!,
    '--max-time',
    values['max-time']!,
    '--loads',
    values.loads!,
    '--prompt-tokens',
    values['prompt-tokens'] ?? String(Math.min(128, (POSITIONS[name] ?? Infinity) + 1 - Number(values['new-tokens']))),
    '--new-tokens',
    values['new-tokens']!,
    ...(values['no-concurrency'] ? [] : ['--concurrency']),
    // The page opens on the built-in model: its first token is timed with that model only.
    ...(name === 'aidreams260K' && runtimes.includes('browser-wasm') && !values['no-first-token']
      ? ['--first-token']
      : []),
    ...(values.threads ? ['--threads', values.threads] : []),
    ...(values['no-stream'] ? ['--no-stream'] : []),
    '--site',
    site,
    '--out',
    out,
  ]);
  console.log(`[bench] wrote ${out}\n`);
}

// Issue 15: the forms table, fused vs unfused, and WebGPU rows (correctness-only on a software adapter).
const sizes = (name: string) => [
  '--runs',
  values.runs!,
  '--prompt-tokens',
  values['prompt-tokens'] ?? String(Math.min(128, (POSITIONS[name] ?? Infinity) + 1 - Number(values['new-tokens']))),
  '--new-tokens',
  values['new-tokens']!,
  '--site',
  site,
];
const webgpu = values['webgpu-models']!.split(',').filter(Boolean);
if (webgpu.length) ensureSite(site, (line) => console.error(`[bench] ${line}`));
for (const name of models) {
  const dir = join(CACHE, name);
  const both = webgpu.includes(name) ? `${runtimes},browser-webgpu` : runtimes;
  if (!values['no-forms']) {
    await formsStep(cli, dir, both, sizes(name), join(CACHE, `forms-${name}.json`));
    console.log(`[bench] wrote ${join(CACHE, `forms-${name}.json`)}\n`);
  }
  if (!values['no-fused']) {
    const make = (out: string, fused: boolean) => FIXTURES[name](out).map((a) => (fused ? [...a, '--fused'] : a));
    await fusedStep(cli, make, dir, both, sizes(name), join(CACHE, `fused-${name}`));
  }
}
