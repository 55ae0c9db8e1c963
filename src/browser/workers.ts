// Starts the app's workers with typed comlink handles; a column worker can be terminated and
// replaced (the hard cancel, and the way to give its memory back).
import type { Endpoint, Remote } from 'comlink';
import type { BuilderApi, ColumnApi, FloorApi } from '../../workers/protocol';
import { connect, countingEndpoint, type Crashable } from './rpc';

export interface WorkerHandle<T> extends Crashable {
  api: Remote<T>;
  /** When the worker was created (wall clock, ms since the epoch). */
  startedAt?: number;
  terminate(): void;
  /**
   * Calls `listener` when the worker dies (an uncaught error or a message it cannot read): a
   * pending comlink call would otherwise never settle. Returns a function that removes it.
   */
  onCrash(listener: (message: string) => void): () => void;
}

function handle<T>(w: Worker, ep: Endpoint = w): WorkerHandle<T> {
  return {
    api: connect<T>(ep),
    startedAt: performance.timeOrigin + performance.now(),
    terminate: () => w.terminate(),
    onCrash(listener) {
      const onError = (e: ErrorEvent) => listener(e.message || 'the worker stopped with an uncaught error');
      const onMessageError = () => listener('the worker sent a message the page could not read');
      w.addEventListener('error', onError);
      w.addEventListener('messageerror', onMessageError);
      return () => {
        w.removeEventListener('error', onError);
        w.removeEventListener('messageerror', onMessageError);
      };
    },
  };
}

/** A column worker started ahead of need (prestartColumnWorker), handed to the next startColumnWorker(). */
let spare: WorkerHandle<ColumnApi> | undefined;

export function startColumnWorker(): WorkerHandle<ColumnApi> {
  const ready = spare;
  spare = undefined;
  if (ready) return ready;
  const w = new Worker(new URL('../../workers/column.worker.ts', import.meta.url), { type: 'module', name: 'column' });
  // Without cross-origin isolation there is no SharedArrayBuffer (and one WASM thread, where the
  // worker's timed hop between tokens costs little): the worker keeps its 8 ms hop then.
  if (!self.crossOriginIsolated) return handle(w);
  // Every message to the worker is counted, so its decode loop yields only while one is on its way.
  const posted = new Int32Array(new SharedArrayBuffer(4));
  const h = handle<ColumnApi>(w, countingEndpoint(w, posted));
  // Answered by the worker's entry; a worker whose script fails says so on the column's own calls.
  h.api.mailbox(posted).catch(() => {});
  return h;
}

/**
 * Starts one column worker now, for the next startColumnWorker() to take: its script (transformers.js
 * and ONNX Runtime's JS) loads while the page is still starting, before any column exists.
 */
export function prestartColumnWorker(): void {
  spare ??= startColumnWorker();
}

export function startBuilderWorker(): WorkerHandle<BuilderApi> {
  return handle(
    new Worker(new URL('../../workers/builder.worker.ts', import.meta.url), { type: 'module', name: 'builder' }),
  );
}

/**
 * A handle whose worker starts on first use: the first touch of `api`. Crash listeners added
 * before then are attached when it starts; `terminate()` before then does nothing.
 */
export interface LazyWorkerHandle<T> extends WorkerHandle<T> {
  /** Whether the worker has been started. */
  readonly started: boolean;
}

export function lazyWorker<T>(start: () => WorkerHandle<T>): LazyWorkerHandle<T> {
  let h: WorkerHandle<T> | undefined;
  // Crash listeners added before the start, each with its remover once attached.
  const early = new Map<(message: string) => void, (() => void) | undefined>();
  const begin = (): WorkerHandle<T> => {
    if (h) return h;
    const started = (h = start());
    for (const l of early.keys()) early.set(l, started.onCrash(l));
    return started;
  };
  return {
    get api() {
      return begin().api;
    },
    get startedAt() {
      return h?.startedAt;
    },
    get started() {
      return h !== undefined;
    },
    terminate: () => h?.terminate(),
    onCrash(listener) {
      if (h) return h.onCrash(listener);
      early.set(listener, undefined);
      return () => {
        early.get(listener)?.();
        early.delete(listener);
      };
    },
  };
}

/** The benchmark's floor: a raw onnxruntime-web decode loop on the file a column loads. */
export function startFloorWorker(): WorkerHandle<FloorApi> {
  return handle(
    new Worker(new URL('../../workers/floor.worker.ts', import.meta.url), { type: 'module', name: 'floor' }),
  );
}
