// Decides what a set of files the user opened is: a llama2.c checkpoint with its tokenizer, a
// Hugging Face safetensors folder, or a ready transformers.js (ONNX) folder.

import { QuantlabError } from '../errors';

export interface OpenedFile {
  /** Path relative to the folder the user picked (or just the name for loose files). */
  path: string;
  size: number;
}

export type ImportPlan<F extends OpenedFile> =
  | { kind: 'llama2c'; name: string; checkpoint: F; tokenizer: F }
  | { kind: 'hf'; name: string; files: Map<string, F> }
  | { kind: 'onnx'; name: string; files: Map<string, F> };

/** Strips the picked folder's own name: "SmolLM2/config.json" -> "config.json". */
function relativeToRoot<F extends OpenedFile>(files: F[]): Map<string, F> {
  const first = files[0].path.split('/');
  const shared = first.length > 1 && files.every((f) => f.path.split('/')[0] === first[0]) ? first[0] + '/' : '';
  return new Map(files.map((f) => [f.path.slice(shared.length), f]));
}

function folderName(files: OpenedFile[], fallback: string): string {
  const p = files[0].path.split('/');
  return p.length > 1 ? p[0] : fallback;
}

export function classifyFiles<F extends OpenedFile>(files: F[]): ImportPlan<F> {
  if (files.length === 0) throw new QuantlabError('bad-argument', 'No files were opened');
  const rel = relativeToRoot(files);
  const has = (p: string) => rel.has(p);
  const onnx = [...rel.keys()].filter((p) => /^onnx\/[^/]+\.onnx$/.test(p));
  if (has('config.json') && onnx.length > 0) {
    // Checked at the door as far as names and sizes go; the builder parses each .onnx file.
    if (!has('tokenizer.json')) {
      throw new QuantlabError(
        'bad-tokenizer',
        'The transformers.js folder has config.json and onnx/ but no tokenizer.json',
        'Open the whole folder as it was exported, with its tokenizer.json beside config.json.',
      );
    }
    const empty = onnx.find((p) => rel.get(p)!.size === 0);
    if (empty) {
      throw new QuantlabError(
        'bad-onnx',
        `${empty} is empty`,
        'The file was cut short (an interrupted download or copy?); download or export it again.',
      );
    }
    return { kind: 'onnx', name: folderName(files, 'onnx-model'), files: rel };
  }
  if (has('config.json')) {
    if (!has('model.safetensors') && !has('model.safetensors.index.json')) {
      throw new QuantlabError(
        'bad-checkpoint',
        'The folder has config.json but no model.safetensors (or sharded index) and no onnx/ folder',
        'Open a Hugging Face folder with safetensors weights, or a transformers.js folder with onnx/*.onnx.',
      );
    }
    return { kind: 'hf', name: folderName(files, 'hf-model'), files: rel };
  }
  const bins = files.filter((f) => f.path.toLowerCase().endsWith('.bin'));
  if (bins.length === 2) {
    // The tokenizer .bin is tiny next to any checkpoint; a name containing "tok" decides ties.
    const [a, b] = bins;
    const aTok = /tok/i.test(a.path.split('/').pop()!);
    const bTok = /tok/i.test(b.path.split('/').pop()!);
    const tokenizer = aTok !== bTok ? (aTok ? a : b) : a.size <= b.size ? a : b;
    const checkpoint = tokenizer === a ? b : a;
    return {
      kind: 'llama2c',
      name: checkpoint.path
        .split('/')
        .pop()!
        .replace(/\.bin$/i, ''),
      checkpoint,
      tokenizer,
    };
  }
  if (bins.length === 1) {
    throw new QuantlabError(
      'bad-argument',
      `${bins[0].path}: a llama2.c checkpoint needs its tokenizer .bin too`,
      'Select both files (e.g. model.bin and tok512.bin) together.',
    );
  }
  throw new QuantlabError(
    'bad-argument',
    `Cannot tell what these files are (${files
      .slice(0, 4)
      .map((f) => f.path)
      .join(', ')}${files.length > 4 ? ', ...' : ''})`,
    'Open a llama2.c checkpoint with its tokenizer (.bin + .bin), a Hugging Face folder (config.json + model.safetensors + tokenizer.json), or a transformers.js folder (config.json + onnx/).',
  );
}
