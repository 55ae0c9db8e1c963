// The one engine every place runs: loads a model variant through transformers.js (files, dtype,
// device, tokenizer) and generates with its own decode loop on that session and QuantLab's
// coupled sampler, timing each token. Node (CLI, tests) calls it directly;
// the browser runs it inside a column's worker behind comlink.

import {
  AutoModelForCausalLM,
  AutoTokenizer,
  Tensor,
  type PreTrainedModel,
  type PreTrainedTokenizer,
} from '@huggingface/transformers';
import { describeFault, faultOfHubError } from '../download/faults';
import { QuantlabError } from '../errors';
import { checkSamplingParams, sampleToken } from '../sampling/sampler';
import {
  checkDecoderSession,
  kvCacheLayout,
  type KvCacheLayout,
  type MakeTensor,
  type OrtSession,
  type TensorCtor,
} from '../onnx/session';
import { applyRepetitionPenalty, decodeLoop } from './decode-loop';
import { StreamText } from './stream-text';
import { createRng } from '../sampling/rng';
import type { GenerateParams, GenerateResult, LoadProgress, LoadRequest, LoadSpans, TokenEvent } from './types';
import { variantLoadOptions } from '../variants/table';

const now = () => performance.now();
/** Wall clock (ms since the epoch), comparable across threads. */
const wall = () => performance.timeOrigin + performance.now();

/** Validates generation parameters, naming the first bad one. */
export function checkGenerateParams(p: GenerateParams): void {
  const bad =
    checkSamplingParams(p) ??
    (!Number.isInteger(p.maxNewTokens) || p.maxNewTokens < 1
      ? `max new tokens must be a whole number >= 1 (got ${p.maxNewTokens})`
      : undefined) ??
    (!Number.isFinite(p.repetitionPenalty) || p.repetitionPenalty <= 0
      ? `repetition penalty must be > 0 (got ${p.repetitionPenalty})`
      : undefined) ??
    (!Number.isInteger(p.seed) || p.seed < 0 ? `seed must be a whole number >= 0 (got ${p.seed})` : undefined);
  if (bad) throw new QuantlabError('bad-argument', bad);
}

/**
 * How many new tokens fit: the prompt and the new tokens share the model's positions, and the last
 * new token is never fed back, so `promptLength + newTokens - 1 <= maxPositions` (llama2.c's run.c
 * writes 122 tokens after a 7-token prompt in 128 positions). Fewer than asked comes with a note to
 * show; a prompt longer than every position is a bad argument.
 */
export function fitNewTokens(
  promptLength: number,
  maxNewTokens: number,
  maxPositions: number | undefined,
): { maxNewTokens: number; note?: string } {
  if (maxPositions === undefined) return { maxNewTokens };
  if (promptLength > maxPositions)
    throw new QuantlabError(
      'bad-argument',
      `The prompt is ${promptLength} tokens, more than the model's ${maxPositions} positions`,
      'Shorten the prompt.',
    );
  const room = maxPositions - promptLength + 1;
  if (maxNewTokens <= room) return { maxNewTokens };
  return {
    maxNewTokens: room,
    note: `At most ${room} new tokens, not ${maxNewTokens}: the prompt's ${promptLength} tokens and the new ones share the model's ${maxPositions} positions.`,
  };
}

export interface RunnerOptions {
  /**
   * Awaited between tokens (LoopOptions.between): a worker passes a wait for the next task
   * (next-task.ts: whileMessagesWaiting, else atMostEvery) so that its cancel message is read while
   * it generates.
   */
  betweenTokens?: () => Promise<void>;
}

export class Runner {
  #model?: PreTrainedModel;
  #tokenizer?: PreTrainedTokenizer;
  #loadMs = 0;
  #loadSpans?: LoadSpans;
  #request?: LoadRequest;

  constructor(private readonly options: RunnerOptions = {}) {}

