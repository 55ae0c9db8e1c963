// The one way the page and its workers talk (comlink), and how failures cross: a worker method
// throws, the error crosses as { code, message, detail } and the caller's await throws a
// QuantlabError with the same code; a worker that dies fails the calls waiting on it.
import { expose, transferHandlers, wrap, type Endpoint, type Remote, type TransferHandler } from 'comlink';
import { QuantlabError, toErrorInfo, type ErrorInfo } from '../lib/errors';
import type { Outcome } from '../lib/runner/types';

let registered = false;

/**
 * Replaces comlink's built-in 'throw' handler (which keeps only an Error's name, message and
 * stack) on this side of the boundary. Both sides must call it: the thrower serialises, the
 * caller deserialises. Anything thrown becomes an ErrorInfo (toErrorInfo: codes kept, AbortError
 * as 'cancelled', the rest 'internal').
 */
function registerErrorTransfer(): void {
  if (registered) return;
  registered = true;
  const builtin = transferHandlers.get('throw')!;
  const handler: TransferHandler<{ value: unknown }, ErrorInfo> = {
    // comlink marks a thrown value with a private symbol; its own handler knows it.
    canHandle: (v): v is { value: unknown } => builtin.canHandle(v),
    serialize: ({ value }) => [toErrorInfo(value), []],
    deserialize: (e) => {
      throw new QuantlabError(e.code, e.message, e.detail);
    },
  };
  transferHandlers.set('throw', handler as TransferHandler<unknown, unknown>);
}

/** In a worker: offers `api` to the page (or to the other end of `ep`). */
export function serve(api: object, ep: Endpoint = self): void {
  registerErrorTransfer();
  expose(api, ep);
}

/** On the page: a typed handle on the api a worker (or the other end of `ep`) serves. */
export function connect<T>(ep: Endpoint): Remote<T> {
  registerErrorTransfer();
  return wrap<T>(ep);
}

/**
 * `target` (a Worker) as a comlink endpoint that adds 1 to posted[0] after each message it posts,
 * so the worker can tell whether a message is still on its way (whileMessagesWaiting,
 * src/lib/runner/next-task.ts).
 */
export function countingEndpoint(target: Endpoint, posted: Int32Array): Endpoint {
  return {
    postMessage: (message: unknown, transfer?: Transferable[]) => {
      target.postMessage(message, transfer);
      Atomics.add(posted, 0, 1);
    },
    addEventListener: (...a: Parameters<Endpoint['addEventListener']>) => target.addEventListener(...a),
    removeEventListener: (...a: Parameters<Endpoint['removeEventListener']>) => target.removeEventListener(...a),
  };
}

/** What can report a dead worker (WorkerHandle does). */
export interface Crashable {
  /** Calls `listener` when the worker dies; returns a function that removes it. */
  onCrash(listener: (message: string) => void): () => void;
}

/**
 * The call's result, or `crashed(message)` thrown if the worker dies first: a pending comlink
 * call would otherwise never settle.
 */
export function guard<T>(w: Crashable, call: Promise<T>, crashed: (message: string) => QuantlabError): Promise<T> {
  let off = () => {};
  const died = new Promise<never>((_, reject) => {
    off = w.onCrash((message) => reject(crashed(message)));
  });
  return Promise.race([call, died]).finally(off);
}

/**
 * The result or the error as data, for a boundary that keeps only an error's message
 * (Playwright's page.evaluate, which the bench page answers).
 */
export async function outcome<T>(fn: () => T | Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    return { ok: false, error: toErrorInfo(err) };
  }
}
