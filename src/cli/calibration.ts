// The calibration text of the commands that measure a model on one (sensitivity, quantize
// --budget): read, checked, and tokenized with the model folder's own tokenizer.

import { readFileSync } from 'node:fs';
import { AutoTokenizer } from '@huggingface/transformers';
import { QuantlabError } from '../lib/errors';
import { CALIBRATION_TEXT } from '../lib/quantize/calibration-sample';
import { configureNodeTransformers } from '../node/transformers-env';
import type { FlagSpecs } from './args';

export const CALIBRATION_FLAGS = {
  calib: { type: 'string' },
  'calib-tokens': { type: 'int', min: 3 },
  ctx: { type: 'int', min: 3 },
} as const satisfies FlagSpecs;

export const CALIBRATION_HELP = `  --calib FILE|builtin  UTF-8 calibration text, or builtin (QuantLab's calibration sample, not the lab's
                        evaluation text); use another text than the one you evaluate on
  --calib-tokens N      use at most the first N tokens of it (default 256)
  --ctx N               window length in tokens (default min(128, the model's max positions));
                        the second half of each window is scored`;

export interface Calibration {
  ids: number[];
  bos?: number;
  ctx: number;
}

/** Reads and tokenizes --calib for the folder `dir` (absolute); named errors for a missing or too short text. */
export async function readCalibration(
  dir: string,
  v: { calib?: string; 'calib-tokens'?: number; ctx?: number },
  maxPositions: number | undefined,
): Promise<Calibration> {
  if (typeof v.calib !== 'string') {
    throw new QuantlabError('bad-argument', 'No calibration text: --calib <file> is needed', 'Give a UTF-8 text file.');
  }
  let text = CALIBRATION_TEXT;
  if (v.calib !== 'builtin') {
    try {
      text = readFileSync(v.calib, 'utf8').replace(/^\uFEFF/, '');
    } catch (err) {
      throw new QuantlabError('bad-argument', `Cannot read --calib ${v.calib}: ${(err as Error).message}`);
    }
  }
  if (text.trim() === '') {
    throw new QuantlabError(
      'bad-argument',
      `The calibration text ${v.calib} is empty`,
      'Give a text of a few thousand characters.',
    );
  }
  const ctx = v.ctx ?? Math.min(128, maxPositions ?? 128);
  if (maxPositions !== undefined && ctx > maxPositions) {
    throw new QuantlabError(
      'bad-argument',
      `--ctx ${ctx} is longer than the model's ${maxPositions} positions (max_position_embeddings)`,
      `Use --ctx ${maxPositions} or less.`,
    );
  }
  configureNodeTransformers({ allowRemote: false });
  const tokenizer = await AutoTokenizer.from_pretrained(dir);
  const all = tokenizer.encode(text);
  const ids = all.slice(0, v['calib-tokens'] ?? 256);
  if (ids.length < ctx) {
    throw new QuantlabError(
      'bad-argument',
      `The calibration text is too short: ${ids.length} tokens${all.length > ids.length ? ` (of ${all.length}, cut by --calib-tokens)` : ''}, and one window needs ${ctx}`,
      `Use a longer text, or a window of at most ${ids.length} tokens (--ctx).`,
    );
  }
  const bosId = (tokenizer as { bos_token_id?: number | null }).bos_token_id;
  return { ids, bos: typeof bosId === 'number' && ids[0] === bosId ? bosId : undefined, ctx };
}
