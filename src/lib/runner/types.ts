// Shapes shared by the runner, its worker wrapper, the CLI and the UI: what a load and a
// generation ask for and what they report back.

import type { DownloadSnapshot } from '../download/progress';
import type { ErrorInfo } from '../errors';

export type Device = 'cpu' | 'wasm' | 'webgpu';

export interface LoadRequest {
  /** A Hub id (e.g. HuggingFaceTB/SmolLM2-135M-Instruct), a local folder path (Node), or a served/in-memory model id. */
  modelId: string;
  /** File stem under onnx/: 'model' (fp32), 'model_q4', 'model_q4_b128', ... */
  variant: string;
  device: Device;
  /**
   * How many .onnx_data files hold the variant's weights (onnx/<variant>.onnx_data, _1, ...). The
   * browser needs it to fetch them. Node leaves it out: its ONNX Runtime reads them beside the
   * .onnx by itself, and given, transformers.js would read them into memory as well (a 540 MB
   * model loaded in 7-16 s with it against 4-5 s without, 2 GB resident against 1).
   */
  externalData?: number;
}

export interface GenerateParams {
  prompt: string;
  maxNewTokens: number;
  /** 0 = greedy. */
  temperature: number;
  /** 0 = off. */
  topK: number;
  /** 1 = off. */
  topP: number;
  repetitionPenalty: number;
  seed: number;
  /** Apply the tokenizer's chat template (instruct models). */
  chatTemplate?: boolean;
}

export interface Timings {
  loadMs: number;
  /** From the start of generate() to the first new token. */
  ttftMs: number;
  prefillTokensPerS: number;
  decodeTokensPerS: number;
  /** Wall time of each new token after the first, in ms. */
  tokenMs: number[];
  /** Where the KV cache stayed between decode steps: 'cpu', or 'gpu-buffer' (kept on the WebGPU device). */
  kvLocation?: string;
  /**
   * 'host' when the decode steps fetched only the new keys and values and the cache was held in
   * the runner's buffers (graphs with new_key_values.* outputs, on the CPU); 'present' otherwise.
   */
  kvPath?: 'host' | 'present';
  /**
   * Wall-clock marks (ms since the epoch, comparable across threads): generate() called, and the
   * first new token picked. The page's time-to-first-token stages read them.
   */
  startedAt?: number;
  firstTokenAt?: number;
}

/** A wall-clock span, ms since the epoch (performance.timeOrigin + performance.now()). */
export interface Span {
  start: number;
  end: number;
}

/** How long a load's parts took, as wall-clock spans. */
export interface LoadSpans {
  tokenizer: Span;
  /** The model's files read and its ONNX Runtime session built. */
  session: Span;
}

export interface GenerateResult {
  promptIds: number[];
  ids: number[];
  text: string;
  /** True when generation stopped because it was cancelled. */
  cancelled: boolean;
  /** Set when max new tokens was cut to what fits in the model's positions: says so, to show beside the text. */
  limitNote?: string;
  timings: Timings;
}

/**
 * The stream so far, after a new token. The arrays are the runner's own, growing as tokens come:
 * read (or clone, as posting to another thread does) them during the call, do not keep them.
 */
export interface TokenEvent {
  /** Ids generated so far (new tokens only). */
  readonly ids: readonly number[];
  /** Decoded text of the new tokens so far. */
  readonly text: string;
  /** offsets[k]: length of `text` once token k had come (where the text of token k+1 starts). */
  readonly offsets: readonly number[];
  /** Wall time between consecutive tokens so far, in ms (Timings.tokenMs, as it grows). */
  readonly tokenMs: readonly number[];
}

export type LoadProgress =
  | { status: 'download'; file: string; loaded: number; total: number }
  /** Every file of a Hub load so far, network or browser cache (the column worker's download tracking). */
  | { status: 'files'; downloads: DownloadSnapshot }
  | { status: 'init'; message: string }
  | { status: 'ready'; loadMs: number };

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: ErrorInfo };