  get loaded(): boolean {
    return this.#model !== undefined;
  }
  get request(): LoadRequest | undefined {
    return this.#request;
  }
  get tokenizer(): PreTrainedTokenizer {
    if (!this.#tokenizer) throw new QuantlabError('internal', 'No model loaded');
    return this.#tokenizer;
  }

  /** Loads the tokenizer and one ONNX variant; returns the load time in ms. */
  async load(req: LoadRequest, onProgress?: (p: LoadProgress) => void): Promise<number> {
    await this.dispose();
    const t0 = now();
    const progress_callback = (info: Record<string, unknown>) => {
      if (info.status === 'progress' && typeof info.file === 'string') {
        onProgress?.({
          status: 'download',
          file: info.file,
          loaded: Number(info.loaded ?? 0),
          total: Number(info.total ?? 0),
        });
      }
    };
    const tok = { start: wall(), end: 0 };
    const session = { start: 0, end: 0 };
    try {
      this.#tokenizer = await AutoTokenizer.from_pretrained(req.modelId, { progress_callback });
      tok.end = session.start = wall();
      onProgress?.({ status: 'init', message: `Reading the files of ${req.variant} (${req.device})` });
      this.#model = (await AutoModelForCausalLM.from_pretrained(req.modelId, {
        ...variantLoadOptions(req.variant, req.externalData),
        device: req.device,
        progress_callback,
      } as Parameters<typeof AutoModelForCausalLM.from_pretrained>[1])) as PreTrainedModel;
      session.end = wall();
      checkDecoderSession(decoderSession(this.#model), `onnx/${req.variant}.onnx`);
    } catch (err) {
      this.#tokenizer = undefined;
      await this.#model?.dispose();
      this.#model = undefined;
      throw describeLoadError(err, req);
    }
    this.#request = req;
    this.#loadSpans = { tokenizer: tok, session };
    this.#loadMs = now() - t0;
    onProgress?.({ status: 'ready', loadMs: this.#loadMs });
    return this.#loadMs;
  }

  /** When the last load read the tokenizer and built the session (wall clock). */
  get loadSpans(): LoadSpans | undefined {
    return this.#loadSpans;
  }

  /** The model's positions (config.json's max_position_embeddings), when it says. */
  get maxPositions(): number | undefined {
    const max = (this.#model?.config as { max_position_embeddings?: unknown } | undefined)?.max_position_embeddings;
    return typeof max === 'number' && max > 0 ? max : undefined;
  }

  /** Whether the loaded tokenizer has a chat template (tokenizer_config.json's chat_template). */
  get hasChatTemplate(): boolean {
    return Boolean((this.tokenizer as unknown as { chat_template?: unknown }).chat_template);
  }

  /** Encodes a prompt as generate() will (BOS and, when asked, the chat template). */
  encode(prompt: string, chatTemplate = false): number[] {
    const tok = this.tokenizer;
    if (chatTemplate) {
      if (!this.hasChatTemplate)
        throw new QuantlabError(
          'bad-argument',
          'This model has no chat template (its tokenizer_config.json has no chat_template)',
          'Untick "Use the chat template" (or drop --chat) to use the prompt as plain text.',
        );
      const text = tok.apply_chat_template([{ role: 'user', content: prompt }], {
        tokenize: false,
        add_generation_prompt: true,
      }) as string;
      return Array.from(tok.encode(text, { add_special_tokens: false }));
    }
    return Array.from(tok.encode(prompt));
  }

  decode(ids: number[]): string {
    return this.tokenizer.decode(ids, { skip_special_tokens: true });
  }

  /** The text the new ids add after the prompt (decoded together, so leading spaces survive). */
  continuation(promptIds: number[], ids: number[]): string {
    const head = this.decode(promptIds);
    const all = this.decode([...promptIds, ...ids]);
    return all.startsWith(head) ? all.slice(head.length) : this.decode(ids);
  }

  async generate(
    params: GenerateParams,
    onToken?: (e: TokenEvent) => void,
    signal?: AbortSignal,
  ): Promise<GenerateResult> {
    checkGenerateParams(params);
    const startedAt = wall();
    const model = this.#model;
    if (!model) throw new QuantlabError('internal', 'No model loaded');
    const promptIds = this.encode(params.prompt, params.chatTemplate);
    const n = promptIds.length;
    const fit = fitNewTokens(n, params.maxNewTokens, this.maxPositions);
    const rng = createRng(params.seed);
    const times: number[] = [];
    // The stream's state, handed to onToken as it grows (see TokenEvent).
    const seen: number[] = [];
    const offsets: number[] = [];
    const tokenMs: number[] = [];
    // Streamed text per token from a window of the last ids, not by decoding everything again.
    const stream = onToken ? new StreamText((xs) => this.decode(xs), promptIds) : undefined;
    const session = decoderSession(model);
    const t0 = now();
    let ids: number[];
    let kvLocation: string;
    let kvPath: 'host' | 'present';
    let firstTokenAt: number | undefined;
    try {
      ({ ids, kvLocation, kvPath } = await decodeLoop(session, ortTensor(), {
        promptIds,
        maxNewTokens: fit.maxNewTokens,
        stopIds: this.#stopIds(),
        signal,
        between: this.options.betweenTokens,
        // One uniform draw per token, always, so columns sharing a seed stay in step.
        pick: (logits, history) => {
          applyRepetitionPenalty(logits, history, params.repetitionPenalty);
          return sampleToken(logits, params, rng()).id;
        },
        onToken: (id, at) => {
          firstTokenAt ??= wall();
          if (times.length) tokenMs.push(at - times[times.length - 1]);
          times.push(at);
          if (!onToken || !stream) return;
          seen.push(id);
          const text = stream.push(id);
          offsets.push(text.length);
          onToken({ ids: seen, text, offsets, tokenMs });
        },
      }));
    } catch (err) {
      throw new QuantlabError('generate-failed', `Generation failed: ${(err as Error).message ?? String(err)}`);
    }
    const ttftMs = times.length ? times[0] - t0 : 0;
    const decodeMs = times.length > 1 ? times[times.length - 1] - times[0] : 0;
    return {
      promptIds,
      ids,
      text: this.continuation(promptIds, ids),
      cancelled: signal?.aborted === true,
      ...(fit.note ? { limitNote: fit.note } : {}),
      timings: {
        loadMs: this.#loadMs,
        ttftMs,
        prefillTokensPerS: ttftMs > 0 ? n / (ttftMs / 1000) : 0,
        decodeTokensPerS: decodeMs > 0 ? (ids.length - 1) / (decodeMs / 1000) : 0,
        tokenMs,
        kvLocation,
        kvPath,
        startedAt,
        ...(firstTokenAt !== undefined ? { firstTokenAt } : {}),
      },
    };
  }

  /**
   * The loaded decoder session with what a raw decode loop needs to drive it (the speed floor of
   * src/lib/bench/floor.ts, run on the very session the playground uses).
   */
  rawSession(): { session: OrtSession; shape: KvCacheLayout; Tensor: TensorCtor } {
    const model = this.#model;
    if (!model) throw new QuantlabError('internal', 'No model loaded');
    const session = decoderSession(model);
    const shape = kvCacheLayout(session);
    // ONNX Runtime tensors of the same runtime transformers.js loaded the session with.
    const Ctor = function (this: unknown, type: string, data: unknown, dims: readonly number[]) {
      return new Tensor(type as 'float32', data as Float32Array, [...dims]).ort_tensor;
    } as unknown as TensorCtor;
    return { session, shape, Tensor: Ctor };
  }

  /** Ids that end generation: generation_config.json's eos_token_id, else config.json's. */
  #stopIds(): Set<number> {
    const m = this.#model as unknown as {
      generation_config?: { eos_token_id?: number | number[] };
      config?: { eos_token_id?: number | number[] };
    };
    const eos = m.generation_config?.eos_token_id ?? m.config?.eos_token_id ?? [];
    return new Set(Array.isArray(eos) ? eos : [eos]);
  }

  /** Teacher-forced logits for a whole sequence: Float32Array [ids.length, vocab]. */
  async logits(ids: number[]): Promise<{ data: Float32Array; vocab: number }> {
    const model = this.#model;
    if (!model) throw new QuantlabError('internal', 'No model loaded');
    const n = ids.length;
    const out = (await model({
      input_ids: new Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, n]),
      attention_mask: new Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
    })) as { logits: Tensor };
    const logits = out.logits.to('float32');
    return { data: logits.data as Float32Array, vocab: logits.dims.at(-1)! };
  }

  async dispose(): Promise<void> {
    const m = this.#model;
    this.#model = undefined;
    this.#request = undefined;
    if (m) await m.dispose();
  }
}

