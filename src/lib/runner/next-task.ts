// A wait for the next task of the event loop, not just the next microtask. ONNX Runtime Web's WASM
// backend answers session.run() through promises alone, so a decode loop awaiting it never lets
// the worker read its messages: a Stop posted by the page would wait for the loop's end. Awaiting
// this between tokens lets that message in. A MessageChannel rather than setTimeout(0), which
// browsers clamp to 4 ms once timers nest.

let channel: MessageChannel | undefined;
const waiting: (() => void)[] = [];

/** Resolves in a later task, after the messages already queued for this thread. */
export function nextTask(): Promise<void> {
  if (!channel) {
    channel = new MessageChannel();
    channel.port1.onmessage = () => waiting.shift()?.();
    // Node: an idle channel must not keep the process alive.
    (channel.port1 as { unref?: () => void }).unref?.();
  }
  const port = channel.port2;
  return new Promise((resolve) => {
    waiting.push(resolve);
    port.postMessage(0);
  });
}
