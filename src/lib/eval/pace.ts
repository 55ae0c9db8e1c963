// Long loops of the eval engine run on the page's main thread: they hand the thread back (a
// macrotask, so clicks, Cancel and rendering get in) whenever a slice of synchronous work has
// lasted SLICE_MS, which keeps every task well under Chromium's 50 ms "long task".

/** Synchronous work allowed between two yields. */
export const SLICE_MS = 10;

const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/** A function to await between steps: it yields to the event loop once SLICE_MS have passed since the last yield. */
export function pacer(sliceMs = SLICE_MS): () => Promise<void> {
  let since = now();
  return async () => {
    if (now() - since < sliceMs) return;
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
    since = now();
  };
}
