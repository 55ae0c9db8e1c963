// How much memory a column will hold before it loads, and whether the columns fit a budget: each
// column's weights as the runtime keeps them, its KV cache at the longest generation it may run, and
// the runtime's own overhead, summed over the columns that hold memory and compared with a budget
// taken from navigator.deviceMemory (or set by the user). The factors were measured in Chromium on
// the fixtures (bench/memory.bench.ts; the figures are in its header and the issue's closing note).

import type { VariantInfo } from '../variants/table';

/** What the estimate needs from a model's config.json. */
export interface ModelShape {
  layers: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  maxPositions?: number;
}

const posInt = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;

/**
 * The shape in a config.json (Llama, Qwen2, Phi-3, Gemma names), or undefined when a field the KV
 * cache needs is missing (the estimate then leaves the KV cache out rather than guess).
 */
export function readModelShape(config: unknown): ModelShape | undefined {
  if (!config || typeof config !== 'object') return undefined;
  const c = config as Record<string, unknown>;
  const layers = posInt(c.num_hidden_layers) ?? posInt(c.n_layer) ?? posInt(c.num_layers);
  const heads = posInt(c.num_attention_heads) ?? posInt(c.n_head);
  const kvHeads = posInt(c.num_key_value_heads) ?? heads;
  const hidden = posInt(c.hidden_size) ?? posInt(c.n_embd);
  const headDim = posInt(c.head_dim) ?? (hidden && heads && hidden % heads === 0 ? hidden / heads : undefined);
  const vocab = posInt(c.vocab_size);
  if (!layers || !kvHeads || !headDim || !vocab) return undefined;
  const maxPositions = posInt(c.max_position_embeddings);
  return maxPositions ? { layers, kvHeads, headDim, vocab, maxPositions } : { layers, kvHeads, headDim, vocab };
}

/** How a variant's weights are stored, which decides what the runtime makes of them. */
export type WeightFormat = 'float32' | 'float16' | 'integer' | 'nbits' | 'nbits-f16' | 'bnb4';

/** The storage format of a variant, from its table entry (table.ts). */
export function weightFormat(v: Pick<VariantInfo, 'format' | 'integerMatMul' | 'needsShaderF16'>): WeightFormat {
  if (v.integerMatMul) return 'integer';
  if (v.format.startsWith('MatMulNBits')) return v.needsShaderF16 ? 'nbits-f16' : 'nbits';
  if (v.format.startsWith('MatMulBnb4')) return 'bnb4';
  if (v.needsShaderF16) return 'float16';
  return 'float32';
}

/**
 * Resident bytes per byte of the .onnx file once a WASM session has loaded, at the load's end (the
 * highest point: the file is read into JS, copied into the WASM heap, and ONNX Runtime builds its
 * initializers and pre-packed weights from that copy; WebAssembly memory never shrinks, and the JS
 * copy goes only at a later garbage collection). float16 weights are widened to float32 on WASM,
 * hence the larger factors of fp16 and q4f16. Measured on the SmolLM2-135M-shaped fixture (files of
 * 111 to 513 MB; bench/memory.bench.ts, Chromium 156, onnxruntime-web 1.31, 2 WASM threads):
 * (resident after the load - COLUMN_OVERHEAD_BYTES) / file bytes, rounded up to a tenth.
 */
export const WEIGHT_FACTORS: Record<WeightFormat, number> = {
  // (2004 - 192) / 513.4 MB = 3.53
  float32: 3.6,
  // (1765 - 192) / 256.9 = 6.12
  float16: 6.2,
  // q8: (1121 - 192) / 209.9 = 4.43
  integer: 4.5,
  // q4: (982 - 192) / 171.7 = 4.60
  nbits: 4.7,
  // q4f16: (926 - 192) / 111.4 = 6.59
  'nbits-f16': 6.6,
  // (999 - 192) / 165.4 = 4.88
  bnb4: 4.9,
};

/**
 * What every column costs whatever its model: a worker with its JS heap, transformers.js and the
 * tokenizer, ONNX Runtime's WASM module (27 MB of code, compiled again in each worker) and its
 * thread pool. Measured with the smallest fixtures (quantlab-tiny and aidreams260K, weights under
 * 4 MB): 180 to 236 MB for a first column, 137 to 156 MB for each further one.
 */
export const COLUMN_OVERHEAD_BYTES = 192 * 1024 * 1024;

/**
 * On WebGPU the weights end in GPU buffers; the load still holds the file in JS and in the WASM heap
 * once each. Not measured here (this machine's WebGPU is SwiftShader, in process memory).
 */
const WEBGPU_WEIGHT_FACTOR = 2;

export interface ColumnMemoryInput {
  /** The .onnx file's size (plus its .onnx_data, when it has some). */
  fileBytes: number;
  format: WeightFormat;
  /** fp16 / q4f16 graphs keep their KV cache in float16. */
  float16: boolean;
  device: 'wasm' | 'webgpu';
  /** Config shape; undefined leaves the KV cache and logits out. */
  shape?: ModelShape;
  /** Prompt plus new tokens: the longest sequence the KV cache will hold. */
  tokens: number;
}

