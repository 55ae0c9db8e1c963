// One column of the playground: one model variant in its own worker (a ColumnClient: started
// lazily, terminated on a hard cancel, a crash or a dispose). It keeps the device choice, load
// progress, the streamed text and its timings, and its own error: nothing here touches other columns.
// Stop keeps the worker and its loaded session; termination is the last resort, after STOP_MS, and
// watchdogs end a load or a generation that makes no progress for WATCHDOG_MS.

import { proxy } from 'comlink';
import { ColumnClient, type StartColumnWorker } from '../browser/column-client';
import { chooseDevice, wasmThreadCount, type DeviceChoice } from '../lib/page/device';
import { hookMs, testHooks } from '../browser/test-hooks';
import { formatPart, type DownloadSnapshot } from '../lib/download/progress';
import { loadStage } from '../lib/page/load-progress';
import { toErrorInfo, type ErrorInfo } from '../lib/errors';
import type { ModelRef } from '../lib/model/ref';
import type { PlatformInfo } from '../lib/page/platform';
import type { GenerateParams, GenerateResult, LoadProgress, Timings, TokenEvent } from '../lib/runner/types';
import type { DevicePreference } from '../lib/page/settings';
import type { FloorMeasurement } from '../lib/page/latency';
import type { VariantInfo } from '../lib/variants/table';
import { ColumnFloor } from './latency.svelte.ts';

export type ColumnStatus = 'idle' | 'loading' | 'ready' | 'generating' | 'done' | 'error';

export interface ColumnDeps {
  startWorker: StartColumnWorker;
  platform(): PlatformInfo | null;
  devicePreference(): DevicePreference;
  /** How many columns share the cores (each WASM column gets its share of threads). */
  columns?(): number;
  /** Called when a generation finishes (to persist the results). */
  onDone?(column: Column): void;
  /** Watchdog and Stop times (defaults WATCHDOG_MS and STOP_MS; the browser tests' hooks override those). */
  timeouts?: Partial<ColumnTimeouts>;
}

export interface ColumnTimeouts {
  /** A load with no progress event for this long is ended with a message. */
  loadMs: number;
  /** A generation with no new token for this long is ended with a message. */
  generateMs: number;
  /** How long Stop waits for the worker to answer before terminating it. */
  stopMs: number;
}

/** What a finished column keeps across a reload. */
export interface ColumnResult {
  text: string;
  ids: number[];
  offsets: (number | null)[];
  timings: Timings | null;
  device: DeviceChoice | null;
  bytes?: number;
}

/**
 * Streamed tokens are shown at most this often. A timer, not requestAnimationFrame: frames wait
 * while the page is starved of CPU (the columns' threads use every core), timers and the token
 * messages still run, so the text keeps moving and one update takes every token that has come.
 */
const SHOW_EVERY_MS = 16;

/**
 * No progress for this long ends a load or a generation. A load reports progress while it reads
 * files, not while ONNX Runtime builds the session (a large model on a slow machine takes tens of
 * seconds); a generation reports every token, the first after the whole prompt.
 */
export const WATCHDOG_MS = { load: 120_000, generate: 60_000 } as const;

/** How long Stop may take before the worker is terminated (a worker answers within one token). */
export const STOP_MS = 3000;

/** "1.5 s", "120 s". */
const seconds = (ms: number) => `${Number((ms / 1000).toFixed(1))} s`;

/** What a column says after Cancel: what was cut short and what was kept. */
function downloadCancelledNotice(d: DownloadSnapshot | null): string {
  const cut = d?.files.filter((f) => f.source === 'network' && f.state !== 'done') ?? [];
  const kept = d?.files.filter((f) => f.state === 'done').length ?? 0;
  const what = cut.length
    ? `${cut.map((f) => `${f.file} (${formatPart(f.loaded, f.total)})`).join(', ')} not kept`
    : 'nothing was downloading';
  return `Download cancelled: ${what}; ${kept} file${kept === 1 ? '' : 's'} read in full stay in the browser cache. Generate loads it again.`;
}

