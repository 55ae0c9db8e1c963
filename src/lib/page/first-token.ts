// Time to first token from opening the page, split into the stages it passes through: the page
// loading, the column's worker starting, ONNX Runtime's WASM compiling, the session and the
// tokenizer loading, the prefill, and the first token's way to the screen. Marks are wall-clock
// times (ms since the epoch: performance.timeOrigin + performance.now(), comparable across the
// page and its workers); stages may overlap (a worker compiles while the page still loads).

/** The stages, in the order the first token passes through them. */
export const FIRST_TOKEN_STAGES = [
  'page_load',
  'worker_start',
  'wasm_compile',
  'session_create',
  'tokenizer',
  'prefill',
  'first_decode_step',
] as const;
export type FirstTokenStage = (typeof FIRST_TOKEN_STAGES)[number];

/** What each stage covers, for the bench's help and the latency panel's tooltips. */
export const STAGE_MEANING: Record<FirstTokenStage, string> = {
  page_load: 'navigation to the page asking the column for its first generation (HTML, scripts, settings, model list)',
  worker_start:
    "the column's worker created to its scripts running (transformers.js and ONNX Runtime's JS evaluated; the WASM start may begin before, once ONNX Runtime's JS has run)",
  wasm_compile: "ONNX Runtime's WASM runtime fetched, compiled and started with its threads",
  session_create: "the model's config and .onnx read and its ONNX Runtime session built",
  tokenizer: "the tokenizer's files read and parsed",
  prefill: 'the prompt encoded and run through the model, up to the first token picked',
  first_decode_step: 'the first token streamed to the page and written in the column',
};

import type { LoadSpans, Span } from '../runner/types';

/** A worker's load, as marks: when its script ran, and the spans of what load() did. */
export interface LoadMarks extends LoadSpans {
  /** When the worker's scripts had run (transformers.js and the runner evaluated; the WASM start may precede it). */
  bootAt: number;
  /** ONNX Runtime's WASM start (done once per worker, maybe before this load was asked for). */
  wasm?: Span;
}

/** Everything the page knows about one column's first token after opening. */
export interface FirstTokenMarks {
  /** Navigation start (the page's performance.timeOrigin). */
  navigationAt: number;
  /** When the page asked for the generation whose first token this is (Generate, or the page itself). */
  requestedAt: number;
  /** When the page created the column's worker. */
  workerCreatedAt: number;
  load: LoadMarks;
  /** The prompt encoded and prefilled: from generate()'s start in the worker to the first token picked. */
  prefill: Span;
  /** When the first token was written in the column. */
  shownAt: number;
}

/** Stage spans relative to navigation (ms), and the total from navigation to the first token shown. */
export interface FirstTokenTimeline {
  totalMs: number;
  /** Each stage's duration in ms (0 for a stage that was already done, e.g. a worker started earlier). */
  stages: Record<FirstTokenStage, number>;
  /** Each stage's start and end, ms after navigation. */
  spans: Record<FirstTokenStage, { startMs: number; endMs: number }>;
}

/** Wall-clock now in ms since the epoch, comparable between the page and its workers. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Turns marks into stage durations and spans after navigation. */
export function firstTokenTimeline(m: FirstTokenMarks): FirstTokenTimeline {
  const at = (t: number) => t - m.navigationAt;
  const wasm = m.load.wasm ?? { start: m.load.bootAt, end: m.load.bootAt };
  const raw: Record<FirstTokenStage, Span> = {
    page_load: { start: m.navigationAt, end: m.requestedAt },
    worker_start: { start: m.workerCreatedAt, end: m.load.bootAt },
    wasm_compile: wasm,
    session_create: m.load.session,
    tokenizer: m.load.tokenizer,
    prefill: m.prefill,
    first_decode_step: { start: m.prefill.end, end: m.shownAt },
  };
  const stages = {} as Record<FirstTokenStage, number>;
  const spans = {} as FirstTokenTimeline['spans'];
  for (const s of FIRST_TOKEN_STAGES) {
    const { start, end } = raw[s];
    stages[s] = Math.max(0, end - start);
    spans[s] = { startMs: at(start), endMs: at(Math.max(start, end)) };
  }
  return { totalMs: at(m.shownAt), stages, spans };
}

/** The latency panel's first-token table: one row per column whose loading generation has shown a token. */
export interface FirstTokenRow {
  label: string;
  totalMs: number;
  stages: Record<FirstTokenStage, number>;
}

export function firstTokenRows(
  columns: readonly { label: string; firstToken: FirstTokenTimeline | null }[],
): FirstTokenRow[] {
  return columns
    .filter((c) => c.firstToken !== null)
    .map((c) => ({ label: c.label, totalMs: c.firstToken!.totalMs, stages: c.firstToken!.stages }));
}
