// A wait for the next task of the event loop, not just the next microtask. ONNX Runtime Web's WASM
// backend answers session.run() through promises alone, so a decode loop awaiting it never lets
// the worker read its messages: a Stop posted by the page would wait for the loop's end. Awaiting
// this between tokens lets that message in. Browsers: a MessageChannel message (setTimeout(0) is
// clamped to 4 ms once timers nest). Node: setImmediate, since Node drains up to a thousand
// messages of one port before it serves another. The hop itself is not free, so a decode loop takes
// it only when needed: atMostEvery (on a timer) or whileMessagesWaiting (when a message is on its way).

let channel: MessageChannel | undefined;
const waiting: (() => void)[] = [];

/** Resolves in a later task, after the messages already queued for this thread. */
export function nextTask(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  if (!channel) {
    channel = new MessageChannel();
    channel.port1.onmessage = () => waiting.shift()?.();
  }
  const port = channel.port2;
  return new Promise((resolve) => {
    waiting.push(resolve);
    port.postMessage(0);
  });
}

/**
 * `wait` at most once per `ms` (a resolved promise otherwise): a fast model's tokens take about a
 * millisecond, and a task hop per token costs a visible share of its decode speed, while a Stop
 * read within `ms` plus one token is as prompt as a person can tell.
 */
export function atMostEvery(
  ms: number,
  wait: () => Promise<void>,
  now: () => number = () => performance.now(),
): () => Promise<void> {
  let last = now();
  return () => {
    const t = now();
    if (t - last < ms) return Promise.resolve();
    last = t;
    return wait();
  };
}

/**
 * `wait` only while a message the page has posted has not been delivered yet: the page counts the
 * messages it posts to this worker in posted[0] (countingEndpoint, src/browser/rpc.ts), the worker
 * counts those it has received, and between tokens the loop yields until the two agree. A task hop
 * is not free where ONNX Runtime's threads fill the cores, since a message a thread sends itself
 * waits for a core like any other thread: on 2 cores with 2 WASM threads and a hop every 8 ms, the
 * decode loop ran at a median 0.55 of a raw loop on the same session, 0.99 without (README,
 * "Browser decode and the task hop"). A message still on its way keeps the loop yielding at every
 * token until it arrives, so none is left unread. A cross-origin isolated page (the only kind with
 * more than one WASM thread) can share the count; others hop on a timer (atMostEvery).
 */
export function whileMessagesWaiting(
  posted: Int32Array,
  received: () => number,
  wait: () => Promise<void>,
): () => Promise<void> {
  // Both counts as int32, so they agree after the page's count wraps around.
  return () => (Atomics.load(posted, 0) !== (received() | 0) ? wait() : Promise.resolve());
}
