// Fakes for the state tests. A column worker: the ColumnApi a real worker exposes, driven by the test
// (each generate and floor call waits until the test finishes it), with the worker boundary's
// rules kept: arguments are structured-cloned (a Svelte proxy would throw, as postMessage does),
// cancel() stops the run in flight, errors are thrown as QuantlabErrors, and a crash fires the
// handle's onCrash listeners. Tests finish calls with Outcomes (a value or an error).

import type { Remote } from 'comlink';
import type { BuilderApi, ColumnApi, ColumnHang } from '../../workers/protocol';
import type { StartColumnWorker } from '../../src/browser/column-client';
import type { WorkerHandle } from '../../src/browser/workers';
import { QuantlabError, type ErrorInfo } from '../../src/lib/errors';
import type { FloorMeasurement } from '../../src/lib/page/latency';
import type { ModelShape } from '../../src/lib/page/memory-budget';
import { compareTokens } from '../../src/lib/page/token-compare';
import type { ModelRef } from '../../src/lib/model/ref';
import type {
  Device,
  GenerateParams,
  GenerateResult,
  LoadProgress,
  Outcome,
  TokenEvent,
} from '../../src/lib/runner/types';
import type { VariantInfo } from '../../src/lib/variants/table';

/** A variant with test defaults: labelled by its stem, rank 0, 1000 bytes, no special needs. */
export function fakeVariant(stem: string, more: Partial<VariantInfo> = {}): VariantInfo {
  return {
    stem,
    label: stem,
    format: 'test',
    bitsMeasured: false,
    needsShaderF16: false,
    integerMatMul: false,
    rank: 0,
    bytes: 1000,
    ...more,
  };
}

const cancelled: ErrorInfo = { code: 'cancelled', message: 'Cancelled' };

/** What the page sees of a worker's answer: its value, or its error thrown as a QuantlabError (src/browser/rpc.ts). */
type LoadResult = Awaited<ReturnType<ColumnApi['load']>>;

function answer<T>(o: Outcome<T>): T {
  if (!o.ok) throw new QuantlabError(o.error.code, o.error.message, o.error.detail);
  return o.value;
}

/** What crosses postMessage: a structured clone (functions are comlink proxies and pass as they are). */
function cloned<T>(v: T): T {
  return typeof v === 'function' || v === undefined ? v : structuredClone(v);
}

/** One generate() call, finished by the test. */
export class FakeRun {
  emitted: number[] = [];
  cancelled = false;
  settled = false;
  #resolve!: (r: Outcome<GenerateResult>) => void;
  readonly result: Promise<Outcome<GenerateResult>>;

  constructor(
    readonly params: GenerateParams,
    readonly onToken: ((e: TokenEvent) => void) | undefined,
  ) {
    this.result = new Promise((r) => (this.#resolve = r));
  }

  /** The stream event for the first `n` ids of `ids` (text "<id> " per token). */
  static event(ids: number[]): TokenEvent {
    const offsets: number[] = [];
    let text = '';
    for (const id of ids) {
      text += `${id} `;
      offsets.push(text.length);
    }
    return { ids, text, offsets, tokenMs: ids.slice(1).map(() => 1) };
  }

  /** Streams `ids` (all tokens so far) to the page. */
  emit(ids: number[]): void {
    this.emitted = ids;
    this.onToken?.(FakeRun.event(ids));
  }

  /** Ends the run with what it streamed (or `ids`). */
  finish(ids = this.emitted, opts: { cancelled?: boolean; limitNote?: string } = {}): void {
    const e = FakeRun.event(ids);
    this.#settle({
      ok: true,
      value: {
        promptIds: [1],
        ids: [...e.ids],
        text: e.text,
        cancelled: opts.cancelled ?? this.cancelled,
        ...(opts.limitNote ? { limitNote: opts.limitNote } : {}),
        timings: {
          loadMs: 5,
          ttftMs: 2,
          prefillTokensPerS: 100,
          decodeTokensPerS: 50,
          tokenMs: [...e.tokenMs],
          startedAt: 10,
          firstTokenAt: 12,
        },
      },
    });
  }

  fail(error: ErrorInfo): void {
    this.#settle({ ok: false, error });
  }

