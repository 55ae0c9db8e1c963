// `quantlab generate`: one generation through the shared Runner, as text or one JSON object.

import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { QuantlabError } from '../lib/errors';
import { Runner } from '../lib/runner/runner';
import { stemOf } from '../lib/variants/table';
import type { GenerateParams } from '../lib/runner/types';
import { configureNodeTransformers } from '../node/transformers-env';
import { parse, usageOf } from './main';

const HELP = `quantlab generate <dir | hub-id> [options]
  --dtype D               fp32 (default), fp16, q8, int8, uint8, q4, q4f16, bnb4
  --variant STEM          any onnx/<STEM>.onnx in the folder (e.g. model_q4_b128); overrides --dtype
  --prompt TEXT           the prompt (default: empty)
  --max-new-tokens N      default 64
  --temperature T         0 = greedy (default 0)
  --top-k K               0 = off (default 0)
  --top-p P               1 = off (default 1)
  --repetition-penalty R  default 1
  --seed S                default 0
  --chat                  apply the tokenizer's chat template
  --json                  print one JSON object: prompt_ids, ids, text, timings`;

function num(v: unknown, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n)) throw new QuantlabError('bad-argument', `--${name} must be a number (got "${String(v)}")`);
  return n;
}

export async function runGenerate(args: string[]): Promise<number> {
  const { values: v, positionals } = parse(args, {
    dtype: { type: 'string' }, variant: { type: 'string' }, prompt: { type: 'string' },
    'max-new-tokens': { type: 'string' }, temperature: { type: 'string' }, 'top-k': { type: 'string' },
    'top-p': { type: 'string' }, 'repetition-penalty': { type: 'string' }, seed: { type: 'string' },
    chat: { type: 'boolean' }, json: { type: 'boolean' },
  });
  if (v.help) return usageOf(HELP);
  if (positionals.length !== 1) throw new QuantlabError('bad-argument', 'generate needs exactly one model folder or Hub id', HELP);
  const params: GenerateParams = {
    prompt: (v.prompt as string | undefined) ?? '',
    maxNewTokens: num(v['max-new-tokens'], 'max-new-tokens', 64),
    temperature: num(v.temperature, 'temperature', 0),
    topK: num(v['top-k'], 'top-k', 0),
    topP: num(v['top-p'], 'top-p', 1),
    repetitionPenalty: num(v['repetition-penalty'], 'repetition-penalty', 1),
    seed: num(v.seed, 'seed', 0),
    chatTemplate: v.chat === true,
  };
  const local = existsSync(positionals[0]);
  const modelId = local ? resolve(positionals[0]) : positionals[0];
  const dtype = (v.dtype as string | undefined) ?? 'fp32';
  const variant = (v.variant as string | undefined) ?? stemOf(dtype);
  if (!variant) throw new QuantlabError('bad-argument', `Unknown --dtype "${dtype}"`, 'Use fp32, fp16, q8, int8, uint8, q4, q4f16 or bnb4, or --variant <file stem>.');
  if (local && !existsSync(resolve(modelId, 'onnx', `${variant}.onnx`))) {
    throw new QuantlabError('bad-argument', `${positionals[0]} has no onnx/${variant}.onnx`, `Create it with 'quantlab quantize ${positionals[0]} --dtype ${dtype}' or pick another --dtype.`);
  }
  configureNodeTransformers({ allowRemote: !local });
  const runner = new Runner();
  await runner.load({ modelId, variant, device: 'cpu' });
  const onToken = v.json ? undefined : (() => {
    let shown = 0;
    return (e: { text: string }) => {
      process.stdout.write(e.text.slice(shown));
      shown = e.text.length;
    };
  })();
  if (!v.json) process.stdout.write(params.prompt);
  const r = await runner.generate(params, onToken);
  await runner.dispose();
  if (v.json) {
    const t = r.timings;
    console.log(JSON.stringify({
      model: positionals[0], variant, prompt: params.prompt, prompt_ids: r.promptIds, ids: r.ids, text: r.text,
      timings: { load_ms: t.loadMs, ttft_ms: t.ttftMs, prefill_tokens_per_s: t.prefillTokensPerS, decode_tokens_per_s: t.decodeTokensPerS },
    }));
  } else {
    const t = r.timings;
    process.stdout.write(`\n\n[${variant}] ${r.ids.length} tokens; load ${t.loadMs.toFixed(0)} ms, first token ${t.ttftMs.toFixed(1)} ms, ${t.decodeTokensPerS.toFixed(1)} tokens/s\n`);
  }
  return 0;
}
