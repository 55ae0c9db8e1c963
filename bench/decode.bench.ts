// Benchmark (not a test): the runner's decode speed in Node against the floor (a raw
// onnxruntime-node greedy loop on the same file), per precision, median of N runs after a warm-up.
// Run: npm run bench:decode [-- --model aidreams|smollm2 --dtypes fp32,q4 --runs 5 --json]
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { buildModelFolder } from '../src/lib/model/folder';
import { SMOLLM2_135M_SHAPE } from '../src/lib/model/tiny';
import { llama2cSource, tinySource } from '../src/lib/import/sources';
import { quantizeVariants, expandRequests } from '../src/lib/quantize/run';
import { floorDecode, type TensorCtor } from '../src/lib/bench/floor';
import { Runner } from '../src/lib/runner/runner';
import { dtypeToStem } from '../src/lib/runner/variants';
import { writeFolderAtomic } from '../src/node/files';
import { configureNodeTransformers } from '../src/node/transformers-env';

const { values } = parseArgs({ options: {
  model: { type: 'string', default: 'aidreams' }, dtypes: { type: 'string', default: 'fp32,fp16,q8,q4,bnb4' },
  runs: { type: 'string', default: '5' }, 'new-tokens': { type: 'string', default: '64' }, json: { type: 'boolean' },
} });
const runs = Number(values.runs);
const newTokens = Number(values['new-tokens']);
const dtypes = values.dtypes!.split(',');
const cache = resolve('.cache/bench');
const dir = join(cache, values.model!);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs: number[]) => Math.max(...xs) - Math.min(...xs);

if (!existsSync(join(dir, 'onnx/model.onnx'))) {
  mkdirSync(cache, { recursive: true });
  const src = values.model === 'smollm2'
    ? tinySource(SMOLLM2_135M_SHAPE, 0)
    : llama2cSource(new Uint8Array(readFileSync('../shared/models/aidreams260K/aidreams260K.bin')), new Uint8Array(readFileSync('../shared/models/aidreams260K/tok512.bin')));
  await writeFolderAtomic(dir, await buildModelFolder(src), { overwrite: true });
}
const missing = dtypes.filter((d) => d !== 'fp32' && !existsSync(join(dir, 'onnx', `${dtypeToStem(d)}.onnx`)));
if (missing.length) {
  const r = await quantizeVariants(new Uint8Array(readFileSync(join(dir, 'onnx/model.onnx'))), expandRequests(missing, {}), undefined);
  for (const [p, b] of r.files) if (!p.endsWith('manifest.json')) writeFileSync(join(dir, p), b);
}
const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
configureNodeTransformers({ allowRemote: false });
const text = 'I dreamed of a quiet city made of light. The streets were rivers of numbers, and every window held a small lamp that flickered when someone thought of it. '.repeat(6);

const results = [];
for (const dtype of dtypes) {
  const stem = dtypeToStem(dtype)!;
  const runner = new Runner();
  const loadMs = await runner.load({ modelId: dir, variant: stem, device: 'cpu' });
  const promptIds = runner.encode(text).slice(0, 128);
  const prompt = runner.decode(promptIds);
  const params = { prompt, maxNewTokens: newTokens, temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 };
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(join(dir, 'onnx', `${stem}.onnx`));
  const floorLoadMs = performance.now() - t0;
  const kvType = session.inputMetadata.some((m) => m.name === 'past_key_values.0.key' && m.isTensor && m.type === 'float16') ? 'float16' : 'float32';
  const shape = { numLayers: config.num_hidden_layers, numKvHeads: config.num_key_value_heads, headDim: config.head_dim, kvType } as const;
  const R = { ttft: [] as number[], prefill: [] as number[], decode: [] as number[] };
  const F = { ttft: [] as number[], decode: [] as number[] };
  let peak = 0;
  for (let i = 0; i <= runs; i++) {
    const g = await runner.generate(params);
    const f = await floorDecode(ort.Tensor as unknown as TensorCtor, session, shape, g.promptIds, newTokens);
    peak = Math.max(peak, process.memoryUsage().rss);
    if (i === 0) continue; // warm-up
    R.ttft.push(g.timings.ttftMs); R.prefill.push(g.timings.prefillTokensPerS); R.decode.push(g.timings.decodeTokensPerS);
    F.ttft.push(f.ttftMs); F.decode.push(f.decodeTokensPerS);
  }
  await runner.dispose();
  await session.release();
  const row = {
    dtype, runtime: 'node', load_ms: loadMs, floor_load_ms: floorLoadMs, ttft_ms: median(R.ttft), prefill_tokens_per_s: median(R.prefill),
    decode_tokens_per_s: median(R.decode), decode_spread: spread(R.decode), floor_decode_tokens_per_s: median(F.decode),
    floor_ttft_ms: median(F.ttft), ratio: median(R.decode) / median(F.decode), peak_memory_bytes: peak, prompt_tokens: 128, new_tokens: newTokens,
  };
  results.push(row);
  if (!values.json) {
    console.log(`${dtype.padEnd(6)} load ${loadMs.toFixed(0).padStart(6)} ms  ttft ${row.ttft_ms.toFixed(1).padStart(7)} ms  prefill ${row.prefill_tokens_per_s.toFixed(0).padStart(6)} tok/s  decode ${row.decode_tokens_per_s.toFixed(1).padStart(7)} ±${(row.decode_spread / 2).toFixed(1)} tok/s  floor ${row.floor_decode_tokens_per_s.toFixed(1).padStart(7)} tok/s  ratio ${row.ratio.toFixed(3)}  peak RSS ${(peak / 1e9).toFixed(2)} GB`);
  }
}
if (values.json) console.log(JSON.stringify({ model: values.model, runs, results }));
