// The aidreams260K oracle: llama2.c's greedy continuations and fp32 logits, read at test time.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { AIDREAMS } from './paths';

export interface GreedyReference {
  prompt: string;
  prompt_ids: number[];
  greedy_ids: number[];
  text: string;
}

export const CHECKPOINT = resolve(AIDREAMS, 'aidreams260K.bin');
export const TOKENIZER = resolve(AIDREAMS, 'tok512.bin');

export function readCheckpoint(): Uint8Array {
  return new Uint8Array(readFileSync(CHECKPOINT));
}
export function readTokenizer(): Uint8Array {
  return new Uint8Array(readFileSync(TOKENIZER));
}
export function greedyReferences(): GreedyReference[] {
  return JSON.parse(readFileSync(resolve(AIDREAMS, 'greedy-reference.json'), 'utf8')).references;
}
/** llama2.c's logits [128 positions x 512] for "I dreamed" under greedy decoding. */
export function referenceLogits(): Float32Array {
  const b = readFileSync(resolve(AIDREAMS, 'logits-I-dreamed.f32'));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
