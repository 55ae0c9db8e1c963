// `quantlab import`: a llama2.c checkpoint or a Hugging Face folder into a transformers.js model
// folder on disk.

import { readFileSync, statSync, existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { QuantlabError } from '../../lib/errors';
import type { DecoderSource } from '../../lib/model/folder';
import { hfSource, llama2cSource } from '../../lib/import/sources';
import { nodeReader } from '../../node/files';
import { defineCommand } from '../command';
import { logger } from '../format';
import {
  EXTERNAL_DATA_FLAGS,
  EXTERNAL_DATA_HELP,
  GRAPH_FLAGS,
  GRAPH_HELP,
  externalDataOptions,
  writeSource,
} from '../model-folder';

const HELP = `quantlab import <checkpoint.bin | hf-folder> [--tokenizer tok.bin] --out <dir> [--overwrite]
  A .bin file is read as a llama2.c checkpoint (version-0 layout) and needs --tokenizer.
  A folder is read as a Hugging Face model (config.json, model.safetensors or a sharded index,
  tokenizer.json) of model_type llama or qwen2, with fp32, fp16 or bf16 weights.
${EXTERNAL_DATA_HELP}
${GRAPH_HELP}
  --quiet               no progress lines on stderr`;

function readFile(path: string, what: string): Uint8Array {
  if (!existsSync(path)) throw new QuantlabError('bad-argument', `${what} ${path} does not exist`);
  return new Uint8Array(readFileSync(path));
}

export const importCommand = defineCommand({
  name: 'import',
  summary: `Convert a llama2.c checkpoint (with its tokenizer .bin) or a Hugging Face Llama/Qwen2
safetensors folder into a transformers.js model folder with onnx/model.onnx (fp32).`,
  help: HELP,
  flags: {
    tokenizer: { type: 'string' },
    out: { type: 'string' },
    overwrite: { type: 'boolean' },
    quiet: { type: 'boolean' },
    ...EXTERNAL_DATA_FLAGS,
    ...GRAPH_FLAGS,
  },
  async run({ values: v, positionals }) {
    if (positionals.length !== 1 || !v.out)
      throw new QuantlabError('bad-argument', 'import needs one input path and --out <dir>', HELP);
    const input = positionals[0];
    if (!existsSync(input)) throw new QuantlabError('bad-argument', `${input} does not exist`);
    const log = logger(v.quiet);
    const t0 = performance.now();
    let src: DecoderSource;
    if (statSync(input).isDirectory()) {
      log(`Reading Hugging Face folder ${input}`);
      src = await hfSource(nodeReader(resolve(input)));
    } else {
      if (!v.tokenizer) {
        throw new QuantlabError(
          'bad-argument',
          `${input} is a llama2.c checkpoint and needs its tokenizer: add --tokenizer tok.bin`,
        );
      }
      log(`Reading llama2.c checkpoint ${input}`);
      const tokPath = v.tokenizer;
      src = llama2cSource(readFile(input, 'Checkpoint'), readFile(tokPath, 'Tokenizer'), {
        checkpoint: basename(input),
        tokenizer: basename(tokPath),
      });
    }
    const bytes = await writeSource(
      src,
      v.out,
      v.overwrite,
      log,
      externalDataOptions(v),
      v.fused ? 'fused' : 'unfused',
    );
    log(`Wrote ${v.out} (${(bytes / 1e6).toFixed(2)} MB) in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    return 0;
  },
});