  #settle(r: Outcome<GenerateResult>): void {
    if (this.settled) return;
    this.settled = true;
    this.#resolve(r);
  }
}

/** One floor() call, finished by the test. */
export class FakeFloor {
  settled = false;
  #resolve!: (r: Outcome<FloorMeasurement>) => void;
  readonly result: Promise<Outcome<FloorMeasurement>>;

  constructor(
    readonly prompt: string,
    readonly newTokens: number,
  ) {
    this.result = new Promise((r) => (this.#resolve = r));
  }

  finish(r: Outcome<FloorMeasurement>): void {
    if (this.settled) return;
    this.settled = true;
    this.#resolve(r);
  }
}

export interface FakeLoad {
  ref: ModelRef;
  variant: string;
  device: Device;
  threads?: number;
  externalData?: number;
}

export class FakeColumnWorker {
  terminated = false;
  loads: FakeLoad[] = [];
  runs: FakeRun[] = [];
  floors: FakeFloor[] = [];
  /** compareTokens() calls: the ids, where the generated ones start, and whether another column's logits came. */
  compares: { ids: number[]; from: number; other: boolean }[] = [];
  cancels = 0;
  /** cancelLoad() calls. */
  loadCancels = 0;
  /** Set by the test hook (ColumnApi.hang): that call never answers. */
  hung: ColumnHang | null = null;
  /** What load() answers; a test may replace it (an error, a promise that waits). */
  loadOutcome: (l: FakeLoad) => Outcome<LoadResult> | Promise<Outcome<LoadResult>> = (l) => ({
    ok: true,
    value: {
      loadMs: 5,
      marks: { bootAt: 1, wasm: { start: 1, end: 2 }, tokenizer: { start: 2, end: 3 }, session: { start: 3, end: 4 } },
      threads: l.device === 'wasm' ? (l.threads ?? 1) : 0,
      betweenTokens: 'every-8-ms',
      maxPositions: 64,
    },
  });
  /** warm() calls, with the device and threads each asked for. */
  warms: { device: Device; threads?: number }[] = [];
  /** Progress events load() reports after its 'init' one (downloads, for example). */
  loadProgress: LoadProgress[] = [];
  /**
   * generate() streams an event without tokens at once, as a worker does when its prefill is done
   * (the page's load gate waits for it); false: the first event is the test's.
   */
  prefillDone = true;
  /** When set, generate() answers at once with these ids (undefined: the test finishes the run). */
  generateIds: ((p: GenerateParams) => number[] | undefined) | undefined;
  /** Whether cancel() ends the run in flight (a real worker does, after its current token). */
  honoursCancel = true;
  /** The lab's calls: teacher-forced logits, tokenizer. */
  logits: (ids: number[]) => { data: Float32Array; vocab: number } | Promise<{ data: Float32Array; vocab: number }> = (
    ids,
  ) => ({ data: new Float32Array(ids.length * 4), vocab: 4 });
  encode: (text: string) => number[] = (text) => [...text].map((c) => c.charCodeAt(0) % 4);
  /** What modelShape() answers (the memory estimate's config shape). */
  shape: ModelShape | undefined = { layers: 2, kvHeads: 2, headDim: 16, vocab: 4, maxPositions: 64 };
  #crashListeners = new Set<(message: string) => void>();
  #current: FakeRun | FakeFloor | undefined;

  readonly api = {
    warm: async (device: Device, threads?: number) => {
      this.warms.push({ device, threads });
      return { bootAt: 1, wasm: { start: 1, end: 2 }, threads: threads ?? 1 };
    },
    load: async (
      ref: ModelRef,
      variant: string,
      device: Device,
      onProgress?: (p: LoadProgress) => void,
      threads?: number,
      externalData?: number,
    ) => {
      const l = { ref: cloned(ref), variant, device, threads, externalData };
      this.loads.push(l);
      onProgress?.({ status: 'init', message: 'loading' });
      for (const p of this.loadProgress) onProgress?.(p);
      if (this.hung === 'load') await new Promise(() => {});
      return answer(await this.loadOutcome(l));
    },
    modelShape: async () => this.shape,
    generate: (params: GenerateParams, onToken?: (e: TokenEvent) => void) => {
      this.#stopCurrent();
      const run = new FakeRun(cloned(params), onToken);
      this.runs.push(run);
      if (this.hung === 'generate') return new Promise<GenerateResult>(() => {});
      this.#current = run;
      // A real worker streams once its prefill is done; here the prefill takes no time.
      if (this.prefillDone) onToken?.(FakeRun.event([]));
      const ids = this.generateIds?.(params);
      if (ids) run.finish(ids);
      return run.result.then(answer);
    },
    cancel: async () => {
      this.cancels++;
      if (this.honoursCancel) this.#stopCurrent();
    },
    cancelLoad: async () => {
      this.loadCancels++;
    },
    hang: async (what: ColumnHang | null) => {
      this.hung = what;
    },
    floor: (prompt: string, newTokens: number) => {
      this.#stopCurrent();
      const f = new FakeFloor(prompt, newTokens);
      this.floors.push(f);
      this.#current = f;
      return f.result.then(answer);
    },
    logits: async (ids: number[]) => this.logits(cloned(ids)),
    compareTokens: async (ids: number[], from: number, other: { data: Float32Array; vocab: number } | null) => {
      this.compares.push({ ids: cloned(ids), from, other: other !== null });
      const base = await this.logits(cloned(ids));
      return { stats: compareTokens(ids, from, base.vocab, base.data, other?.data ?? null), pieces: {} };
    },
    encode: async (text: string) => this.encode(text),
    decode: async (ids: number[]) => ids.map((i) => String.fromCharCode(97 + i)).join(''),
    bosId: async () => undefined,
    dispose: async () => {},
    mailbox: async () => {},
    pace: async () => {},
  } satisfies ColumnApi;

  /** Ends the run in flight as a real worker does on cancel: a generation keeps what it streamed. */
  #stopCurrent(): void {
    const c = this.#current;
    this.#current = undefined;
    if (c instanceof FakeRun && !c.settled) {
      c.cancelled = true;
      c.finish(c.emitted, { cancelled: true });
    } else if (c instanceof FakeFloor) {
      c.finish({ ok: false, error: cancelled });
    }
  }

  /** The worker dies (an uncaught error): its calls never answer, its listeners hear of it. */
  crash(message: string): void {
    for (const l of [...this.#crashListeners]) l(message);
  }

  handle(): WorkerHandle<ColumnApi> {
    return {
      api: this.api as unknown as Remote<ColumnApi>,
      terminate: () => {
        this.terminated = true;
      },
      onCrash: (listener) => {
        this.#crashListeners.add(listener);
        return () => this.#crashListeners.delete(listener);
      },
    };
  }

  /** The run in flight (the last generate() call). */
  get run(): FakeRun {
    const r = this.runs.at(-1);
    if (!r) throw new Error('no generate() call yet');
    return r;
  }
}

/** A worker factory that records every worker it starts; `setup` configures each new one. */
export function fakeWorkers(setup?: (w: FakeColumnWorker, index: number) => void): {
  start: StartColumnWorker;
  workers: FakeColumnWorker[];
} {
  const workers: FakeColumnWorker[] = [];
  const start = () => {
    const w = new FakeColumnWorker();
    setup?.(w, workers.length);
    workers.push(w);
    return w.handle();
  };
  return { start, workers };
}

/** A builder worker that has no stored models and does nothing. */
export function fakeBuilder(): WorkerHandle<BuilderApi> {
  const api = { list: async () => [], quantize: async () => undefined, cancel: async () => {} };
  return { api: api as unknown as Remote<BuilderApi>, terminate: () => {}, onCrash: () => () => {} };
}

/** Lets pending promise callbacks run (the page's awaits between worker answers). */
export async function settle(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

/** A localStorage for Node: a Map behind the Storage methods the state uses. */
export function memoryStorage(): Storage {
  const m = new Map<string, string>();
  return {
    get length() {
      return m.size;
    },
    clear: () => m.clear(),
    getItem: (k) => m.get(k) ?? null,
    key: (i) => [...m.keys()][i] ?? null,
    removeItem: (k) => void m.delete(k),
    setItem: (k, v) => void m.set(k, String(v)),
  };
}
