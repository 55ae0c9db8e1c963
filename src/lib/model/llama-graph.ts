// Builds the ONNX graph of a Llama-family decoder (Llama, SmolLM2, TinyLlama, Qwen2) with the
// exact I/O transformers.js 4.x feeds a causal LM: from standard opset-17 ops, or (fused) with
// ONNX Runtime's contrib ops for RMSNorm, rotary embedding and attention (fused-ops.ts).

import { GraphBuilder } from '../onnx/builder';
import { DataType, attr, type ModelProto } from '../onnx/proto';
import { transpose } from '../numeric/transpose';
import { checkWeights, validateConfig, type DecoderConfig, type WeightMap } from './config';
import { fusedOps, type GraphForm } from './fused-ops';
import { ropeInvFreq } from './rope';

export { ropeInvFreq };

/** Fill value for masked attention scores: the fp16 minimum, so fp16 variants stay finite. */
export const MASK_VALUE = -65504;

const B = 'batch_size';
const S = 'sequence_length';
const P = 'past_sequence_length';
const T = 'total_sequence_length';

/**
 * Builds the fp32 decoder graph. Inputs: input_ids, attention_mask, position_ids,
 * past_key_values.{i}.key|value [batch, kv_heads, past, head_dim]. Outputs: logits,
 * present.{i}.key|value, and new_key_values.{i}.key|value, the rows this call added
 * [batch, kv_heads, seq, head_dim], so a runner can hold the cache and fetch only those.
 * Weights use Hugging Face names and the "halves" RoPE layout.
 */