/** The decoder's ONNX Runtime session inside a transformers.js model. */
function decoderSession(model: PreTrainedModel): OrtSession {
  const sessions = (model as unknown as { sessions: Record<string, OrtSession> }).sessions;
  return sessions.model ?? sessions.decoder_model_merged;
}

let ortTensorCtor: TensorCtor | undefined;

/**
 * Makes ONNX Runtime tensors with the class transformers.js's sessions take, without its Tensor
 * wrapper (a Proxy per tensor) around each one.
 */
function ortTensor(): MakeTensor {
  ortTensorCtor ??= (new Tensor('int64', new BigInt64Array(1), [1]).ort_tensor as object).constructor as TensorCtor;
  const Ctor = ortTensorCtor;
  return (type, data, dims) => new Ctor(type, data, dims);
}

function describeLoadError(err: unknown, req: LoadRequest): QuantlabError {
  if (err instanceof QuantlabError) return err;
  // A Hub file the host answered 401/403/404 for: which file, which host.
  const fault = faultOfHubError(err);
  if (fault) {
    const e = describeFault(fault);
    return new QuantlabError(e.code, e.message, e.detail);
  }
  const msg = err instanceof Error ? err.message : String(err);
  if (/fetch failed|Failed to fetch|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|NetworkError|network/i.test(msg)) {
    return new QuantlabError(
      'offline',
      `Could not reach the Hugging Face Hub to load ${req.modelId}`,
      'You seem to be offline. Open a local model instead (the built-in tiny model, or a model folder or llama2.c checkpoint from your disk).',
    );
  }
  if (/external data|external initializer|\.onnx_data/i.test(msg)) {
    // The words differ (transformers.js: 'file was not found locally at ".../x.onnx_data_1"'; ONNX
    // Runtime in Node: "External data path does not exist", on the web: 'Failed to load external
    // data file "x.onnx_data"'); the file name is what counts.
    const file = /[\w.-]+\.onnx_data(?:_\d+)?/.exec(msg)?.[0];
    return new QuantlabError(
      'load-failed',
      `Could not load ${req.variant} of ${req.modelId}: its weights file ${file ?? `${req.variant}.onnx_data`} is missing or cut short`,
      `Put every .onnx_data file of ${req.variant}.onnx beside it in onnx/ (${req.variant}.onnx_data, ${req.variant}.onnx_data_1, ...), downloaded or copied whole.`,
    );
  }
  if (/protobuf parsing failed|invalid protobuf|failed to load model/i.test(msg)) {
    return new QuantlabError(
      'bad-onnx',
      `onnx/${req.variant}.onnx of ${req.modelId} is corrupt or not an ONNX model (${msg})`,
      'Build the file again (quantlab import / quantize) or download it again.',
    );
  }
  if (/shader-f16|float16|fp16/i.test(msg) && req.device === 'webgpu') {
    return new QuantlabError(
      'unsupported-device',
      `${req.variant} needs 16-bit float support (shader-f16), which this GPU does not offer`,
      'Run this column on WASM instead.',
    );
  }
  return new QuantlabError(
    'load-failed',
    `Could not load ${req.variant} of ${req.modelId}: ${msg}`,
    'Check that the model folder has this ONNX file and that it is not corrupt.',
  );
}
