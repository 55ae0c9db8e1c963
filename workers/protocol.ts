// What each worker offers the page: the interfaces its exposed `api` object satisfies. The page
// (state, components, the bench page) imports these types, never the worker files, so it does not
// depend on a worker's code. Types only. A method fails by throwing: src/browser/rpc.ts carries
// the error across as { code, message, detail } and the caller's await throws a QuantlabError.
import type { ArrayBufferChurn } from '../src/lib/bench/churn';
import type { StoredModelInfo } from '../src/browser/opfs-store';
import type { FloorResult } from '../src/lib/bench/floor';
import type { DownloadSnapshot } from '../src/lib/download/progress';
import type { KvCacheLayout } from '../src/lib/onnx/session';
import type { FloorMeasurement } from '../src/lib/page/latency';
import type { LoadMarks } from '../src/lib/page/first-token';
import type { ModelShape } from '../src/lib/page/memory-budget';
import type { TokenComparison } from '../src/lib/page/token-compare';
import type { ModelRef } from '../src/lib/model/ref';
import type { GridBits } from '../src/lib/quantize/grid';
import type { SensitivityReport } from '../src/lib/quantize/sensitivity';
import type { Method, QuantizeOptions } from '../src/lib/variants/options';
import type { Device, GenerateParams, GenerateResult, LoadProgress, Span, TokenEvent } from '../src/lib/runner/types';

/** Which call a column worker's test hook makes hang (ColumnApi.hang). */
export type ColumnHang = 'load' | 'generate';

/** One column of the playground (workers/column.worker.ts): one model variant in its own session. */
export interface ColumnApi {
  /**
   * Starts ONNX Runtime's WASM runtime in this worker (fetch, compile, `threads` threads: fixed from
   * then on) before any model is asked for, so a load that follows skips it. Its build suits
   * `device` (the WASM-only build for 'wasm'): a later load on the other device fails, and needs a
   * new worker. Answered by the worker's entry (ONNX Runtime's JS only), so the runtime starts while
   * the rest of the worker (transformers.js, the runner) is still loading. Says when the entry had
   * run and when the runtime started (wall clock, ms since the epoch).
   */
  warm(device: Device, threads?: number): Promise<{ bootAt: number; wasm: Span; threads: number }>;
  /**
   * Loads one variant (onnx/<variant>.onnx) of a model on a device, with `threads` WASM threads
   * when given (a worker's first WASM session fixes them), and its weights from `externalData`
   * .onnx_data files when it keeps them there (VariantInfo.externalData); also says how many
   * positions the model has (config.json's max_position_embeddings), which the quality lab's
   * windows need. A Hub ref's `host` (the page's Model host setting) is where every file of it is
   * fetched from.
   */
  load(
    ref: ModelRef,
    variant: string,
    device: Device,
    onProgress?: (p: LoadProgress) => void,
    threads?: number,
    externalData?: number,
  ): Promise<{
    loadMs: number;
    /** Wall-clock marks of this load's stages (time to first token, src/lib/page/first-token.ts). */
    marks?: LoadMarks;
    threads: number;
    /**
     * How the decode loop lets the page's messages in between tokens: only while one the page
     * posted is on its way (the page's endpoint counts them, mailbox()), or every 8 ms without that.
     */
    betweenTokens: 'while-messages-wait' | 'every-8-ms';
    maxPositions?: number;
    /** A Hub model's files as this load read them (network or browser cache), once it has ended. */
    downloads?: DownloadSnapshot;
  }>;
  /**
   * The shape of a model's config.json that the memory estimate needs (layers, KV heads, head size,
   * vocabulary), read as load() reads it; undefined when the config lacks one of them.
   */
  modelShape(ref: ModelRef): Promise<ModelShape | undefined>;
  /**
   * Generates; a call to cancel() (or a newer generate()) stops it after the current token (the
   * result says `cancelled`): the worker reads messages between tokens. A newer generate() starts
   * once the one it stopped has ended. The stream reaches onToken at most every STREAM_EVERY_MS
   * (src/lib/runner/token-batch.ts), and once more at the end.
   */
  generate(params: GenerateParams, onToken?: (e: TokenEvent) => void): Promise<GenerateResult>;
  /** Stops the generation or floor measurement in flight. */
  cancel(): void;
  /**
   * The page's count of the messages it has posted to this worker (one Int32 on a SharedArrayBuffer,
   * src/browser/rpc.ts countingEndpoint): between tokens the loop then yields only while a message
   * has not arrived (next-task.ts, whileMessagesWaiting), instead of every 8 ms. Cross-origin
   * isolated pages only (SharedArrayBuffer).
   */
  mailbox(posted: Int32Array): void;
  /** Cancels the Hub downloads of the load in flight (the load fails as 'cancelled'); the worker stays. */
  cancelLoad(): void;
  /**
   * Test hook (src/browser/test-hooks.ts): from now on every load() or generate() of this worker
   * never answers and ignores cancel(), as a stuck session would; null turns it off.
   */
  hang(what: ColumnHang | null): void;
  /** Test hook (src/browser/test-hooks.ts): wait `ms` after each token from now on (0: none). */
  pace(ms: number): void;
  /**
   * The speed floor on this column's own session: greedy generation as the playground runs it
   * (streaming callback included) against a raw ONNX Runtime loop over the same prompt for as many
   * tokens, taking turns `runs` times after a warm-up; medians. cancel() stops it between runs.
   */
  floor(prompt: string, newTokens: number, runs?: number): Promise<FloorMeasurement>;
  /**
   * The token-level comparison, with this column's model as the baseline: teacher-forces `ids`
   * and compares, at each generated token ids[from + 1 ..], this model's next-token distribution
   * with `other`'s (another column's teacher-forced logits of the same ids; null: with itself).
   * Meant for after a run: a generate() asked for meanwhile starts once it has ended.
   */
  compareTokens(
    ids: number[],
    from: number,
    other: { data: Float32Array; vocab: number } | null,
  ): Promise<TokenComparison>;
  /** Teacher-forced logits [ids.length x vocab], transferred without a copy. */
  logits(ids: number[]): Promise<{ data: Float32Array; vocab: number }>;
  encode(prompt: string, chatTemplate?: boolean): Promise<number[]>;
  /** Text of ids, special tokens skipped (the lab's bits per byte). */
  decode(ids: number[]): Promise<string>;
  /** The tokenizer's BOS id, or undefined (the lab's windows start with it). */
  bosId(): Promise<number | undefined>;
  dispose(): Promise<void>;
}

