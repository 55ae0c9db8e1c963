// One column worker as the page uses it (a playground column, or one precision of the quality
// lab): started by the first call, every call rejected instead of left pending when the worker
// crashes or is terminated, and a fresh worker started by the call after that.

import type { Remote } from 'comlink';
import type { ColumnApi, ColumnHang } from '../../workers/protocol';
import { QuantlabError, toErrorInfo, type ErrorInfo } from '../lib/errors';
import { hookMs, testHooks } from './test-hooks';
import type { WorkerHandle } from './workers';

/** Starts a column worker (src/browser/workers.ts in the page, a fake in unit tests). */
export type StartColumnWorker = () => WorkerHandle<ColumnApi>;

export class ColumnClient {
  #handle: WorkerHandle<ColumnApi> | undefined;
  /** Rejecters of the calls in flight on the current worker. */
  #pending = new Set<(e: ErrorInfo) => void>();
  /** The test hook the current worker has (src/browser/test-hooks.ts). */
  #hang: ColumnHang | null = null;
  /** The token pace the current worker has (test hook). */
  #pace = 0;

  /**
   * `onDiscard` runs on every terminate(), a crash's included: what the worker had loaded is gone.
   * `onCrash` runs when the worker died by itself, with the number of calls it failed (0: it died
   * idle, so no call will report it).
   */
  constructor(
    private readonly start: StartColumnWorker,
    private readonly onDiscard?: () => void,
    private readonly onCrash?: (message: string, failedCalls: number) => void,
  ) {}

  /** Whether a worker is running now. */
  get started(): boolean {
    return this.#handle !== undefined;
  }

  /** Runs one worker call; its error, a crash or a terminate() rejects it with a QuantlabError. */
  call<T>(fn: (api: Remote<ColumnApi>) => Promise<T>): Promise<T> {
    const h = this.#handle ?? this.#start();
    // The test hook, as it is now (messages keep their order: the worker has it before this call).
    const hang = testHooks().hang ?? null;
    if (hang !== this.#hang) {
      this.#hang = hang;
      void h.api.hang(hang);
    }
    const pace = hookMs(testHooks().tokenMs, 0);
    if (pace !== this.#pace) {
      this.#pace = pace;
      void h.api.pace(pace);
    }
    return new Promise<T>((resolve, reject) => {
      const fail = (e: ErrorInfo) => {
        this.#pending.delete(fail);
        reject(new QuantlabError(e.code, e.message, e.detail));
      };
      this.#pending.add(fail);
      fn(h.api).then(
        (v) => {
          this.#pending.delete(fail);
          resolve(v);
        },
        (err: unknown) => fail(toErrorInfo(err)),
      );
    });
  }

  #start(): WorkerHandle<ColumnApi> {
    const h = this.start();
    this.#handle = h;
    this.#hang = null;
    this.#pace = 0;
    // A dead worker answers nothing: its calls fail with the reason, and the next call starts another.
    h.onCrash((message) => {
      if (this.#handle !== h) return;
      const failedCalls = this.#pending.size;
      this.#failAll({
        code: 'internal',
        message: `This column's worker crashed: ${message}`,
        detail: 'Retry starts a new worker.',
      });
      this.terminate();
      this.onCrash?.(message, failedCalls);
    });
    return h;
  }

  #failAll(e: ErrorInfo): void {
    for (const fail of [...this.#pending]) fail(e);
  }

  /** Asks the running worker to stop its current run (a soft cancel); no worker is started for it. */
  cancel(): void {
    if (this.#handle) void this.#handle.api.cancel();
  }

  /** Asks the running worker to cancel its load's downloads; no worker is started for it. */
  cancelLoad(): void {
    if (this.#handle) void this.#handle.api.cancelLoad();
  }

  /** Terminates the worker (its memory goes back); calls in flight fail as cancelled. */
  terminate(): void {
    this.#handle?.terminate();
    this.#handle = undefined;
    this.onDiscard?.();
    this.#failAll({ code: 'cancelled', message: 'Cancelled: the worker was stopped' });
  }
}
