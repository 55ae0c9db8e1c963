// The benchmark's prompt: a built-in text, repeated, encoded and cut so the model reads exactly
// the number of prompt tokens asked for (its BOS included, as generate() encodes it).

import { QuantlabError } from '../errors';
import type { Awaitable } from '../eval/model';

/** What a prompt is built with: a runner, or a column worker behind comlink. */
export interface PromptTokenizer {
  /** Ids as generate() reads the text (BOS added when the tokenizer has one). */
  encode(text: string): Awaitable<number[]>;
  /** Text of ids, special tokens skipped. */
  decode(ids: number[]): Awaitable<string>;
}

/**
 * Plain English prose, so every tokenizer (llama2.c's 512 tokens, BPE) finds its merges; a
 * children's story, the kind small models (aidreams260K, TinyStories) continue at length rather
 * than ending the text (the runner stops at end of sequence; a short run is reported as such).
 */
export const BENCH_TEXT =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. ' +
  'One day, she saw a big red ball under a tree. ';

/** How far from the cut point to look for a text that encodes to exactly n tokens. */
const SEARCH = 16;

/**
 * A prompt that encodes to exactly `n` tokens: the text repeated until it is long enough,
 * encoded, cut after k tokens and decoded; k starts at n and moves outwards (n, n-1, n+1, ...)
 * until decoding and encoding again gives n tokens (a cut can split a merge that re-encodes
 * differently). Returns the text and its ids.
 */
export async function buildPrompt(
  tok: PromptTokenizer,
  n: number,
  text: string = BENCH_TEXT,
): Promise<{ prompt: string; ids: number[] }> {
  if (!Number.isInteger(n) || n < 1)
    throw new QuantlabError('bad-argument', `the prompt must have a whole number >= 1 of tokens (got ${n})`);
  let long = text;
  let ids = await tok.encode(long);
  if (ids.length === 0) throw new QuantlabError('internal', 'the tokenizer turns the benchmark text into no tokens');
  while (ids.length < n + SEARCH) {
    long = long + long;
    ids = await tok.encode(long);
  }
  for (let d = 0; d <= SEARCH; d++) {
    for (const k of d === 0 ? [n] : [n - d, n + d]) {
      if (k < 1) continue;
      const prompt = await tok.decode(ids.slice(0, k));
      const again = await tok.encode(prompt);
      if (again.length === n) return { prompt, ids: again };
    }
  }
  throw new QuantlabError(
    'internal',
    `could not build a prompt of exactly ${n} tokens with this tokenizer`,
    'Try another --prompt-tokens.',
  );
}
