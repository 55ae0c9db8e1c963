// `quantlab import` and `quantlab tiny`: build transformers.js model folders on disk.

import { readFileSync, statSync, existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { QuantlabError } from '../lib/errors';
import { buildModelFolder, type DecoderSource } from '../lib/model/folder';
import { DEFAULT_TINY_SHAPE, SMOLLM2_135M_SHAPE, type TinyShape } from '../lib/model/tiny';
import { hfSource, llama2cSource, tinySource } from '../lib/import/sources';
import { nodeReader, writeFolderAtomic } from '../node/files';
import { parse, usageOf } from './main';

const IMPORT_HELP = `quantlab import <checkpoint.bin | hf-folder> [--tokenizer tok.bin] --out <dir> [--overwrite]
  A .bin file is read as a llama2.c checkpoint (version-0 layout) and needs --tokenizer.
  A folder is read as a Hugging Face model (config.json, model.safetensors or a sharded index,
  tokenizer.json) of model_type llama or qwen2, with fp32, fp16 or bf16 weights.`;

const TINY_HELP = `quantlab tiny --out <dir> [options]
  --layers N --dim N --heads N --kv-heads N --hidden N --vocab N --max-positions N
  --seed N (default 0)  --untied (separate lm_head)  --qkv-bias (qwen2-style)
  --smollm2-135m        the SmolLM2-135M shape (30 layers, dim 576, 9/3 heads, vocab 49152)
  --overwrite           replace an existing output folder`;

function readFile(path: string, what: string): Uint8Array {
  if (!existsSync(path)) throw new QuantlabError('bad-argument', `${what} ${path} does not exist`);
  return new Uint8Array(readFileSync(path));
}

/** Builds and writes a model folder atomically; returns the files' total bytes. */
export async function writeSource(src: DecoderSource, out: string, overwrite: boolean, log: (s: string) => void): Promise<number> {
  for (const w of src.warnings ?? []) console.error(`warning: ${w}`);
  const files = await buildModelFolder(src, { onProgress: (p) => 'message' in p && log(p.message) });
  await writeFolderAtomic(resolve(out), files, { overwrite });
  return [...files.values()].reduce((a, f) => a + f.byteLength, 0);
}

export async function runImport(args: string[]): Promise<number> {
  const { values: v, positionals } = parse(args, { tokenizer: { type: 'string' }, out: { type: 'string' }, overwrite: { type: 'boolean' }, quiet: { type: 'boolean' } });
  if (v.help) return usageOf(IMPORT_HELP);
  if (positionals.length !== 1 || !v.out) throw new QuantlabError('bad-argument', 'import needs one input path and --out <dir>', IMPORT_HELP);
  const input = positionals[0];
  if (!existsSync(input)) throw new QuantlabError('bad-argument', `${input} does not exist`);
  const log = v.quiet ? () => {} : (s: string) => console.error(s);
  const t0 = performance.now();
  let src: DecoderSource;
  if (statSync(input).isDirectory()) {
    log(`Reading Hugging Face folder ${input}`);
    src = await hfSource(nodeReader(resolve(input)));
  } else {
    if (!v.tokenizer) {
      throw new QuantlabError('bad-argument', `${input} is a llama2.c checkpoint and needs its tokenizer: add --tokenizer tok.bin`);
    }
    log(`Reading llama2.c checkpoint ${input}`);
    const tokPath = v.tokenizer as string;
    src = llama2cSource(readFile(input, 'Checkpoint'), readFile(tokPath, 'Tokenizer'), { checkpoint: basename(input), tokenizer: basename(tokPath) });
  }
  const bytes = await writeSource(src, v.out as string, v.overwrite === true, log);
  log(`Wrote ${v.out} (${(bytes / 1e6).toFixed(2)} MB) in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  return 0;
}

function int(v: unknown, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new QuantlabError('bad-argument', `--${name} must be a positive whole number (got "${String(v)}")`);
  return n;
}

export async function runTiny(args: string[]): Promise<number> {
  const { values: v } = parse(args, {
    out: { type: 'string' }, layers: { type: 'string' }, dim: { type: 'string' }, heads: { type: 'string' },
    'kv-heads': { type: 'string' }, hidden: { type: 'string' }, vocab: { type: 'string' }, 'max-positions': { type: 'string' },
    seed: { type: 'string' }, untied: { type: 'boolean' }, 'qkv-bias': { type: 'boolean' }, 'smollm2-135m': { type: 'boolean' },
    overwrite: { type: 'boolean' }, quiet: { type: 'boolean' },
  });
  if (v.help) return usageOf(TINY_HELP);
  if (!v.out) throw new QuantlabError('bad-argument', 'tiny needs --out <dir>', TINY_HELP);
  const base = v['smollm2-135m'] ? SMOLLM2_135M_SHAPE : DEFAULT_TINY_SHAPE;
  const shape: TinyShape = {
    layers: int(v.layers, 'layers', base.layers),
    dim: int(v.dim, 'dim', base.dim),
    heads: int(v.heads, 'heads', base.heads),
    kvHeads: int(v['kv-heads'], 'kv-heads', base.kvHeads),
    hidden: int(v.hidden, 'hidden', base.hidden),
    vocab: int(v.vocab, 'vocab', base.vocab),
    maxPositions: int(v['max-positions'], 'max-positions', base.maxPositions),
    tied: v.untied ? false : base.tied,
    qkvBias: v['qkv-bias'] === true,
  };
  const seed = v.seed === undefined ? 0 : Number(v.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new QuantlabError('bad-argument', `--seed must be a whole number >= 0 (got "${String(v.seed)}")`);
  if (shape.dim % shape.heads !== 0) throw new QuantlabError('bad-argument', `--dim ${shape.dim} is not a multiple of --heads ${shape.heads}`);
  const log = v.quiet ? () => {} : (s: string) => console.error(s);
  const t0 = performance.now();
  const bytes = await writeSource(tinySource(shape, seed), v.out as string, v.overwrite === true, log);
  log(`Wrote ${v.out} (${(bytes / 1e6).toFixed(2)} MB) in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  return 0;
}
