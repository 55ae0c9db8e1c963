// One column of the playground: one model variant in its own ONNX Runtime session, so columns
// run in parallel and one failure (bad file, lost device, out of memory) stays in its column.
import { expose, transfer } from 'comlink';
import { toErrorInfo } from '../src/lib/errors.ts';
import { Runner } from '../src/lib/runner/runner.ts';
import { transformersModelId, type ModelRef } from '../src/lib/model/ref.ts';
import type { Device, GenerateParams, GenerateResult, LoadProgress, Outcome, TokenEvent } from '../src/lib/runner/types.ts';
import { AutoConfig, env } from '@huggingface/transformers';
import { allowNetworkFor, configureBrowserTransformers } from '../src/browser/transformers-env.ts';
import { variantNeedsFloat16 } from '../src/lib/variants/table.ts';
import { QuantlabError } from '../src/lib/errors.ts';
import { runnerEvalModel } from '../src/lib/eval/model.ts';
import { floorDecode } from '../src/lib/bench/floor.ts';
import type { FloorMeasurement } from '../src/lib/page/latency.ts';
import { throwIfAborted } from '../src/lib/errors.ts';
import { batchTokens } from '../src/lib/runner/token-batch.ts';

/** Refuses float16 variants on an adapter without shader-f16 before ONNX Runtime can fail (or return zeros). */
async function checkDevice(variant: string, device: Device): Promise<void> {
  if (device !== 'webgpu') return;
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter) throw new QuantlabError('unsupported-device', 'This browser offers no WebGPU adapter', 'Run this column on WASM.');
  if (variantNeedsFloat16(variant) && !adapter.features.has('shader-f16')) {
    throw new QuantlabError(
      'unsupported-device',
      `${variant} computes in float16, and this GPU (${adapter.info.vendor || 'unknown'} ${adapter.info.architecture || ''}) has no shader-f16`,
      'Run this column on WASM, or pick a float32 variant (fp32, q4, q8, bnb4) for WebGPU.',
    );
  }
}

configureBrowserTransformers();
const runner = new Runner();
const evalModel = runnerEvalModel(runner);
let current: AbortController | undefined;
/** A floor measurement in flight: a generation waits for it to stop (one session, one run at a time). */
let floorRun: Promise<unknown> | undefined;

async function outcome<T>(fn: () => T | Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    return { ok: false, error: toErrorInfo(err) };
  }
}

const api = {
  /**
   * Loads one variant (onnx/<variant>.onnx) of a model on a device; also says how many positions
   * the model has (config.json's max_position_embeddings), which the quality lab's windows need.
   */
  load(ref: ModelRef, variant: string, device: Device, onProgress?: (p: LoadProgress) => void, threads?: number): Promise<Outcome<{ loadMs: number; threads: number; maxPositions?: number }>> {
    return outcome(async () => {
      allowNetworkFor(ref);
      // Read by ONNX Runtime when this worker creates its first WASM session (later ones keep it).
      const wasm = env.backends.onnx.wasm!;
      if (threads !== undefined && threads >= 1) wasm.numThreads = threads;
      await checkDevice(variant, device);
      const modelId = transformersModelId(ref);
      const loadMs = await runner.load({ modelId, variant, device }, onProgress);
      const max = ((await AutoConfig.from_pretrained(modelId)) as { max_position_embeddings?: unknown }).max_position_embeddings;
      return { loadMs, threads: device === 'wasm' ? (wasm.numThreads ?? 1) : 0, maxPositions: typeof max === 'number' && max > 0 ? max : undefined };
    });
  },

  /**
   * Generates; a call to cancel() (or a newer generate()) stops it after the current token. The
   * stream reaches onToken at most every STREAM_EVERY_MS, and once more at the end.
   */
  generate(params: GenerateParams, onToken?: (e: TokenEvent) => void): Promise<Outcome<GenerateResult>> {
    current?.abort();
    const ctrl = new AbortController();
    current = ctrl;
    return outcome(async () => {
      await floorRun;
      if (!onToken) return runner.generate(params, undefined, ctrl.signal);
      const batch = batchTokens(onToken);
      try {
        return await runner.generate(params, batch.push, ctrl.signal);
      } finally {
        batch.flush();
      }
    }).finally(() => {
      if (current === ctrl) current = undefined;
    });
  },

  cancel(): void {
    current?.abort();
  },

  /**
   * The speed floor on this column's own session: greedy generation as the playground runs it
   * (streaming callback included), then a raw ONNX Runtime loop over the same prompt for as many
   * tokens, alternately `runs` times after a warm-up; medians. cancel() stops it between runs.
   */
  floor(prompt: string, newTokens: number, runs = 3): Promise<Outcome<FloorMeasurement>> {
    current?.abort();
    const ctrl = new AbortController();
    current = ctrl;
    const run = outcome(async () => {
      const { session, shape, Tensor } = runner.rawSession();
      const params = { prompt, maxNewTokens: newTokens, temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 };
      const mine: number[] = [];
      const raw: number[] = [];
      let tokens = 0;
      for (let i = 0; i <= runs; i++) {
        throwIfAborted(ctrl.signal);
        const g = await runner.generate(params, () => {}, ctrl.signal);
        throwIfAborted(ctrl.signal);
        if (g.ids.length < 2) throw new QuantlabError('bad-argument', `The model stopped after ${g.ids.length} token(s), too few to time decoding`, 'Use another prompt.');
        const f = await floorDecode(Tensor, session, shape, g.promptIds, g.ids.length);
        if (i === 0) continue; // warm-up
        mine.push(g.timings.decodeTokensPerS);
        raw.push(f.decodeTokensPerS);
        tokens = g.ids.length;
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
      return { decodeTokensPerS: median(mine), floorDecodeTokensPerS: median(raw), newTokens: tokens };
    }).finally(() => {
      if (current === ctrl) current = undefined;
      if (floorRun === run) floorRun = undefined;
    });
    floorRun = run;
    return run;
  },

  /** Teacher-forced logits [ids.length x vocab], transferred without a copy. */
  async logits(ids: number[]): Promise<Outcome<{ data: Float32Array; vocab: number }>> {
    const r = await outcome(() => runner.logits(ids));
    return r.ok ? transfer(r, [r.value.data.buffer as ArrayBuffer]) : r;
  },

  encode(prompt: string, chatTemplate = false): Promise<Outcome<number[]>> {
    return outcome(() => runner.encode(prompt, chatTemplate));
  },

  /** Text of ids, special tokens skipped (the lab's bits per byte). */
  decode(ids: number[]): Promise<Outcome<string>> {
    return outcome(() => evalModel.decode(ids));
  },

  /** The tokenizer's BOS id, or undefined (the lab's windows start with it). */
  bosId(): Promise<Outcome<number | undefined>> {
    return outcome(() => evalModel.bosId());
  },

  async dispose(): Promise<void> {
    current?.abort();
    await runner.dispose();
  },
};

export type ColumnApi = typeof api;
expose(api);