export type BuildStep = 'read' | 'convert' | 'build' | 'measure' | 'save' | 'done';
export interface BuilderProgress {
  step: BuildStep;
  message: string;
  /** 0..1 over the whole task. */
  fraction: number;
  /** Estimated seconds left (calibrated quantization: elapsed time over the fraction done). */
  secondsLeft?: number;
}

/** The calibration text for gptq and awq, and how much of it to use. */
export interface CalibrationRequest {
  text: string;
  /** How reports name the text (the built-in sample, a file name, ...); recorded in the manifest. */
  name?: string;
  /** Tokens to use at most (default 512). */
  tokens?: number;
  /** Tokens per window (default 128). */
  window?: number;
}

/** How a layer-sensitivity measurement quantizes each weight (SensitivitySpec's fields the page sets). */
export interface SensitivityRequest {
  method: Method;
  /** Widths to measure each weight at (2, 3, 4, 8). */
  bits: GridBits[];
  blockSize?: number;
  symmetric?: boolean;
  scaleType?: 'float32' | 'float16';
}

/** A file the user opened, with its path inside the picked folder (or its name). */
export interface PickedFile {
  path: string;
  file: File;
}

/** The model builder (workers/builder.worker.ts): imports and quantizes models into browser storage. */
export interface BuilderApi {
  /** Converts and stores the opened files (llama2.c pair, HF folder, transformers.js folder). */
  importFiles(picked: PickedFile[], onProgress?: (p: BuilderProgress) => void): Promise<StoredModelInfo>;
  /**
   * Quantizes a stored model's onnx/model.onnx into each requested variant (dtype names or
   * 'all', with shared options) and stores the files and the updated manifest. gptq and awq need
   * `calibration`, read with the model's own tokenizer.
   */
  quantize(
    id: string,
    dtypes: string[],
    options: Omit<QuantizeOptions, 'dtype'>,
    onProgress?: (p: BuilderProgress) => void,
    calibration?: CalibrationRequest,
  ): Promise<StoredModelInfo>;
  /**
   * Layer sensitivity of a stored model's onnx/model.onnx (src/lib/quantize/sensitivity.ts): each
   * weight quantized alone at each width, its KLD from fp32 on the calibration text, in
   * onnxruntime-web. The plan (weights x widths runs over the windows) is checked against
   * SENSITIVITY_LIMITS first and reported as the first progress message; cancel() stops it
   * between runs.
   */
  sensitivity(
    id: string,
    request: SensitivityRequest,
    calibration: CalibrationRequest,
    onProgress?: (p: BuilderProgress) => void,
  ): Promise<SensitivityReport>;
  /** Stops the import, quantization or measurement in flight (it fails as 'cancelled'). */
  cancel(): void;
  list(): Promise<StoredModelInfo[]>;
  remove(id: string): Promise<void>;
}

/** The benchmark's floor (workers/floor.worker.ts): a raw onnxruntime-web decode loop on the file a column loads. */
export interface FloorApi {
  /**
   * Creates a WASM session on `url` with the app's wasm paths and thread count (or `threads`: read
   * when the worker creates its first session, as ONNX Runtime sizes its pool once). The KV cache
   * layout comes from `shape` or, when left out, from the session's own input metadata. `device`
   * 'webgpu' creates the session on ONNX Runtime's WebGPU execution provider instead (the
   * benchmark's browser-webgpu floor).
   */
  load(
    url: string,
    shape?: KvCacheLayout,
    threads?: number,
    device?: 'wasm' | 'webgpu',
  ): Promise<{ loadMs: number; shape: KvCacheLayout; threads: number; ortVersion: string }>;
  /** Greedy decode of `newTokens` ids after `promptIds` (prefill, then one token per step). */
  run(promptIds: number[], newTokens: number): Promise<FloorResult>;
  /** What short-lived ArrayBuffers cost in this worker (src/lib/bench/churn.ts). */
  churn(): ArrayBufferChurn;
  dispose(): Promise<void>;
}
