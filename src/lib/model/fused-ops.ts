// The fused form of the decoder's layers: ONNX Runtime's contrib ops where its own exports use
// them, SimplifiedLayerNormalization / SkipSimplifiedLayerNormalization for RMSNorm and the
// residual adds, RotaryEmbedding for q and k, GroupQueryAttention for attention with its KV cache.
// The same weights and I/O as the unfused graph; kernels exist on ONNX Runtime's CPU (Node and
// WASM) and WebGPU providers. Batch 1 without padding: GroupQueryAttention reads each sequence's
// length from the attention mask's sum (seqlens_k), as transformers.js feeds it.

import type { GraphBuilder } from '../onnx/builder';
import { DataType, attr } from '../onnx/proto';
import type { DecoderConfig } from './config';
import { ropeInvFreq } from './rope';

/** Which decoder graph `quantlab import` writes. */
export type GraphForm = 'unfused' | 'fused';
export const GRAPH_FORMS: readonly GraphForm[] = ['unfused', 'fused'];

export const MS_DOMAIN = 'com.microsoft';

/** cos/sin caches [positions, headDim/2] of the halves RoPE layout, as the unfused graph computes them (float32). */
export function rotaryCaches(positions: number, invFreq: Float32Array): { cos: Float32Array; sin: Float32Array } {
  const half = invFreq.length;
  const cos = new Float32Array(positions * half);
  const sin = new Float32Array(positions * half);
  for (let p = 0; p < positions; p++)
    for (let i = 0; i < half; i++) {
      const f = Math.fround(Math.fround(p) * invFreq[i]);
      cos[p * half + i] = Math.cos(f);
      sin[p * half + i] = Math.sin(f);
    }
  return { cos, sin };
}

interface Parts {
  inputIds: string;
  attentionMask: string;
  positionIds: string;
  vector(name: string): string;
  linear(x: string, name: string): string;
}

/** Adds the fused layers; `layers(x)` returns the final norm's output. */
export function fusedOps(
  g: GraphBuilder,
  c: DecoderConfig,
  parts: Parts,
): { domain: string; layers(x: string): string } {
  const { attentionMask, positionIds, vector, linear } = parts;
  const hd = c.headDim;
  const norm = [attr.int('axis', -1), attr.float('epsilon', c.rmsNormEps), attr.int('stash_type', 1)];
  const { cos, sin } = rotaryCaches(c.maxPositionEmbeddings, ropeInvFreq(hd, c.ropeTheta));
  const cosCache = g.initializer('rotary.cos_cache', DataType.FLOAT, [c.maxPositionEmbeddings, hd / 2], cos);
  const sinCache = g.initializer('rotary.sin_cache', DataType.FLOAT, [c.maxPositionEmbeddings, hd / 2], sin);
  // GroupQueryAttention's lengths: seqlens_k = tokens so far - 1 per batch row, and the total length.
  const { seqlens, total } = g.scoped('gqa_lengths', () => {
    const sum = g.op('ReduceSum', [attentionMask, g.int64([1])], [attr.int('keepdims', 0)]);
    const seqlens = g.op('Cast', [g.op('Sub', [sum, g.int64([1], [])])], [attr.int('to', DataType.INT32)]);
    const totalLen = g.op('Gather', [g.op('Shape', [attentionMask]), g.int64([1], [])], [attr.int('axis', 0)]);
    return { seqlens, total: g.op('Cast', [totalLen], [attr.int('to', DataType.INT32)]) };
  });
  const rope = (t: string, heads: number) =>
    g.op(
      'RotaryEmbedding',
      [t, positionIds, cosCache, sinCache],
      [attr.int('interleaved', 0), attr.int('num_heads', heads)],
      {
        domain: MS_DOMAIN,
      },
    );
  /** RMSNorm of (residual + delta): [normed, sum]. */
  const skipNorm = (delta: string, residual: string, weight: string): [string, string] => {
    const [out, , , sum] = g.opN(
      'SkipSimplifiedLayerNormalization',
      [delta, residual, vector(weight)],
      4,
      norm.slice(1, 2),
      MS_DOMAIN,
    );
    return [out, sum];
  };

  return {
    domain: MS_DOMAIN,
    layers(x0: string): string {
      let residual = x0;
      let h = g.scoped('layers.0', () =>
        g.op('SimplifiedLayerNormalization', [x0, vector('model.layers.0.input_layernorm.weight')], norm),
      );
      for (let i = 0; i < c.numLayers; i++) {
        const p = `model.layers.${i}`;
        [h, residual] = g.scoped(`layers.${i}`, () => {
          const attnOut = g.scoped('attn', () => {
            const q = rope(linear(h, `${p}.self_attn.q_proj`), c.numHeads);
            const k = rope(linear(h, `${p}.self_attn.k_proj`), c.numKvHeads);
            const v = linear(h, `${p}.self_attn.v_proj`);
            // The new rows alone, [batch, kv_heads, seq, head_dim], as the unfused graph returns them.
            for (const [t, kv] of [
              [k, 'key'],
              [v, 'value'],
            ] as const) {
              const heads = g.op('Reshape', [t, g.int64([0, 0, c.numKvHeads, hd])]);
              g.op('Transpose', [heads], [attr.ints('perm', [0, 2, 1, 3])], { output: `new_key_values.${i}.${kv}` });
            }
            const [ctx] = g.opN(
              'GroupQueryAttention',
              [q, k, v, `past_key_values.${i}.key`, `past_key_values.${i}.value`, seqlens, total],
              3,
              [
                attr.int('num_heads', c.numHeads),
                attr.int('kv_num_heads', c.numKvHeads),
                attr.float('scale', 1 / Math.sqrt(hd)),
              ],
              MS_DOMAIN,
              ['', `present.${i}.key`, `present.${i}.value`],
            );
            return linear(ctx, `${p}.self_attn.o_proj`);
          });
          const [h2, x2] = skipNorm(attnOut, residual, `${p}.post_attention_layernorm.weight`);
          const mlpOut = g.scoped('mlp', () => {
            const gate = linear(h2, `${p}.mlp.gate_proj`);
            const up = linear(h2, `${p}.mlp.up_proj`);
            const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]);
            return linear(act, `${p}.mlp.down_proj`);
          });
          const next = i + 1 < c.numLayers ? `model.layers.${i + 1}.input_layernorm.weight` : 'model.norm.weight';
          return skipNorm(mlpOut, x2, next);
        });
      }
      return h;
    },
  };
}
