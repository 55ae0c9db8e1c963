// The decoder hyper-parameters every importer produces and the graph builder consumes, and
// their round trip to the Hugging Face config.json / generation_config.json files.

import { QuantlabError } from '../errors';

export type ModelType = 'llama' | 'qwen2';

export interface DecoderConfig {
  modelType: ModelType;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** q/k/v projections carry a bias (Qwen2). */
  attentionBias: boolean;
  bosTokenId: number;
  /** Tokens that end generation (llama2.c models stop on BOS as well as EOS). */
  eosTokenIds: number[];
}

/** One float32 weight in Hugging Face naming and layout ([out, in] for linear layers). */
export interface Float32Tensor {
  shape: number[];
  data: Float32Array;
}

export type WeightMap = Map<string, Float32Tensor>;

/** The Hugging Face tensor names a decoder with this config needs, with their shapes. */
export function expectedWeights(c: DecoderConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  m.set('model.embed_tokens.weight', [c.vocabSize, c.hiddenSize]);
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}`;
    m.set(`${p}.input_layernorm.weight`, [c.hiddenSize]);
    m.set(`${p}.self_attn.q_proj.weight`, [q, c.hiddenSize]);
    m.set(`${p}.self_attn.k_proj.weight`, [kv, c.hiddenSize]);
    m.set(`${p}.self_attn.v_proj.weight`, [kv, c.hiddenSize]);
    if (c.attentionBias) {
      m.set(`${p}.self_attn.q_proj.bias`, [q]);
      m.set(`${p}.self_attn.k_proj.bias`, [kv]);
      m.set(`${p}.self_attn.v_proj.bias`, [kv]);
    }
    m.set(`${p}.self_attn.o_proj.weight`, [c.hiddenSize, q]);
    m.set(`${p}.post_attention_layernorm.weight`, [c.hiddenSize]);
    m.set(`${p}.mlp.gate_proj.weight`, [c.intermediateSize, c.hiddenSize]);
    m.set(`${p}.mlp.up_proj.weight`, [c.intermediateSize, c.hiddenSize]);
    m.set(`${p}.mlp.down_proj.weight`, [c.hiddenSize, c.intermediateSize]);
  }
  m.set('model.norm.weight', [c.hiddenSize]);
  if (!c.tieWordEmbeddings) m.set('lm_head.weight', [c.vocabSize, c.hiddenSize]);
  return m;
}

/** Checks that every needed tensor is present with the right shape; names what is missing. */
export function checkWeights(c: DecoderConfig, w: WeightMap): void {
  const missing: string[] = [];
  for (const [name, shape] of expectedWeights(c)) {
    const t = w.get(name);
    if (!t) {
      missing.push(name);
      continue;
    }
    const n = shape.reduce((a, b) => a * b, 1);
    if (t.shape.join(',') !== shape.join(',') || t.data.length !== n) {
      throw new QuantlabError(
        'missing-tensor',
        `Tensor ${name} has shape [${t.shape}], but the config needs [${shape}]`,
        'The weights do not match config.json; check that both come from the same model.',
      );
    }
  }
  if (missing.length) {
    const shown = missing.slice(0, 5).join(', ') + (missing.length > 5 ? `, and ${missing.length - 5} more` : '');
    throw new QuantlabError(
      'missing-tensor',
      `Missing tensors: ${shown}`,
      'The checkpoint is incomplete or not a Llama-family model.',
    );
  }
}

export function validateConfig(c: DecoderConfig): void {
  const ints: (keyof DecoderConfig)[] = [
    'vocabSize',
    'hiddenSize',
    'intermediateSize',
    'numLayers',
    'numHeads',
    'numKvHeads',
    'headDim',
    'maxPositionEmbeddings',
  ];
  for (const k of ints) {
    const v = c[k] as number;
    if (!Number.isInteger(v) || v <= 0)
      throw new QuantlabError('bad-config', `Config value ${k} = ${v} is not a positive integer`);
  }
  if (c.numHeads % c.numKvHeads !== 0) {
    throw new QuantlabError(
      'bad-config',
      `num_attention_heads (${c.numHeads}) is not a multiple of num_key_value_heads (${c.numKvHeads})`,
    );
  }
  if (c.headDim % 2 !== 0)
    throw new QuantlabError('bad-config', `head_dim ${c.headDim} must be even for rotary embeddings`);
  if (!(c.rmsNormEps > 0)) throw new QuantlabError('bad-config', `rms_norm_eps ${c.rmsNormEps} must be positive`);
  if (!(c.ropeTheta > 0)) throw new QuantlabError('bad-config', `rope_theta ${c.ropeTheta} must be positive`);
}

const ARCH: Record<ModelType, string> = { llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM' };

/** config.json contents transformers.js (and Python transformers) read. */
export function toHfConfig(c: DecoderConfig): Record<string, unknown> {
  return {
    architectures: [ARCH[c.modelType]],
    model_type: c.modelType,
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim,
    hidden_act: 'silu',
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    max_position_embeddings: c.maxPositionEmbeddings,
    tie_word_embeddings: c.tieWordEmbeddings,
    attention_bias: c.attentionBias,
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenIds.length === 1 ? c.eosTokenIds[0] : c.eosTokenIds,
    torch_dtype: 'float32',
    use_cache: true,
  };
}

export function toGenerationConfig(c: DecoderConfig): Record<string, unknown> {
  return {
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenIds.length === 1 ? c.eosTokenIds[0] : c.eosTokenIds,
    max_length: c.maxPositionEmbeddings,
  };
}

function num(json: Record<string, unknown>, key: string, fallback?: number): number {
  const v = json[key];
  if (typeof v === 'number') return v;
  if (fallback !== undefined) return fallback;
  throw new QuantlabError('bad-config', `config.json has no numeric "${key}"`);
}

/** Reads a Hugging Face config.json of a supported model_type. */
export function fromHfConfig(json: Record<string, unknown>): DecoderConfig {
  const modelType = json.model_type;
  if (modelType !== 'llama' && modelType !== 'qwen2') {
    throw new QuantlabError(
      'unsupported-model',
      `Unsupported model_type "${String(modelType)}": QuantLab converts llama and qwen2 models`,
      'Pick a Llama-family model (SmolLM2, TinyLlama, Llama 3.2, Qwen2/2.5) or an ONNX export from the Hub.',
    );
  }
  const scaling = json.rope_scaling as Record<string, unknown> | null | undefined;
  if (scaling && scaling.rope_type !== 'default' && scaling.type !== 'default') {
    throw new QuantlabError(
      'unsupported-model',
      `rope_scaling type "${String(scaling.rope_type ?? scaling.type)}" is not supported`,
      'Only plain RoPE (no scaling) is converted; use the ONNX export from the Hub for this model.',
    );
  }
  const hidden = num(json, 'hidden_size');
  const heads = num(json, 'num_attention_heads');
  const eos = json.eos_token_id;
  const c: DecoderConfig = {
    modelType,
    vocabSize: num(json, 'vocab_size'),
    hiddenSize: hidden,
    intermediateSize: num(json, 'intermediate_size'),
    numLayers: num(json, 'num_hidden_layers'),
    numHeads: heads,
    numKvHeads: num(json, 'num_key_value_heads', heads),
    headDim: num(json, 'head_dim', hidden / heads),
    rmsNormEps: num(json, 'rms_norm_eps', 1e-6),
    ropeTheta: num(json, 'rope_theta', 10000),
    maxPositionEmbeddings: num(json, 'max_position_embeddings', 2048),
    tieWordEmbeddings: json.tie_word_embeddings === true,
    attentionBias: modelType === 'qwen2' ? true : json.attention_bias === true,
    bosTokenId: num(json, 'bos_token_id', 1),
    eosTokenIds: Array.isArray(eos) ? (eos as number[]) : typeof eos === 'number' ? [eos] : [2],
  };
  validateConfig(c);
  return c;
}