/** A timer that calls `onStall` once it has not been kicked for `ms`. */
function watchdog(ms: number, onStall: () => void): { kick(): void; stop(): void } {
  let timer = setTimeout(onStall, ms);
  return {
    kick() {
      clearTimeout(timer);
      timer = setTimeout(onStall, ms);
    },
    stop: () => clearTimeout(timer),
  };
}

export class Column {
  status = $state<ColumnStatus>('idle');
  device = $state<DeviceChoice | null>(null);
  threads = $state(0);
  progress = $state<{ message: string; fraction: number | null } | null>(null);
  text = $state('');
  ids = $state.raw<number[]>([]);
  /** offsets[k]: length of `text` after token k (as the stream arrives; undefined in saved results that carry no offsets). */
  offsets = $state.raw<(number | undefined)[]>([]);
  timings = $state.raw<Timings | null>(null);
  /** Per-token latency (the worker's clock), as it streams and once done. */
  tokenMs = $state.raw<number[]>([]);
  bytes = $state<number | undefined>(undefined);
  error = $state<(ErrorInfo & { during: 'load' | 'generate' }) | null>(null);
  /** Shown text comes from a previous page session. */
  restored = $state(false);
  /** The last run stopped early (Stop, or a newer setting). */
  stopped = $state(false);
  /** How many tokens the last run had written when it stopped (null: it did not stop early). */
  stoppedAt = $state<number | null>(null);
  /** A Hub model's files in the current or last load: each one's bytes, rate and source (network or browser cache). */
  downloads = $state.raw<DownloadSnapshot | null>(null);
  /** What happened to the column that is not an error (e.g. its worker had to be terminated). */
  notice = $state<string | null>(null);
  /** Loads that succeeded in this column (the next Generate after a Stop must not add one). */
  loads = $state(0);
  /** The playground generation whose tokens `text` holds. */
  generation = $state(0);
  /** The speed floor measured on this column's session (greedy playground loop vs a raw loop). */
  readonly floorState = new ColumnFloor();

  #client: ColumnClient;
  /** WASM threads of the current worker's ONNX Runtime, once it has loaded on WASM. */
  #workerThreads: number | undefined;
  #loadedOn = $state<'wasm' | 'webgpu' | null>(null);
  #loading: Promise<boolean> | undefined;
  #run: Promise<unknown> | undefined;
  #gen = 0;
  /** The generation asked for, until it is done (Retry repeats it if it failed). */
  #request: { params: GenerateParams; gen: number } | undefined;
  #forceWasm = false;
  /** Stop was pressed while generation `#stoppedGen` was still loading: it must not start. */
  #stoppedGen = -1;
  /** Cancel was pressed during the load in flight. */
  #downloadCancelled = false;

