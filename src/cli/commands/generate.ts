// `quantlab generate`: one generation through the shared Runner, as text or one JSON object.

import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { QuantlabError } from '../../lib/errors';
import { Runner } from '../../lib/runner/runner';
import { DTYPES } from '../../lib/variants/options';
import { stemOf } from '../../lib/variants/table';
import { variantStem } from '../model-folder';
import type { GenerateParams } from '../../lib/runner/types';
import { configureNodeTransformers } from '../../node/transformers-env';
import type { FlagSpecs, ParsedArgs } from '../args';
import { defineCommand } from '../command';

const HELP = `quantlab generate <dir | hub-id> [options]
  --dtype D               fp32 (default), ${DTYPES.join(', ')}, or a stem written by
                          'quantlab quantize --name STEM'
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

const FLAGS = {
  dtype: { type: 'string' },
  variant: { type: 'string' },
  prompt: { type: 'string', default: '' },
  'max-new-tokens': { type: 'number', default: 64 },
  temperature: { type: 'number', default: 0 },
  'top-k': { type: 'number', default: 0 },
  'top-p': { type: 'number', default: 1 },
  'repetition-penalty': { type: 'number', default: 1 },
  seed: { type: 'number', default: 0 },
  chat: { type: 'boolean' },
  json: { type: 'boolean' },
} as const satisfies FlagSpecs;

export const generateCommand = defineCommand({
  name: 'generate',
  summary: 'Generate text through transformers.js. Temperature 0 means greedy.',
  help: HELP,
  flags: FLAGS,
  run: runGenerate,
});

async function runGenerate({ values: v, positionals }: ParsedArgs<typeof FLAGS>): Promise<number> {
  if (positionals.length !== 1)
    throw new QuantlabError('bad-argument', 'generate needs exactly one model folder or Hub id', HELP);
  const params: GenerateParams = {
    prompt: v.prompt,
    maxNewTokens: v['max-new-tokens'],
    temperature: v.temperature,
    topK: v['top-k'],
    topP: v['top-p'],
    repetitionPenalty: v['repetition-penalty'],
    seed: v.seed,
    chatTemplate: v.chat,
  };
  const local = existsSync(positionals[0]);
  const modelId = local ? resolve(positionals[0]) : positionals[0];
  const dtype = v.dtype ?? 'fp32';
  const variant = v.variant ?? (local ? variantStem(modelId, dtype) : stemOf(dtype));
  if (!variant)
    throw new QuantlabError(
      'bad-argument',
      `Unknown --dtype "${dtype}"`,
      `Use fp32, ${DTYPES.join(', ')}, or --variant <file stem>.`,
    );
  if (local && !existsSync(resolve(modelId, 'onnx', `${variant}.onnx`))) {
    throw new QuantlabError(
      'bad-argument',
      `${positionals[0]} has no onnx/${variant}.onnx`,
      stemOf(dtype)
        ? `Create it with 'quantlab quantize ${positionals[0]} --dtype ${dtype}' or pick another --dtype.`
        : `Pick a precision name (fp32, ${DTYPES.join(', ')}) or the stem of a file in ${positionals[0]}/onnx.`,
    );
  }
  configureNodeTransformers({ allowRemote: !local });
  const runner = new Runner();
  await runner.load({ modelId, variant, device: 'cpu' });
  const onToken = v.json
    ? undefined
    : (() => {
        let shown = 0;
        return (e: { text: string }) => {
          process.stdout.write(e.text.slice(shown));
          shown = e.text.length;
        };
      })();
  if (!v.json) process.stdout.write(params.prompt);
  const r = await runner.generate(params, onToken);
  await runner.dispose();
  if (r.limitNote) process.stderr.write(`${r.limitNote}\n`);
  if (v.json) {
    const t = r.timings;
    console.log(
      JSON.stringify({
        model: positionals[0],
        variant,
        prompt: params.prompt,
        prompt_ids: r.promptIds,
        ids: r.ids,
        text: r.text,
        timings: {
          load_ms: t.loadMs,
          ttft_ms: t.ttftMs,
          prefill_tokens_per_s: t.prefillTokensPerS,
          decode_tokens_per_s: t.decodeTokensPerS,
        },
      }),
    );
  } else {
    const t = r.timings;
    process.stdout.write(
      `\n\n[${variant}] ${r.ids.length} tokens; load ${t.loadMs.toFixed(0)} ms, first token ${t.ttftMs.toFixed(1)} ms, ${t.decodeTokensPerS.toFixed(1)} tokens/s\n`,
    );
  }
  return 0;
}