export function buildDecoderGraph(c: DecoderConfig, w: WeightMap, form: GraphForm = 'unfused'): ModelProto {
  validateConfig(c);
  checkWeights(c, w);
  const g = new GraphBuilder();
  const D = c.hiddenSize;
  const H = c.numHeads;
  const KVH = c.numKvHeads;
  const hd = c.headDim;
  const nRep = H / KVH;

  const inputIds = g.input('input_ids', DataType.INT64, [B, S]);
  const attentionMask = g.input('attention_mask', DataType.INT64, [B, T]);
  const positionIds = g.input('position_ids', DataType.INT64, [B, S]);
  for (let i = 0; i < c.numLayers; i++) {
    g.input(`past_key_values.${i}.key`, DataType.FLOAT, [B, KVH, P, hd]);
    g.input(`past_key_values.${i}.value`, DataType.FLOAT, [B, KVH, P, hd]);
  }

  const weight = (name: string) => w.get(name)!;
  /** A linear layer stored as MatMul(x, W^T) with W^T an initializer [in, out]. */
  const linear = (x: string, name: string): string => {
    const t = weight(`${name}.weight`);
    const [out, inp] = t.shape;
    const wT = g.initializer(`${name}.weight_T`, DataType.FLOAT, [inp, out], transpose(t.data, out, inp));
    let y = g.op('MatMul', [x, wT]);
    const bias = w.get(`${name}.bias`);
    if (bias) y = g.op('Add', [y, g.initializer(`${name}.bias`, DataType.FLOAT, [out], bias.data)]);
    return y;
  };
  const vector = (name: string) => g.initializer(name, DataType.FLOAT, weight(name).shape, weight(name).data);
  const eps = g.float([c.rmsNormEps], []);
  const rmsNorm = (x: string, name: string): string =>
    g.scoped(name, () => {
      const ms = g.op('ReduceMean', [g.op('Mul', [x, x])], [attr.ints('axes', [-1]), attr.int('keepdims', 1)]);
      const normed = g.op('Div', [x, g.op('Sqrt', [g.op('Add', [ms, eps])])]);
      return g.op('Mul', [normed, vector(`${name}.weight`)]);
    });

  // Embedding.
  const embed = g.initializer(
    'model.embed_tokens.weight',
    DataType.FLOAT,
    [c.vocabSize, D],
    weight('model.embed_tokens.weight').data,
  );
  let x = g.op('Gather', [embed, inputIds], [attr.int('axis', 0)]);

  if (form === 'fused') {
    const f = fusedOps(g, c, { inputIds, attentionMask, positionIds, vector, linear });
    g.output('logits', DataType.FLOAT, [B, S, c.vocabSize]);
    for (let i = 0; i < c.numLayers; i++) {
      g.output(`present.${i}.key`, DataType.FLOAT, [B, KVH, T, hd]);
      g.output(`present.${i}.value`, DataType.FLOAT, [B, KVH, T, hd]);
    }
    addedRowsOutputs();
    const final = f.layers(x);
    lmHead(final);
    return g.build(
      'quantlab_decoder',
      { '': 17, [f.domain]: 1 },
      { 'quantlab.model_type': c.modelType, 'quantlab.graph': 'fused' },
    );
  }

  // Shared per-call tensors: rotary cos/sin [batch, 1, seq, hd/2] and the boolean mask [batch, 1, seq, total].
  const { cos, sin } = g.scoped('rotary', () => {
    const pos = g.op('Unsqueeze', [g.op('Cast', [positionIds], [attr.int('to', DataType.FLOAT)]), g.int64([-1])]);
    const freqs = g.op('Mul', [pos, g.float(Array.from(ropeInvFreq(hd, c.ropeTheta)))]);
    const f4 = g.op('Unsqueeze', [freqs, g.int64([1])]);
    return { cos: g.op('Cos', [f4]), sin: g.op('Sin', [f4]) };
  });
  const mask = g.scoped('mask', () => {
    const scalar = (shapeOf: string, axis: number) =>
      g.op('Gather', [g.op('Shape', [shapeOf]), g.int64([axis], [])], [attr.int('axis', 0)]);
    const total = scalar(attentionMask, 1);
    const seq = scalar(inputIds, 1);
    const past = g.op('Sub', [total, seq]);
    const one = g.int64([1], []);
    const keyIdx = g.op('Unsqueeze', [g.op('Range', [g.int64([0], []), total, one]), g.int64([0])]);
    const queryIdx = g.op('Unsqueeze', [g.op('Range', [past, total, one]), g.int64([1])]);
    const causal = g.op('LessOrEqual', [keyIdx, queryIdx]); // [seq, total]
    const padding = g.op('Unsqueeze', [
      g.op('Cast', [attentionMask], [attr.int('to', DataType.BOOL)]),
      g.int64([1, 2]),
    ]);
    return g.op('And', [causal, padding]); // [batch, 1, seq, total]
  });
  const half = g.int64([hd / 2, hd / 2]);
  const rope = (t: string): string => {
    const [x1, x2] = g.opN('Split', [t, half], 2, [attr.int('axis', -1)]);
    const r1 = g.op('Sub', [g.op('Mul', [x1, cos]), g.op('Mul', [x2, sin])]);
    const r2 = g.op('Add', [g.op('Mul', [x2, cos]), g.op('Mul', [x1, sin])]);
    return g.op('Concat', [r1, r2], [attr.int('axis', -1)]);
  };
  const heads = (t: string, n: number) =>
    g.op('Transpose', [g.op('Reshape', [t, g.int64([0, 0, n, hd])])], [attr.ints('perm', [0, 2, 1, 3])]);
  const scale = g.float([1 / Math.sqrt(hd)], []);
  const maskValue = g.float([MASK_VALUE], []);

  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}`;
    x = g.scoped(`layers.${i}`, () => {
      const h = rmsNorm(x, `${p}.input_layernorm`);
      const attnOut = g.scoped('attn', () => {
        const q = rope(heads(linear(h, `${p}.self_attn.q_proj`), H));
        const k = rope(heads(linear(h, `${p}.self_attn.k_proj`), KVH));
        const v = heads(linear(h, `${p}.self_attn.v_proj`), KVH);
        const presentK = g.op('Concat', [`past_key_values.${i}.key`, k], [attr.int('axis', 2)], {
          output: `present.${i}.key`,
        });
        const presentV = g.op('Concat', [`past_key_values.${i}.value`, v], [attr.int('axis', 2)], {
          output: `present.${i}.value`,
        });
        // The new rows alone, for runners that hold the cache themselves (HostKvCache, session.ts).
        g.op('Identity', [k], [], { output: `new_key_values.${i}.key` });
        g.op('Identity', [v], [], { output: `new_key_values.${i}.value` });
        // Grouped-query attention without copying K/V: fold the nRep query heads that share a
        // kv head into the sequence axis, [b, H, s, hd] -> [b, KVH, nRep*s, hd].
        let qs = g.op('Mul', [q, scale]);
        if (nRep > 1) qs = g.op('Reshape', [qs, g.int64([0, KVH, -1, hd])]);
        let scores = g.op('MatMul', [qs, g.op('Transpose', [presentK], [attr.ints('perm', [0, 1, 3, 2])])]);
        if (nRep > 1) scores = g.op('Reshape', [scores, g.int64([0, H, -1, 0])]);
        let probs = g.op('Softmax', [g.op('Where', [mask, scores, maskValue])], [attr.int('axis', -1)]);
        if (nRep > 1) probs = g.op('Reshape', [probs, g.int64([0, KVH, -1, 0])]);
        let ctx = g.op('MatMul', [probs, presentV]);
        if (nRep > 1) ctx = g.op('Reshape', [ctx, g.int64([0, H, -1, hd])]);
        const merged = g.op('Reshape', [
          g.op('Transpose', [ctx], [attr.ints('perm', [0, 2, 1, 3])]),
          g.int64([0, 0, H * hd]),
        ]);
        return linear(merged, `${p}.self_attn.o_proj`);
      });
      const x2 = g.op('Add', [x, attnOut]);
      const h2 = rmsNorm(x2, `${p}.post_attention_layernorm`);
      const mlpOut = g.scoped('mlp', () => {
        const gate = linear(h2, `${p}.mlp.gate_proj`);
        const up = linear(h2, `${p}.mlp.up_proj`);
        const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]);
        return linear(act, `${p}.mlp.down_proj`);
      });
      return g.op('Add', [x2, mlpOut]);
    });
  }

  lmHead(rmsNorm(x, 'model.norm'));
  g.output('logits', DataType.FLOAT, [B, S, c.vocabSize]);
  for (let i = 0; i < c.numLayers; i++) {
    g.output(`present.${i}.key`, DataType.FLOAT, [B, KVH, T, hd]);
    g.output(`present.${i}.value`, DataType.FLOAT, [B, KVH, T, hd]);
  }
  addedRowsOutputs();
  return g.build('quantlab_decoder', { '': 17 }, { 'quantlab.model_type': c.modelType });

  function addedRowsOutputs(): void {
    for (let i = 0; i < c.numLayers; i++) {
      g.output(`new_key_values.${i}.key`, DataType.FLOAT, [B, KVH, S, hd]);
      g.output(`new_key_values.${i}.value`, DataType.FLOAT, [B, KVH, S, hd]);
    }
  }

  function lmHead(final: string): void {
    g.scoped('lm_head', () => {
      if (c.tieWordEmbeddings) {
        // Tied head: Gemm with transB reads the [vocab, dim] embedding directly (no transposed copy).
        const flat = g.op('Reshape', [final, g.int64([-1, D])]);
        const logits2d = g.op('Gemm', [flat, embed], [attr.int('transB', 1)]);
        const outShape = g.op('Concat', [g.op('Shape', [inputIds]), g.int64([c.vocabSize])], [attr.int('axis', 0)]);
        g.op('Reshape', [logits2d, outShape], [], { output: 'logits' });
      } else {
        const t = weight('lm_head.weight');
        const wT = g.initializer(
          'lm_head.weight_T',
          DataType.FLOAT,
          [D, c.vocabSize],
          transpose(t.data, c.vocabSize, D),
        );
        g.op('MatMul', [final, wT], [], { output: 'logits' });
      }
    });
  }
}
