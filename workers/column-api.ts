// A column worker's calls (but warm(), which its entry column.worker.ts answers before this has
// loaded): loads, generation, the floor measurement, token comparisons.
import { transfer } from 'comlink';
import { AutoConfig } from '@huggingface/transformers';
import { mailbox, messagesReceived, startWasm } from './column-runtime';
import { trackDownloads } from '../src/browser/hub-downloads';
import { allowNetworkFor, configureBrowserTransformers } from '../src/browser/transformers-env';
import { floorDecode } from '../src/lib/bench/floor';
import { greedyParams, measureInterleaved, runnerRunOf } from '../src/lib/bench/measure';
import { median } from '../src/lib/bench/stats';
import { QuantlabError, throwIfAborted } from '../src/lib/errors';
import { atModelHost } from '../src/lib/hub/problems';
import { runnerEvalModel } from '../src/lib/eval/model';
import type { FloorMeasurement } from '../src/lib/page/latency';
import { wallNow } from '../src/lib/page/first-token';
import { readModelShape } from '../src/lib/page/memory-budget';
import { compareTokens, type TokenComparison } from '../src/lib/page/token-compare';
import { transformersModelId, type ModelRef } from '../src/lib/model/ref';
import { Runner } from '../src/lib/runner/runner';
import { variantNeedsFloat16 } from '../src/lib/variants/table';
import { batchTokens } from '../src/lib/runner/token-batch';
import { atMostEvery, nextTask, whileMessagesWaiting } from '../src/lib/runner/next-task';
import type { DownloadSnapshot } from '../src/lib/download/progress';
import type { Device, GenerateParams, LoadProgress, TokenEvent } from '../src/lib/runner/types';
import type { ColumnApi, ColumnHang } from './protocol';

/** Refuses float16 variants on an adapter without shader-f16 before ONNX Runtime can fail (or return zeros). */
async function checkDevice(variant: string, device: Device): Promise<void> {
  if (device !== 'webgpu') return;
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter)
    throw new QuantlabError('unsupported-device', 'This browser offers no WebGPU adapter', 'Run this column on WASM.');
  if (variantNeedsFloat16(variant) && !adapter.features.has('shader-f16')) {
    throw new QuantlabError(
      'unsupported-device',
      `${variant} computes in float16, and this GPU (${adapter.info.vendor || 'unknown'} ${adapter.info.architecture || ''}) has no shader-f16`,
      'Run this column on WASM, or pick a float32 variant (fp32, q4, q8, bnb4) for WebGPU.',
    );
  }
}

/** When this part of the worker had run: transformers.js and the runner evaluated (loads wait for it). */
const APP_AT = wallNow();
configureBrowserTransformers();

// Between tokens the loop lets the page's messages in, so cancel() is read within one token: while
// a message the page has posted has not arrived (the count it shares, mailbox(): the entry keeps
// it, as it comes first), or else at most every 8 ms (next-task.ts).
const every8ms = atMostEvery(8, nextTask);
let waiting: { posted: Int32Array; between: () => Promise<void> } | undefined;
function between(): Promise<void> {
  // The test hook's pace only when set: no extra promise a token otherwise.
  if (paceMs > 0) return new Promise((resolve) => setTimeout(resolve, paceMs)).then(unpaced);
  return unpaced();
}
function unpaced(): Promise<void> {
  const posted = mailbox();
  if (!posted) return every8ms();
  if (waiting?.posted !== posted)
    waiting = { posted, between: whileMessagesWaiting(posted, messagesReceived, nextTask) };
  return waiting.between();
}
const runner = new Runner({ betweenTokens: between });
const evalModel = runnerEvalModel(runner);
let current: AbortController | undefined;
/** The Hub downloads of the load in flight (cancel() aborts them). */
let downloads: { cancel(): void } | undefined;
/** A floor measurement in flight, settling when it ends: a generation waits for it (one session, one run at a time). */
let floorRun: Promise<unknown> | undefined;
/** The generation in flight, settling when it ends: the next one starts after it (it has been aborted by then). */
let generation: Promise<unknown> | undefined;
/** A token comparison in flight (compareTokens), settling when it ends: a generation waits for it. */
let comparing: Promise<unknown> | undefined;
/** Test hook (src/browser/test-hooks.ts): a call that never answers, as a stuck session would. */
let hang: ColumnHang | null = null;
/** Test hook: ms to wait after each token. */
let paceMs = 0;
const never = () => new Promise<never>(() => {});

