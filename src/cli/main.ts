// The `quantlab` command: the same engine as the browser, run from Node for scripted
// experiments and for producing model folders people can deploy.

import { parseArgs } from 'node:util';
import { QuantlabError, toErrorInfo } from '../lib/errors';
import { runImport, runTiny } from './import';
import { runGenerate } from './generate';
import { runQuantize } from './quantize';
import { runEval } from './eval';
import { runSweepCommand } from './sweep';
import { runBench } from './bench';

const USAGE = `quantlab <command> [options]

Commands:
  import <checkpoint.bin | hf-folder> [--tokenizer tok.bin] --out <dir> [--overwrite]
      Convert a llama2.c checkpoint (with its tokenizer .bin) or a Hugging Face Llama/Qwen2
      safetensors folder into a transformers.js model folder with onnx/model.onnx (fp32).
  tiny --out <dir> [--layers N --dim N --heads N --kv-heads N --hidden N --vocab N
       --max-positions N --seed N --untied --qkv-bias --smollm2-135m] [--overwrite]
      Build a deterministic random-weight model of any Llama shape.
  quantize <dir> --dtype <fp16|bf16|q8|int8|uint8|q4|q4f16|bnb4|all> [--bits --block-size
       --asym --quant-type nf4|fp4 --double-quant --per-channel --keep a,b] [--json]
      Write quantized variants next to onnx/model.onnx, with a manifest of their formats.
  generate <dir | hub-id> [--dtype fp32 | --variant model_q4_b128] --prompt "..."
       [--max-new-tokens N --temperature T --top-k K --top-p P --repetition-penalty R
        --seed S --chat] [--json]
      Generate text through transformers.js. Temperature 0 means greedy.
  eval <dir> --dtypes fp32,fp16,q8,q4,bnb4 --text <file> [--baseline fp32 --ctx N --chunks N]
       [--json | --csv file]
      Perplexity, bits per byte and llama.cpp's KL-divergence report of each precision.
  sweep <dir> --dtypes ... --temperatures 0,0.5,1 --top-k 1,5,0 --top-p 1 --max-new-tokens 64
       --seeds N --prompt "..." [--json | --csv file]
      Generate over a grid of sampling settings and score agreement, diversity, quality.
  bench <dir> --dtypes fp32,fp16,q8,q4,bnb4 [--runtimes node,browser-wasm --runs 5
       --prompt-tokens 128 --new-tokens 64 --concurrency] [--json | --out file]
      Load time, TTFT, prefill and decode tokens/s and peak memory of each precision, against a
      raw ONNX Runtime loop on the same file (the floor), in Node and in headless Chromium.

Run 'quantlab <command> --help' for details.`;

export type Parsed = ReturnType<typeof parseArgs>;

/** Parses flags strictly so a typo is an error, not a silently ignored option. */
export function parse(args: string[], options: NonNullable<Parameters<typeof parseArgs>[0]>['options']): Parsed {
  try {
    return parseArgs({ args, options: { ...options, help: { type: 'boolean' } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new QuantlabError('bad-argument', (err as Error).message);
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'import':
        return await runImport(rest);
      case 'tiny':
        return await runTiny(rest);
      case 'generate':
        return await runGenerate(rest);
      case 'quantize':
        return await runQuantize(rest);
      case 'eval':
        return await runEval(rest);
      case 'sweep':
        return await runSweepCommand(rest);
      case 'bench':
        return await runBench(rest);
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        console.log(USAGE);
        return command === undefined ? 1 : 0;
      default:
        throw new QuantlabError('bad-argument', `Unknown command "${command}"`, "Run 'quantlab --help' to list the commands.");
    }
  } catch (err) {
    const e = toErrorInfo(err);
    console.error(`quantlab ${command}: ${e.message}${e.detail ? `\n  ${e.detail}` : ''}`);
    if (e.code === 'internal' && err instanceof Error && err.stack && process.env.QUANTLAB_DEBUG) console.error(err.stack);
    return 2;
  }
}

export function usageOf(text: string): number {
  console.log(text);
  return 0;
}
