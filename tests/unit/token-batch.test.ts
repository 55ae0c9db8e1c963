// A column worker's stream posts on a fake clock: the first token at once, then at most one post
// per interval with the newest stream, the held-back rest on flush, nothing lost or repeated.
import { describe, expect, it } from 'vitest';
import { batchTokens } from '../../src/lib/runner/token-batch';
import type { TokenEvent } from '../../src/lib/runner/types';

/** The stream after each of `n` tokens, as the runner builds it (growing arrays, copied here). */
function stream(n: number): TokenEvent[] {
  const out: TokenEvent[] = [];
  for (let k = 1; k <= n; k++) {
    const ids = Array.from({ length: k }, (_, i) => 10 + i);
    out.push({
      ids,
      text: 'x'.repeat(2 * k),
      offsets: ids.map((_, i) => 2 * (i + 1)),
      tokenMs: ids.slice(1).map(() => 3),
    });
  }
  return out;
}

describe('batchTokens', () => {
  it('posts the first token at once, then at most one stream per interval, and the rest on flush', () => {
    let clock = 0;
    const sent: { at: number; tokens: number }[] = [];
    const b = batchTokens(
      (e) => sent.push({ at: clock, tokens: e.ids.length }),
      16,
      () => clock,
    );
    // A token every 3 ms: 20 tokens over 57 ms.
    for (const e of stream(20)) {
      b.push(e);
      clock += 3;
    }
    b.flush();
    // Tokens arrive at 0, 3, ..., 57: posts at 0 (token 1), 18 (token 7), 36 (token 13), 54 (token 19); flush: token 20.
    expect(sent).toEqual([
      { at: 0, tokens: 1 },
      { at: 18, tokens: 7 },
      { at: 36, tokens: 13 },
      { at: 54, tokens: 19 },
      { at: 60, tokens: 20 },
    ]);
    // Flushing again posts nothing new.
    b.flush();
    expect(sent).toHaveLength(5);
  });

  it('posts every token when tokens are slower than the interval, and flush adds nothing', () => {
    let clock = 0;
    const sent: number[] = [];
    const b = batchTokens(
      (e) => sent.push(e.ids.length),
      16,
      () => clock,
    );
    for (const e of stream(5)) {
      b.push(e);
      clock += 40;
    }
    b.flush();
    expect(sent).toEqual([1, 2, 3, 4, 5]);
  });

  it('sends the event itself: the last post holds the whole stream', () => {
    let clock = 0;
    const got: TokenEvent[] = [];
    const b = batchTokens(
      (e) => got.push(e),
      16,
      () => clock,
    );
    const all = stream(9);
    for (const e of all) {
      b.push(e);
      clock += 1;
    }
    b.flush();
    expect(got).toEqual([all[0], all[8]]);
    expect(got.at(-1)!.offsets).toHaveLength(9);
  });
});