  constructor(
    readonly ref: ModelRef,
    readonly variant: VariantInfo,
    private readonly deps: ColumnDeps,
  ) {
    this.bytes = variant.bytes;
    this.#client = new ColumnClient(deps.startWorker, () => {
      this.#loadedOn = null;
      this.#workerThreads = undefined;
    });
  }

  get loaded(): boolean {
    return this.#loadedOn !== null;
  }

  /** The last floor measurement, if any. */
  get floor(): FloorMeasurement | null {
    return this.floorState.result;
  }

  get floorError(): ErrorInfo | null {
    return this.floorState.error;
  }

  /** The timeouts in force now (the test hooks are read at each use). */
  #timeouts(): ColumnTimeouts {
    const t = this.deps.timeouts ?? {};
    const hooks = testHooks();
    return {
      loadMs: hookMs(hooks.watchdogMs, t.loadMs ?? WATCHDOG_MS.load),
      generateMs: hookMs(hooks.watchdogMs, t.generateMs ?? WATCHDOG_MS.generate),
      stopMs: hookMs(hooks.stopMs, t.stopMs ?? STOP_MS),
    };
  }

  /** Terminates the worker (its memory goes back); calls in flight fail as cancelled. */
  #discardWorker(): void {
    this.#client.terminate();
  }

  #fail(e: ErrorInfo, during: 'load' | 'generate'): void {
    if (e.code === 'cancelled') {
      this.status = this.#loadedOn ? 'ready' : 'idle';
      this.progress = null;
      return;
    }
    this.error = { ...e, during };
    this.status = 'error';
    this.progress = null;
  }

  /** Loads the variant (once); resolves false after showing the error. */
  load(): Promise<boolean> {
    if (this.#loadedOn) return Promise.resolve(true);
    this.#loading ??= this.#load().finally(() => (this.#loading = undefined));
    return this.#loading;
  }

  async #load(): Promise<boolean> {
    this.error = null;
    this.notice = null;
    if (this.variant.externalData) {
      this.#fail(
        {
          code: 'unsupported-model',
          message: `${this.variant.stem}.onnx keeps its weights in a separate .onnx_data file`,
          detail: 'This app loads single-file ONNX variants only; pick another precision.',
        },
        'load',
      );
      return false;
    }
    const columns = this.deps.columns?.() ?? 1;
    const choice: DeviceChoice = this.#forceWasm
      ? {
          device: 'wasm',
          reason: 'retrying after a WebGPU failure',
          threads: wasmThreadCount(this.deps.platform(), columns),
        }
      : chooseDevice(this.variant, this.deps.platform(), this.deps.devicePreference(), columns);
    // ONNX Runtime fixes a worker's thread count at its first session: another count needs a new worker.
    if (choice.device === 'wasm' && this.#workerThreads !== undefined && this.#workerThreads !== choice.threads)
      this.#discardWorker();
    this.device = choice;
    this.status = 'loading';
    this.downloads = null;
    this.#downloadCancelled = false;
    this.progress = { message: `Starting a ${choice.device.toUpperCase()} session`, fraction: null };
    // A load that stops reporting progress is ended: its worker is terminated (the call fails as
    // cancelled) and the column says why.
    const waitMs = this.#timeouts().loadMs;
    let stalled = false;
    const dog = watchdog(waitMs, () => {
      stalled = true;
      this.#discardWorker();
    });
    // Progress may trail the load's result (its own channel): none is shown once the load has ended.
    let ended = false;
    const onProgress = proxy((p: LoadProgress) => {
      if (ended) return;
      dog.kick();
      if (p.status === 'files') this.downloads = p.downloads;
      if (p.status === 'download' && p.file.endsWith('.onnx') && p.total > 0) this.bytes = p.total;
      const stage = loadStage(p);
      if (stage) this.progress = stage;
    });
    try {
      const r = await this.#client.call((api) =>
        api.load($state.snapshot(this.ref) as ModelRef, this.variant.stem, choice.device, onProgress, choice.threads),
      );
      this.#loadedOn = choice.device;
      if (r.downloads) this.downloads = r.downloads;
      this.threads = r.threads;
      if (choice.device === 'wasm') this.#workerThreads = r.threads;
      this.loads++;
      this.status = 'ready';
      this.progress = null;
      return true;
    } catch (err) {
      if (stalled) {
        this.#fail(this.#loadStalled(waitMs), 'load');
        return false;
      }
      const e = toErrorInfo(err);
      // A failed WebGPU session can poison later ones in the same worker: start afresh next time
      // (a crash or a hard cancel has ended the worker already).
      if (e.code !== 'cancelled') this.#discardWorker();
      this.#fail(e, 'load');
      if (e.code === 'cancelled' && this.#downloadCancelled) this.notice = downloadCancelledNotice(this.downloads);
      return false;
    } finally {
      ended = true;
      dog.stop();
    }
  }

  #loadStalled(ms: number): ErrorInfo {
    const columns = this.deps.columns?.() ?? 1;
    return {
      code: 'load-failed',
      message: `Loading ${this.variant.label} made no progress for ${seconds(ms)}, so it was stopped.`,
      detail:
        columns > 1
          ? `The browser may be short of memory with ${columns} columns loaded at once: remove some columns or close other tabs, then press Retry.`
          : 'The browser may be short of memory: close other tabs, then press Retry.',
    };
  }

  /**
   * Waits for the run in flight to stop: a soft cancel first (the worker stops after its current
   * token and keeps its session), the worker's termination if it has not answered after stopMs.
   * `why` ends the notice shown then.
   */
  async #settle(why: string): Promise<void> {
    const run = this.#run;
    if (!run) return;
    this.#client.cancel();
    const waitMs = this.#timeouts().stopMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const hung = await Promise.race([
      run.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), waitMs))),
    ]);
    clearTimeout(timer);
    if (hung && this.#run === run) {
      this.hardCancel();
      this.notice = `The worker did not stop within ${seconds(waitMs)}, so it was terminated and the model unloaded; ${why}`;
    }
    if (this.#run === run) this.#run = undefined;
  }

  /**
   * Generates for playground generation `gen`. A newer call supersedes this one at once: from
   * then on this run's tokens and result are dropped, so no stale token is ever shown.
   */
  async generate(params: GenerateParams, gen: number): Promise<void> {
    this.#gen = gen;
    this.#request = { params, gen };
    this.generation = gen;
    this.text = '';
    this.ids = [];
    this.offsets = [];
    this.tokenMs = [];
    this.timings = null;
    this.restored = false;
    this.stopped = false;
    this.stoppedAt = null;
    this.notice = null;
    this.#stoppedGen = -1;
    await this.#settle('it is loading again.');
    if (gen !== this.#gen) return;
    if (!(await this.load()) || gen !== this.#gen) return;
    if (gen === this.#stoppedGen) {
      this.#request = undefined;
      this.stopped = true;
      this.stoppedAt = 0;
      return;
    }
    this.error = null;
    this.status = 'generating';
    let finished = false;
    // A generation with no new token for generateMs is ended like a load that stalls.
    const waitMs = this.#timeouts().generateMs;
    let stalled = false;
    const dog = watchdog(waitMs, () => {
      stalled = true;
      this.#discardWorker();
    });
    // The worker posts its stream about once a frame (token-batch.ts); columns' posts are shown
    // together at most every SHOW_EVERY_MS, so the page's work stays bounded.
    let latest: TokenEvent | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const show = () => {
      timer = undefined;
      if (gen !== this.#gen || finished || !latest) return;
      this.ids = latest.ids as number[];
      this.text = latest.text;
      this.offsets = latest.offsets as number[];
      this.tokenMs = latest.tokenMs as number[];
    };
    const onToken = proxy((e: TokenEvent) => {
      if (gen !== this.#gen) return;
      dog.kick();
      if (finished) {
        // Events travel on their own channel and may trail the final result: only their offsets count.
        if (e.offsets.length > this.offsets.length) this.offsets = e.offsets as number[];
        return;
      }
      // ... or each other: the longest stream wins.
      if (latest && e.ids.length <= latest.ids.length) return;
      latest = e;
      timer ??= setTimeout(show, SHOW_EVERY_MS);
    });
    const run = this.#client.call((api) => api.generate(params, onToken));
    this.#run = run.catch(() => undefined);
    let v: GenerateResult;
    try {
      v = await run;
    } catch (err) {
      if (gen !== this.#gen) return;
      if (stalled) this.#fail(this.#generateStalled(waitMs), 'generate');
      else this.#fail(toErrorInfo(err), 'generate');
      return;
    } finally {
      dog.stop();
      // What streamed so far is shown even when the run failed or was stopped.
      clearTimeout(timer);
      show();
      finished = true;
      // Terminated meanwhile (Kill, or a Stop that the worker did not answer): stopped where it shows.
      if (this.stopped) this.stoppedAt = this.ids.length;
    }
    if (gen !== this.#gen) return;
    this.ids = v.ids;
    this.text = v.text;
    this.timings = v.timings;
    this.tokenMs = v.timings.tokenMs;
    this.stopped = v.cancelled;
    this.stoppedAt = v.cancelled ? v.ids.length : null;
    this.status = 'done';
    // Nothing left to retry: a later failed load is retried as a load.
    this.#request = undefined;
    this.deps.onDone?.(this);
  }

  #generateStalled(ms: number): ErrorInfo {
    const n = this.ids.length;
    return {
      code: 'generate-failed',
      message: `${this.variant.label} made no progress for ${seconds(ms)} (${n ? `no token after token ${n}` : 'no first token'}), so it was stopped and the model unloaded.`,
      detail: 'Press Retry to load it again and generate.',
    };
  }

  /**
   * Measures the speed floor on this column's loaded session (see ColumnApi.floor). Does nothing
   * unless the column is loaded and idle; a generation asked for meanwhile cancels it.
   */
  measureFloor(prompt: string, newTokens: number): Promise<void> {
    if (!this.loaded || this.status === 'generating' || this.status === 'loading') return Promise.resolve();
    return this.floorState.measure(() => this.#client.call((api) => api.floor(prompt, newTokens)));
  }

  /** Stops a floor measurement after its current run. */
  cancelFloor(): void {
    if (this.floorState.measuring) this.#client.cancel();
  }

  /**
   * Stops the run in flight after its current token, keeping what it wrote, the loaded session and
   * the figures; the worker is terminated only if it has not stopped after stopMs. A generation
   * still loading its model loads it but does not start.
   */
  stop(): void {
    if (this.status === 'generating') void this.#settle('the next Generate loads it again.');
    else if (this.status === 'loading' && this.#request?.gen === this.#gen) this.#stoppedGen = this.#gen;
  }

  /**
   * Cancels the load's downloads (the worker stays; its fetches are aborted): the column goes back
   * to 'idle' and says what was kept. Files read in full stay in the browser cache.
   */
  cancelDownload(): void {
    if (this.status !== 'loading') return;
    this.#downloadCancelled = true;
    this.#client.cancelLoad();
  }

  /** Terminates the worker now; the next load or generate starts a new one. */
  hardCancel(): void {
    const wasBusy = this.status === 'generating' || this.status === 'loading';
    this.#discardWorker();
    if (wasBusy) {
      this.stopped = true;
      this.notice = 'The worker was terminated and the model unloaded; the next Generate loads it again.';
      this.status = 'idle';
      this.progress = null;
    } else if (this.status === 'ready' || this.status === 'done') {
      this.status = 'idle';
    }
  }

  /** Repeats what failed: the last generation if nothing newer was asked for, else the load. */
  retry(opts: { wasm?: boolean } = {}): void {
    if (opts.wasm) {
      this.#forceWasm = true;
      this.#discardWorker();
    }
    this.error = null;
    const req = this.#request;
    if (req && req.gen === this.#gen) void this.generate(req.params, req.gen);
    else void this.load();
  }

  /** Frees the worker but keeps the text (e.g. the device preference changed). */
  unload(): void {
    this.#forceWasm = false;
    this.hardCancel();
  }

  dispose(): void {
    this.#gen = -1;
    this.#discardWorker();
  }

  /** What to keep across a reload. */
  result(): ColumnResult {
    return {
      text: this.text,
      ids: this.ids,
      offsets: this.offsets.map((o) => o ?? null),
      timings: this.timings,
      device: this.device,
      bytes: this.bytes,
    };
  }

  /** Shows a result kept from the previous page session. */
  restore(r: ColumnResult): void {
    this.text = r.text;
    this.ids = r.ids;
    this.offsets = r.offsets.map((o) => (typeof o === 'number' ? o : undefined));
    this.timings = r.timings;
    this.tokenMs = r.timings?.tokenMs ?? [];
    this.device = r.device;
    if (r.bytes !== undefined) this.bytes = r.bytes;
    this.restored = true;
  }
}