export interface ColumnMemory {
  weights: number;
  kvCache: number;
  /** Logits of the prompt's prefill (float32, tokens x vocab) and the runtime's fixed cost. */
  overhead: number;
  total: number;
}

/** The estimate for one column, in bytes. */
export function estimateColumnMemory(i: ColumnMemoryInput): ColumnMemory {
  const factor = i.device === 'webgpu' ? WEBGPU_WEIGHT_FACTOR : WEIGHT_FACTORS[i.format];
  const weights = Math.round(i.fileBytes * factor);
  const s = i.shape;
  const tokens = s?.maxPositions ? Math.min(i.tokens, s.maxPositions) : i.tokens;
  // layers x (key, value) x kv heads x head dim x positions x bytes per element
  const kvCache = s ? s.layers * 2 * s.kvHeads * s.headDim * tokens * (i.float16 ? 2 : 4) : 0;
  const logits = s ? tokens * s.vocab * 4 : 0;
  const overhead = COLUMN_OVERHEAD_BYTES + logits;
  return { weights, kvCache, overhead, total: weights + kvCache + overhead };
}

/**
 * An upper bound on the tokens a generation holds: the prompt's UTF-8 bytes (no tokenizer makes
 * more tokens than bytes, byte fallback included) plus room for a chat template, plus the new tokens.
 */
export function plannedTokens(prompt: string, maxNewTokens: number, chatTemplate: boolean): number {
  return new TextEncoder().encode(prompt).length + (chatTemplate ? CHAT_TEMPLATE_TOKENS : 2) + maxNewTokens;
}

/** Room for a chat template's own tokens (role markers, a default system prompt). */
export const CHAT_TEMPLATE_TOKENS = 64;

const GB = 1024 ** 3;

/** The budget when the browser gives no navigator.deviceMemory (Firefox, Safari): 2 GiB. */
export const FALLBACK_BUDGET_BYTES = 2 * GB;

/**
 * The share of navigator.deviceMemory the columns may use: half. The browser, the page, the OS and
 * other tabs need the rest. deviceMemory is rounded down to a power of two and capped (at 8 by the
 * specification's suggestion; Chromium 156 reports 16 on this 24 GiB machine).
 */
export const DEVICE_MEMORY_SHARE = 0.5;

/**
 * The default budget's ceiling, whatever the device: 3 GiB. Every column is a worker in the page's
 * one renderer process, and in Chromium 156 here a SmolLM2-135M load never finished (no error, no
 * progress, memory flat for minutes) once that process held 3.7 to 5.2 GB, even loading one column
 * at a time on an idle machine with 24 GiB (bench/memory.bench.ts; issue 12's six-column hang). The
 * estimates run 0 to 30 % above the measured figures, so 3 GiB of estimate stays under that.
 */
export const DEFAULT_BUDGET_CAP_BYTES = 3 * GB;

/** The default budget: a share of navigator.deviceMemory (GB) when the browser gives it, else the fallback; at most the cap. */
export function defaultBudget(deviceMemoryGb: number | undefined): number {
  const share =
    typeof deviceMemoryGb === 'number' && Number.isFinite(deviceMemoryGb) && deviceMemoryGb > 0
      ? deviceMemoryGb * GB * DEVICE_MEMORY_SHARE
      : FALLBACK_BUDGET_BYTES;
  return Math.min(share, DEFAULT_BUDGET_CAP_BYTES);
}

/** A column holding memory (loaded, or loading with its share reserved). */
export interface Held {
  label: string;
  bytes: number;
}

/** Why a column may not load: what it needs, the budget and who holds what. */
export interface Refusal {
  need: number;
  budget: number;
  held: Held[];
  message: string;
  detail: string;
}

/** "610 MB", "2.0 GB" (binary units: the budget is a power-of-two amount of device memory). */
export function formatBytes(b: number): string {
  return b >= GB ? `${(b / GB).toFixed(1)} GB` : `${Math.round(b / 1024 ** 2)} MB`;
}

/** null when `need` fits beside what `held` holds, else the refusal with its figures. */
export function checkBudget(label: string, need: number, budget: number, held: readonly Held[]): Refusal | null {
  const used = held.reduce((s, h) => s + h.bytes, 0);
  if (used + need <= budget) return null;
  const biggest = [...held].sort((a, b) => b.bytes - a.bytes);
  const holders = biggest.map((h) => `${h.label} (${formatBytes(h.bytes)})`).join(', ');
  const message = `${label} needs about ${formatBytes(need)}; the memory budget is ${formatBytes(budget)}${
    held.length ? `, and ${formatBytes(used)} of it is held by ${holders}` : ''
  }.`;
  const detail =
    need > budget
      ? 'This column alone is larger than the budget: raise the memory budget in Settings if this device has the memory.'
      : `Remove a column (${biggest[0].label} frees the most) or raise the memory budget in Settings, then press Retry.`;
  return { need, budget, held: biggest, message, detail };
}
