// Token events as a worker posts them: at most one per interval. Each post wakes the page's main
// thread, which on a small machine takes a core from ONNX Runtime's threads, so the post rate must
// not grow with the token rate. A TokenEvent holds the whole stream so far, so the events left
// out lose nothing.

import type { TokenEvent } from './types';

/** How often a column worker posts its stream: about one screen refresh. */
export const STREAM_EVERY_MS = 16;

export interface TokenBatch {
  /** A new token: posted at once when the interval has passed since the last post, else held. */
  push(e: TokenEvent): void;
  /** Posts the event held back, if any (call it when generation ends, before returning). */
  flush(): void;
}

/**
 * Sends the first event at once (the first token shows without delay), then at most one every
 * `everyMs`, checked as tokens come (a decode loop leaves no room for timers), and the newest
 * held-back event on flush().
 */
export function batchTokens(
  send: (e: TokenEvent) => void,
  everyMs = STREAM_EVERY_MS,
  now: () => number = () => performance.now(),
): TokenBatch {
  let held: TokenEvent | undefined;
  let sentAt = -Infinity;
  return {
    push(e) {
      const t = now();
      if (t - sentAt >= everyMs) {
        held = undefined;
        sentAt = t;
        send(e);
      } else held = e;
    },
    flush() {
      if (!held) return;
      const e = held;
      held = undefined;
      sentAt = now();
      send(e);
    },
  };
}
