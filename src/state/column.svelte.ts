// One column of the playground: one model variant in its own worker (a ColumnClient: started
// lazily, terminated on a hard cancel, a crash or a dispose). It keeps the device choice, load
// progress, the streamed text and its timings, and its own error: nothing here touches other columns.
// Stop keeps the worker and its loaded session; termination is the last resort, after STOP_MS, and
// watchdogs end a load or a generation that makes no progress for WATCHDOG_MS.

import { proxy, transfer } from 'comlink';
import { ColumnClient, type StartColumnWorker } from '../browser/column-client';
import { chooseDevice, wasmThreadCount, type DeviceChoice } from '../lib/page/device';
import { hookMs, testHooks } from '../browser/test-hooks';
import { formatPart, type DownloadSnapshot } from '../lib/download/progress';
import { loadStage } from '../lib/page/load-progress';
import type { GateSlot, LoadGate } from '../lib/page/load-gate';
import {
  estimateColumnMemory,
  weightFormat,
  type ColumnMemory,
  type ModelShape,
  type Refusal,
} from '../lib/page/memory-budget';
import { QuantlabError, toErrorInfo, type ErrorInfo } from '../lib/errors';
import type { ModelRef } from '../lib/model/ref';
import type { PlatformInfo } from '../lib/page/platform';
import type { GenerateParams, GenerateResult, LoadProgress, Timings, TokenEvent } from '../lib/runner/types';
import type { DevicePreference } from '../lib/page/settings';
import type { FloorMeasurement } from '../lib/page/latency';
import type { VariantInfo } from '../lib/variants/table';
import type { TokenComparison } from '../lib/page/token-compare';
import { ColumnFloor } from './latency.svelte.ts';
import { firstTokenTimeline, wallNow, type FirstTokenTimeline, type LoadMarks } from '../lib/page/first-token';

/** 'over-budget': the load was refused before it started, because the columns would pass the memory budget. */
export type ColumnStatus = 'idle' | 'loading' | 'ready' | 'generating' | 'done' | 'error' | 'over-budget';

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
  /**
   * The memory budget. Before a load starts, the column reads its model's shape (`modelShape`,
   * which may share one read among the columns of a model), estimates what it will hold, and asks
   * `admit` whether that fits beside what the other columns hold; a refusal stops the load.
   */
  budget?: {
    modelShape(read: () => Promise<ModelShape | undefined>): Promise<ModelShape | undefined>;
    /** The longest sequence a generation may hold (prompt bound plus max new tokens). */
    tokens(): number;
    admit(column: Column, need: ColumnMemory): Refusal | null;
  };
  /** Limits how many columns build their sessions at once; a column waits its turn (its watchdog paused). */
  loadGate?: LoadGate;
}

export interface ColumnTimeouts {
  /** A load with no progress event for this long is ended with a message. */
  loadMs: number;
  /** A generation with no new token for this long is ended with a message. */
  generateMs: number;
  /** How long Stop waits for the worker to answer before terminating it. */
  stopMs: number;
}

/**
 * A column's token-level comparison with the baseline: none (no baseline, or nothing to compare),
 * restored (text kept from the last visit, its comparison not: Playground.compareRestored computes
 * it), waiting for every column to finish (or, for restored text, for the models to load),
 * computing, done, or unavailable (with why).
 */
export type ComparisonState =
  | { state: 'none' }
  | { state: 'restored' }
  | { state: 'waiting' }
  | { state: 'computing' }
  | ({ state: 'done' } & TokenComparison)
  | { state: 'unavailable'; message: string };

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

/** The load's first stage when a memory budget is in force. */
const READING_CONFIG = "Reading the model's config for the memory estimate";

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

/** A column's watchdog: kick() restarts its time, pause() stops it until the next kick. */
interface Watchdog {
  kick(): void;
  pause(): void;
  stop(): void;
}

/**
 * A timer that calls `onStall` once it has not been kicked for `ms`. Once stopped, or once it has
 * fired, it is over: a kick then does nothing. (A run's last stream event may reach the page after
 * its result; a watchdog it woke again would terminate the worker a minute later, under whatever
 * load or generation the column runs by then.)
 */
