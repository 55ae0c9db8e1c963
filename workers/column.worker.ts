// One column of the playground: one model variant in its own ONNX Runtime session, so columns
// run in parallel and one failure (bad file, lost device, out of memory) stays in its column.
import { expose, transfer } from 'comlink';
import { AutoConfig } from '@huggingface/transformers';
import { toErrorInfo } from '../src/lib/errors.ts';
import { Runner } from '../src/lib/runner/runner.ts';
import { transformersModelId, type ModelRef } from '../src/lib/model/ref.ts';
import type { Device, GenerateParams, GenerateResult, LoadProgress, Outcome, TokenEvent } from '../src/lib/runner/types.ts';
import { allowNetworkFor, configureBrowserTransformers, wasmThreads } from '../src/browser/transformers-env.ts';
import { variantNeedsFloat16 } from '../src/lib/runner/variants.ts';
import { QuantlabError } from '../src/lib/errors.ts';
import { runnerEvalModel } from '../src/lib/eval/model.ts';

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
  load(ref: ModelRef, variant: string, device: Device, onProgress?: (p: LoadProgress) => void): Promise<Outcome<{ loadMs: number; threads: number; maxPositions?: number }>> {
    return outcome(async () => {
      allowNetworkFor(ref);
      await checkDevice(variant, device);
      const modelId = transformersModelId(ref);
      const loadMs = await runner.load({ modelId, variant, device }, onProgress);
      const max = ((await AutoConfig.from_pretrained(modelId)) as { max_position_embeddings?: unknown }).max_position_embeddings;
      return { loadMs, threads: device === 'wasm' ? wasmThreads() : 0, maxPositions: typeof max === 'number' && max > 0 ? max : undefined };
    });
  },

  /** Generates; a call to cancel() (or a newer generate()) stops it after the current token. */
  generate(params: GenerateParams, onToken?: (e: TokenEvent) => void): Promise<Outcome<GenerateResult>> {
    current?.abort();
    const ctrl = new AbortController();
    current = ctrl;
    return outcome(() => runner.generate(params, onToken, ctrl.signal)).finally(() => {
      if (current === ctrl) current = undefined;
    });
  },

  cancel(): void {
    current?.abort();
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
