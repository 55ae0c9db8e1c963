// How a long text is cut into teacher-forced windows and which positions are scored, exactly as
// llama.cpp's perplexity tool does it (tools/perplexity/perplexity.cpp, perplexity() and
// kl_divergence()), plus the byte span of the scored tokens for bits per byte.

/** One window of `ctx` tokens of the text. */
export interface Window {
  /** Index in the text's token ids of the window's first token. */
  start: number;
  /** The ids fed to the model: tokens[start .. start + ctx), the first replaced by BOS when the tokenizer adds one. */
  ids: number[];
  /** Logit rows first .. ctx - 2 are scored; row j predicts ids[j + 1]. */
  firstRow: number;
  /** Number of scored rows: ctx - 1 - floor(ctx / 2). */
  scored: number;
}

/** Tokens scored per window: ctx - 1 - floor(ctx / 2) (llama.cpp: `n_ctx - 1 - first`). */
export function scoredPerWindow(ctx: number): number {
  return ctx - 1 - Math.floor(ctx / 2);
}

/**
 * Cuts `tokens` (the whole text, tokenized with its BOS as llama.cpp's common_tokenize(.., true)
 * does) into n = floor(length / ctx) back-to-back windows [i*ctx, (i+1)*ctx); leftover tokens are
 * not used. In each window the first id becomes `bos` (when given), and only the second half is
 * scored: with first = floor(ctx / 2), logit rows first .. ctx-2 predict tokens first+1 .. ctx-1,
 * so every scored token has at least floor(ctx/2) tokens of context. `maxWindows` caps n
 * (llama.cpp's --chunks). llama.cpp refuses texts under 2*ctx tokens; here one window is enough.
 */
export function planWindows(tokens: readonly number[], ctx: number, bos?: number, maxWindows = Infinity): Window[] {
  const n = Math.min(Math.floor(tokens.length / ctx), maxWindows);
  const first = Math.floor(ctx / 2);
  const out: Window[] = [];
  for (let i = 0; i < n; i++) {
    const start = i * ctx;
    const ids = tokens.slice(start, start + ctx);
    if (bos !== undefined) ids[0] = bos;
    out.push({ start, ids, firstRow: first, scored: scoredPerWindow(ctx) });
  }
  return out;
}

const utf8 = new TextEncoder();

/** UTF-8 length of a string, in bytes. */
export function utf8Bytes(s: string): number {
  return utf8.encode(s).length;
}

/** Tokens decoded before a scored span so the decoder sees it in context (leading spaces, byte runs). */
const LOOK_BACK = 8;

/**
 * Bytes of text a window's scored tokens stand for: with a = the index of the first scored token
 * and b = the window's end, the UTF-8 length of decode(tokens[k .. b)) minus that of
 * decode(tokens[k .. a)), k = max(0, a - 8). Decoding both from the same earlier token keeps a
 * tokenizer's first-token handling (a stripped leading space) out of the difference and costs
 * O(ctx) per window. `decode` must skip special tokens. When a cut falls inside a multi-byte
 * character the decoder shows the partial bytes as U+FFFD (3 bytes), so the count can be off by
 * a few bytes there.
 */
export async function scoredBytes(
  tokens: readonly number[],
  w: Window,
  decode: (ids: number[]) => string | Promise<string>,
): Promise<number> {
  const from = w.start + w.firstRow + 1;
  const to = from + w.scored;
  const k = Math.max(0, from - LOOK_BACK);
  const [a, b] = await Promise.all([decode(tokens.slice(k, from)), decode(tokens.slice(k, to))]);
  return utf8Bytes(b) - utf8Bytes(a);
}
