// Which Hub models the runner can drive, by config.json's model_type. The runner's decode loop
// (src/lib/runner/decode-loop.ts) feeds input_ids, attention_mask, position_ids when the graph has
// it, and one past_key_values.<i>.key / .value pair per layer shaped [batch, kv_heads, past,
// head_dim]; it reads logits and present.<i>.key / .value. These model_types are the text-only
// decoders whose transformers.js exports have exactly that I/O (transformers.js 4.3.1 configs.js
// groups them so). Left out: encoder-decoders, vision/audio models, hybrids with recurrent or
// convolution state (lfm2, falcon_h1, nemotron_h, granitemoehybrid), and gpt_bigcode (one merged
// key_value per layer). Verified end to end here: llama (aidreams260K, SmolLM2 and Llama 3.2
// layout) and qwen2 (the tiny fixture); the others are loaded on the same promise, and the load's
// session check (checkDecoderSession) still names any I/O that differs.

export const SUPPORTED_MODEL_TYPES: readonly string[] = [
  'llama',
  'qwen2',
  'qwen3',
  'mistral',
  'ministral',
  'phi',
  'phi3',
  'gemma',
  'gemma2',
  'gemma3_text',
  'granite',
  'olmo',
  'olmo2',
  'olmo3',
  'smollm3',
  'stablelm',
  'starcoder2',
  'cohere',
  'cohere2',
  'helium',
  'glm',
  'exaone',
  'mobilellm',
  'gpt2',
  'gptj',
  'gpt_neo',
  'gpt_neox',
  'codegen',
  'opt',
];

/** config.json's model_type when the runner supports it, or why not. */
export function checkArchitecture(config: unknown): { modelType: string } | { problem: string; modelType?: string } {
  const modelType = config && typeof config === 'object' ? (config as { model_type?: unknown }).model_type : undefined;
  if (typeof modelType !== 'string' || modelType === '')
    return { problem: 'its config.json has no model_type, so its architecture is unknown' };
  if (!SUPPORTED_MODEL_TYPES.includes(modelType))
    return { problem: `it is a ${modelType} model, which QuantLab's runner does not drive`, modelType };
  return { modelType };
}
