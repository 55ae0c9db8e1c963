// The `quantlab` command: the same engine as the browser, run from Node for scripted
// experiments and for producing model folders people can deploy.

import { parseArgs } from 'node:util';
import { QuantlabError, toErrorInfo } from '../lib/errors';
import { runImport, runTiny } from './import';
import { runGenerate } from './generate';

const USAGE = `quantlab <command> [options]

Commands:
  import <checkpoint.bin | hf-folder> [--tokenizer tok.bin] --out <dir> [--overwrite]
      Convert a llama2.c checkpoint (with its tokenizer .bin) or a Hugging Face Llama/Qwen2
      safetensors folder into a transformers.js model folder with onnx/model.onnx (fp32).
  tiny --out <dir> [--layers N --dim N --heads N --kv-heads N --hidden N --vocab N
       --max-positions N --seed N --untied --qkv-bias --smollm2-135m] [--overwrite]
      Build a deterministic random-weight model of any Llama shape.
  generate <dir | hub-id> [--dtype fp32 | --variant model_q4_b128] --prompt "..."
       [--max-new-tokens N --temperature T --top-k K --top-p P --repetition-penalty R
        --seed S --chat] [--json]
      Generate text through transformers.js. Temperature 0 means greedy.

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