export const api = {
  async load(
    ref: ModelRef,
    variant: string,
    device: Device,
    onProgress?: (p: LoadProgress) => void,
    threads?: number,
    externalData?: number,
  ) {
    allowNetworkFor(ref);
    // The test hook hangs before anything else posts progress, so its line is the last one the
    // watchdog sees, however slow this worker's WASM start is on a loaded machine.
    if (hang === 'load') {
      onProgress?.({ status: 'init', message: `Creating ${device} session for ${variant}` });
      await never();
    }
    const started = await startWasm(device, threads);
    await checkDevice(variant, device);
    const modelId = transformersModelId(ref);
    // Hub files: each one's bytes, rate and source (network or browser cache) reach the column.
    const tracked =
      ref.kind === 'hub' ? trackDownloads((s) => onProgress?.({ status: 'files', downloads: s })) : undefined;
    downloads = tracked;
    let loadMs: number;
    let max: unknown;
    let files: DownloadSnapshot | undefined;
    let failed = true;
    try {
      loadMs = await runner.load({ modelId, variant, device, externalData }, onProgress).catch((err: unknown) => {
        throw ref.kind === 'hub' ? atModelHost(err, ref.id, ref.host) : err;
      });
      max = ((await AutoConfig.from_pretrained(modelId)) as { max_position_embeddings?: unknown })
        .max_position_embeddings;
      failed = false;
    } finally {
      files = await tracked?.finish(failed);
      if (downloads === tracked) downloads = undefined;
    }
    return {
      loadMs,
      marks: { bootAt: APP_AT, wasm: started.span, ...runner.loadSpans! },
      downloads: files,
      threads: device === 'wasm' ? started.threads : 0,
      betweenTokens: mailbox() ? 'while-messages-wait' : 'every-8-ms',
      maxPositions: typeof max === 'number' && max > 0 ? max : undefined,
    };
  },

  async modelShape(ref: ModelRef) {
    allowNetworkFor(ref);
    return readModelShape(await AutoConfig.from_pretrained(transformersModelId(ref)));
  },

  async generate(params: GenerateParams, onToken?: (e: TokenEvent) => void) {
    current?.abort();
    const ctrl = new AbortController();
    current = ctrl;
    const before = generation;
    const run = (async () => {
      await before;
      await floorRun;
      await comparing;
      if (hang === 'generate') await never();
      if (!onToken) return await runner.generate(params, undefined, ctrl.signal);
      const batch = batchTokens(onToken);
      try {
        return await runner.generate(params, batch.push, ctrl.signal);
      } finally {
        batch.flush();
      }
    })();
    const ended = run.catch(() => undefined);
    generation = ended;
    try {
      return await run;
    } finally {
      if (current === ctrl) current = undefined;
      if (generation === ended) generation = undefined;
    }
  },

  cancel(): void {
    current?.abort();
  },

  cancelLoad(): void {
    downloads?.cancel();
  },

  hang(what: ColumnHang | null): void {
    hang = what;
  },

  pace(ms: number): void {
    paceMs = ms;
  },

  floor(prompt: string, newTokens: number, runs = 3): Promise<FloorMeasurement> {
    current?.abort();
    const ctrl = new AbortController();
    current = ctrl;
    // One session, one run at a time: a token comparison in flight ends first.
    const run = (async () => {
      await comparing;
      return measureFloor(prompt, newTokens, runs, ctrl.signal);
    })().finally(() => {
      if (current === ctrl) current = undefined;
      if (floorRun === ended) floorRun = undefined;
    });
    // A generation waits for the measurement to end, not for it to succeed.
    const ended = run.catch(() => undefined);
    floorRun = ended;
    return run;
  },

  async compareTokens(ids: number[], from: number, other: { data: Float32Array; vocab: number } | null) {
    const run = (async (): Promise<TokenComparison> => {
      await generation;
      await floorRun;
      const base = await runner.logits(ids);
      if (other && other.vocab !== base.vocab)
        throw new QuantlabError(
          'bad-argument',
          `The columns' vocabularies differ (${other.vocab} and ${base.vocab} tokens)`,
          'Only precisions of one model can be compared token by token.',
        );
      const stats = compareTokens(ids, from, base.vocab, base.data, other?.data ?? null);
      const pieces: Record<number, string> = {};
      for (const s of stats) for (const c of [...s.top, ...s.topBase]) pieces[c.id] ??= runner.decode([c.id]);
      return { stats, pieces };
    })();
    const ended = run.catch(() => undefined);
    comparing = ended;
    try {
      return await run;
    } finally {
      if (comparing === ended) comparing = undefined;
    }
  },

  async logits(ids: number[]) {
    const r = await runner.logits(ids);
    return transfer(r, [r.data.buffer as ArrayBuffer]);
  },

  async encode(prompt: string, chatTemplate = false) {
    return runner.encode(prompt, chatTemplate);
  },

  async decode(ids: number[]) {
    return evalModel.decode(ids);
  },

  async bosId() {
    return evalModel.bosId();
  },

  async dispose(): Promise<void> {
    current?.abort();
    await runner.dispose();
  },
} satisfies Omit<ColumnApi, 'warm' | 'mailbox'>;

/**
 * The playground's greedy generation (streaming callback included) and the raw loop on the same
 * session taking turns (the benchmark's order, src/lib/bench/measure.ts); medians of the runs.
 */
async function measureFloor(
  prompt: string,
  newTokens: number,
  runs: number,
  signal: AbortSignal,
): Promise<FloorMeasurement> {
  const { session, shape, Tensor } = runner.rawSession();
  const params = greedyParams(prompt, newTokens);
  const m = await measureInterleaved(
    {
      loadRunner: async () => 0,
      loadFloor: async () => 0,
      async runRunner() {
        throwIfAborted(signal);
        const g = await runner.generate(params, () => {}, signal);
        throwIfAborted(signal);
        if (g.ids.length < 2)
          throw new QuantlabError(
            'bad-argument',
            `The model stopped after ${g.ids.length} token(s), too few to time decoding`,
            'Use another prompt.',
          );
        return runnerRunOf(g);
      },
      runFloor: (promptIds, n) => floorDecode(Tensor, session, shape, promptIds, n),
    },
    runs,
  );
  return {
    decodeTokensPerS: median(m.runner.map((r) => r.decodeTokensPerS)),
    floorDecodeTokensPerS: median(m.floor.map((f) => f.decodeTokensPerS)),
    newTokens: m.runner[m.runner.length - 1].ids.length,
  };
}
