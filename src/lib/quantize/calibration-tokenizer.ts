// The calibration text as token ids, read with the model's own tokenizer files (tokenizer.json
// and tokenizer_config.json), the same way in Node and in the builder worker.

import * as transformers from '@huggingface/transformers';
import type { CalibrationText } from './calibration';

interface Tokenizer {
  encode(text: string): number[];
  bos_token_id?: number | null;
}
type TokenizerClass = new (json: object, config: object) => Tokenizer;

/** Token ids of `text` (with the BOS the tokenizer adds) and the BOS id, as transformers.js's AutoTokenizer would give them. */
export function encodeCalibrationText(tokenizerJson: object, tokenizerConfig: object, text: string): CalibrationText {
  const classes = transformers as unknown as Record<string, TokenizerClass | undefined>;
  const name = (tokenizerConfig as { tokenizer_class?: string }).tokenizer_class?.replace(/Fast$/, '');
  const Cls = (name && classes[name]) || classes.PreTrainedTokenizer!;
  const tok = new Cls(tokenizerJson, tokenizerConfig);
  const tokens = text.trim() === '' ? [] : Array.from(tok.encode(text));
  const bos = tok.bos_token_id;
  return { tokens, bos: typeof bos === 'number' ? bos : undefined };
}