function watchdog(ms: number, onStall: () => void): Watchdog {
  let over = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const fire = () => {
    over = true;
    onStall();
  };
  const kick = () => {
    clearTimeout(timer);
    if (!over) timer = setTimeout(fire, ms);
  };
  kick();
  return {
    kick,
    pause: () => clearTimeout(timer),
    stop() {
      over = true;
      clearTimeout(timer);
    },
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
  /** What this column holds (or will hold once loaded), by the memory estimate; null before its first load. */
  memory = $state.raw<ColumnMemory | null>(null);
  /** Why the last load was refused (status 'over-budget'). */
  refusal = $state.raw<Refusal | null>(null);
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
  /** The token-level comparison with the baseline column (set by the Playground after each run). */
  comparison = $state.raw<ComparisonState>({ state: 'none' });
  /** The speed floor measured on this column's session (greedy playground loop vs a raw loop). */
  readonly floorState = new ColumnFloor();
  /**
   * Time to first token of the generation that loaded this column, from the page's navigation,
   * split into stages (src/lib/page/first-token.ts); null until such a generation has shown a token.
   */
  firstToken = $state.raw<FirstTokenTimeline | null>(null);

  #client: ColumnClient;
  /** When the page created the current worker (wall clock). */
  #workerCreatedAt = 0;
  /** The marks of the last load, until a generation's first token has used them. */
  #loadMarks: LoadMarks | undefined;
  /** ONNX Runtime's start in the current worker (its device and threads), asked for ahead of its load (warm()). */
  #warming: { device: 'wasm' | 'webgpu'; threads: number; done: Promise<unknown> } | undefined;
  /** WASM threads of the current worker's ONNX Runtime, once it has loaded on WASM. */
  #workerThreads: number | undefined;
  #loadedOn = $state<'wasm' | 'webgpu' | null>(null);
  #loading: Promise<boolean> | undefined;
  #run: Promise<unknown> | undefined;
  #gen = 0;
  /** The generation asked for, until it is done (Retry repeats it if it failed). */
  #request: { params: GenerateParams; gen: number } | undefined;
  #forceWasm = false;
  /** The load gate's place this column holds or waits for. */
  #slot: GateSlot | undefined;
  /**
   * The place kept after a load that a generation waits on, until that generation streams (its
   * prefill done, the first token picked) or ends: the next column's load would otherwise take a
   * core from the prefill, and on two cores the first token came later (README, first token).
   */
  #held: GateSlot | undefined;
  /** The generation in flight until it streams (its prefill done) or ends: settled() waits for it. */
  #prefilling: { done: () => void; over: Promise<void> } | undefined;
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
    const start = () => {
      const h = deps.startWorker();
      this.#workerCreatedAt = h.startedAt ?? wallNow();
      return h;
    };
    this.#client = new ColumnClient(
      start,
      () => {
        this.#loadedOn = null;
        this.#workerThreads = undefined;
        this.#warming = undefined;
      },
      (message) => {
        // A load or a generation in flight reports the crash as the column's error. Any other call
        // (a token comparison after a run, which may run in this worker for another column, a
        // speed floor, the warm-up) tells only its caller, if anyone: without this the column would
        // look ready, or done, with nothing loaded and no word on why.
        if (this.status === 'loading' || this.status === 'generating') return;
        const wasLoaded = this.status === 'ready' || this.status === 'done';
        this.notice = wasLoaded
          ? `This column's worker stopped (${message}), so the model was unloaded; the next Generate loads it again.`
          : `This column's worker stopped (${message}) before a model was loaded; the next Generate starts another.`;
        if (wasLoaded) this.status = 'idle';
      },
    );
  }

  get loaded(): boolean {
    return this.#loadedOn !== null;
  }

  /** Loaded, or loading with its estimate reserved: counted against the memory budget. */
  get holdsMemory(): boolean {
    return this.memory !== null && (this.#loadedOn !== null || this.status === 'loading');
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

  /** Terminates the worker (its memory goes back); calls in flight fail as cancelled, a wait for the load gate ends. */
  #discardWorker(): void {
    this.#slot?.release();
    this.#prefillOver();
    this.#client.terminate();
  }

  #fail(e: ErrorInfo, during: 'load' | 'generate'): void {
    if (e.code === 'over-budget') {
      this.error = { ...e, during };
      this.status = 'over-budget';
      this.progress = null;
      return;
    }
    if (e.code === 'cancelled') {
      this.status = this.#loadedOn ? 'ready' : 'idle';
      this.progress = null;
      // Stop, Unload, Cancel and the watchdogs each say what they ended; a call ended by anything
      // else (its worker gone under it) would otherwise leave the column idle without a word.
      this.notice ??= `The ${during === 'load' ? 'load' : 'generation'} was cancelled before it finished: its worker was ended without a Stop or Unload here (${e.message}). Press Generate to ${this.#loadedOn ? 'run it' : 'load it'} again.`;
      return;
    }
    this.error = { ...e, during };
    this.status = 'error';
    this.progress = null;
  }

  /**
   * Starts this column's worker and its ONNX Runtime (WASM compiled, threads started) ahead of a
   * load, so the first Generate does not wait for them; the model itself is not read. Does nothing
   * once the worker runs. A failure is left for the load to meet and report. Settles when done.
   */
  warm(): Promise<unknown> {
    if (this.#client.started || this.#loadedOn) return this.#warming?.done ?? Promise.resolve();
    const choice = this.#choice();
    const threads = choice.device === 'wasm' ? choice.threads : undefined;
    const done = this.#client
      .call((api) => api.warm(choice.device, threads))
      .then((w) => {
        if (choice.device === 'wasm' && this.#warming?.done === done) this.#workerThreads = w.threads;
      })
      .catch(() => undefined);
    this.#warming = { device: choice.device, threads: threads ?? 0, done };
    return done;
  }

  #choice(): DeviceChoice {
    const columns = this.deps.columns?.() ?? 1;
    return this.#forceWasm
      ? {
          device: 'wasm',
          reason: 'retrying after a WebGPU failure',
          threads: wasmThreadCount(this.deps.platform(), columns, this.variant.bytes),
        }
      : chooseDevice(this.variant, this.deps.platform(), this.deps.devicePreference(), columns);
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
    this.refusal = null;
    const choice = this.#choice();
    // ONNX Runtime fixes a worker's build (device) and thread count when it starts: another needs a new worker.
    const threads = this.#workerThreads ?? this.#warming?.threads;
    if (
      (this.#warming && this.#warming.device !== choice.device) ||
      (choice.device === 'wasm' && threads !== undefined && threads !== choice.threads)
    )
      this.#discardWorker();
    this.device = choice;
    this.memory = null;
    this.status = 'loading';
    this.downloads = null;
    this.#downloadCancelled = false;
    // A load that stops reporting progress is ended: its worker is terminated (the call fails as
    // cancelled) and the column says why, naming the stage it was in. The watchdog covers the
    // memory check's config read too.
    const waitMs = this.#timeouts().loadMs;
    let stalledAt: string | undefined;
    let loaded = false;
    const dog = watchdog(waitMs, () => {
      stalledAt = this.progress?.message ?? 'starting';
      this.#discardWorker();
    });
    // Progress may trail the load's result (its own channel): none is shown once the load has ended.
    let ended = false;
    // The weights' bytes: the .onnx file and its .onnx_data files, if any.
    const weightFiles = new Map<string, number>();
    const onProgress = proxy((p: LoadProgress) => {
      if (ended) return;
      dog.kick();
      if (p.status === 'files') this.downloads = p.downloads;
      if (p.status === 'download' && /\.onnx(_data(_\d+)?)?$/.test(p.file) && p.total > 0) {
        weightFiles.set(p.file, p.total);
        this.bytes = [...weightFiles.values()].reduce((a, b) => a + b, 0);
      }
      const stage = loadStage(p, this.progress);
      if (stage) this.progress = stage;
    });
    try {
      if (this.deps.budget) {
        this.progress = { message: READING_CONFIG, fraction: null };
        if (!(await this.#admit(choice.device))) return false;
        // A read shared with another column's worker may answer after this load's watchdog fired:
        // the load has ended then (the catch says where it stalled).
        if (stalledAt !== undefined) throw new QuantlabError('cancelled', 'Cancelled');
        dog.kick();
      }
      if (this.deps.loadGate && !(await this.#waitTurn(this.deps.loadGate, dog))) {
        this.#fail({ code: 'cancelled', message: 'Cancelled' }, 'load');
        return false;
      }
      this.progress = { message: `Starting a ${choice.device.toUpperCase()} session`, fraction: null };
      const r = await this.#client.call((api) =>
        api.load(
          $state.snapshot(this.ref) as ModelRef,
          this.variant.stem,
          choice.device,
          onProgress,
          choice.threads,
          this.variant.externalData,
        ),
      );
      this.#loadedOn = choice.device;
      this.#loadMarks = r.marks;
      if (r.downloads) this.downloads = r.downloads;
      this.threads = r.threads;
      if (choice.device === 'wasm') this.#workerThreads = r.threads;
      this.loads++;
      this.status = 'ready';
      this.progress = null;
      loaded = true;
      return true;
    } catch (err) {
      if (stalledAt !== undefined) {
        this.#fail(this.#loadStalled(waitMs, stalledAt), 'load');
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
      // A generation waiting on this load keeps the place until it streams (#prefillOver).
      if (loaded && this.#prefilling && this.#slot) this.#held = this.#slot;
      else this.#slot?.release();
      this.#slot = undefined;
    }
  }

  /** The generation in flight has streamed or ended: the load gate's place it kept is given back. */
  #prefillOver(): void {
    this.#held?.release();
    this.#held = undefined;
    this.#prefilling?.done();
    this.#prefilling = undefined;
  }

  /**
   * Settles once this column is neither loading nor waiting for a generation's prefill: the
   * playground starts the other columns' workers after that.
   */
  async settled(): Promise<void> {
    while (this.#prefilling || this.#loading) {
      await this.#prefilling?.over;
      await this.#loading;
    }
  }

  /**
   * Waits for a place in the load gate, saying how many loads are ahead; the watchdog sleeps
   * meanwhile (waiting is not stalling). False if the column was stopped while it waited.
   */
  async #waitTurn(gate: LoadGate, dog: Watchdog): Promise<boolean> {
    const slot = gate.acquire();
    this.#slot = slot;
    let granted = false;
    void slot.ready.then((ok) => (granted = ok));
    await Promise.resolve();
    if (!granted) {
      dog.pause();
      this.progress = {
        message: `Waiting its turn to load (${gate.active} loading, ${gate.waiting} waiting): loads take turns so each gets the cores`,
        fraction: null,
      };
    }
    const ok = await slot.ready;
    dog.kick();
    return ok;
  }

  /**
   * Estimates what this column will hold and asks the budget; false after showing a refusal, whose
   * figures the column keeps (its worker, started to read the model's config, is ended). The check
   * and the reservation (`memory`, with status 'loading') happen in one task, with no await between.
   */
  async #admit(device: 'wasm' | 'webgpu'): Promise<boolean> {
    const budget = this.deps.budget!;
    // A config that cannot be read leaves the KV cache out of the estimate; the load that follows
    // reads it again and explains the failure (offline Hub, missing file) as loads do. Only a
    // cancellation (Kill, the watchdog) ends the load here.
    const shape = await budget
      .modelShape(() => this.#client.call((api) => api.modelShape($state.snapshot(this.ref) as ModelRef)))
      .catch((err: unknown) => {
        if (toErrorInfo(err).code === 'cancelled') throw err;
        return undefined;
      });
    const need = estimateColumnMemory({
      fileBytes: this.bytes ?? this.variant.bytes ?? 0,
      format: weightFormat(this.variant),
      float16: this.variant.needsShaderF16,
      device,
      shape,
      tokens: budget.tokens(),
    });
    const refusal = budget.admit(this, need);
    if (refusal) {
      this.#discardWorker();
      this.refusal = refusal;
      this.#fail({ code: 'over-budget', message: refusal.message, detail: refusal.detail }, 'load');
      return false;
    }
    this.memory = need;
    return true;
  }

  #loadStalled(ms: number, stage: string): ErrorInfo {
    const columns = this.deps.columns?.() ?? 1;
    const message = `Loading ${this.variant.label} made no progress for ${seconds(ms)} (at: ${stage}), so it was stopped.`;
    if (stage === READING_CONFIG || stage.startsWith('Reading'))
      return {
        code: 'load-failed',
        message,
        detail:
          columns > 1
            ? `All ${columns} columns share one browser process, which may have no room for another model: unload a column (or lower the memory budget in the controls), or check that the file still arrives, then press Retry.`
            : 'The file stopped arriving: check the connection (or that the server is up), then press Retry.',
      };
    return {
      code: 'load-failed',
      message,
      detail:
        columns > 1
          ? `Building a session takes memory and CPU, and all ${columns} columns share one browser process: unload a column (or lower the memory budget in the controls) or close other tabs, then press Retry.`
          : 'Building a session takes memory and CPU: close other tabs, then press Retry.',
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
    this.#prefillOver();
    let done!: () => void;
    const mine = { done: () => done(), over: new Promise<void>((r) => (done = r)) };
    this.#prefilling = mine;
    try {
      await this.#generate(params, gen);
    } finally {
      if (this.#prefilling === mine) this.#prefillOver();
    }
  }

  async #generate(params: GenerateParams, gen: number): Promise<void> {
    const requestedAt = wallNow();
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
    this.comparison = { state: 'none' };
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
    // The load this generation made (if it made one): its first token's stages are worth keeping.
    const loadMarks = this.#loadMarks;
    this.#loadMarks = undefined;
    let shownAt: number | undefined;
    const show = () => {
      timer = undefined;
      if (gen !== this.#gen || finished || !latest) return;
      if (shownAt === undefined && latest.ids.length > 0) shownAt = wallNow();
      this.ids = latest.ids as number[];
      this.text = latest.text;
      this.offsets = latest.offsets as number[];
      this.tokenMs = latest.tokenMs as number[];
    };
    const onToken = proxy((e: TokenEvent) => {
      if (gen !== this.#gen) return;
      if (finished) {
        // Events travel on their own channel and may trail the final result: only their offsets count,
        // and a finished run's kept result is saved again with them (a restored text would otherwise
        // show its last tokens as one plain tail, without their own elements and marks).
        if (e.offsets.length > this.offsets.length) {
          this.offsets = e.offsets as number[];
          if (this.status === 'done') this.deps.onDone?.(this);
        }
        return;
      }
      dog.kick();
      // The worker streams once its prefill is done: the next column may load now.
      this.#prefillOver();
      // ... or each other: the longest stream wins.
      if (latest && e.ids.length <= latest.ids.length) return;
      latest = e;
      // The first token is written at once; later ones at most every SHOW_EVERY_MS.
      if (shownAt === undefined && timer === undefined) show();
      else timer ??= setTimeout(show, SHOW_EVERY_MS);
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
    this.notice = v.limitNote ?? null;
    this.status = 'done';
    const t = v.timings;
    if (loadMarks && shownAt !== undefined && t.startedAt !== undefined && t.firstTokenAt !== undefined)
      this.firstToken = firstTokenTimeline({
        navigationAt: performance.timeOrigin,
        requestedAt,
        workerCreatedAt: this.#workerCreatedAt,
        load: loadMarks,
        prefill: { start: t.startedAt, end: t.firstTokenAt },
        shownAt,
      });
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

  /** The prompt's ids as this column's generate() encodes them (the tokenizer is loaded with the model). */
  encode(params: GenerateParams): Promise<number[]> {
    return this.#client.call((api) => api.encode(params.prompt, params.chatTemplate));
  }

  /** Teacher-forced logits of `ids` [ids.length x vocab] on this column's session. */
  teacherLogits(ids: number[]): Promise<{ data: Float32Array; vocab: number }> {
    return this.#client.call((api) => api.logits(ids));
  }

  /**
   * This column as the baseline of a token comparison (ColumnApi.compareTokens): `other`'s logits
   * are moved to the worker, not copied.
   */
  compareAsBaseline(
    ids: number[],
    from: number,
    other: { data: Float32Array; vocab: number } | null,
  ): Promise<TokenComparison> {
    return this.#client.call((api) =>
      api.compareTokens(ids, from, other ? transfer(other, [other.data.buffer as ArrayBuffer]) : null),
    );
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
