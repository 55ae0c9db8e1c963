// Reads a llama2.c checkpoint (version-0 "legacy" layout) into Hugging Face tensor names and
// layout, permuting wq/wk rows from llama2.c's adjacent-pair RoPE to the Hugging Face halves.

import { QuantlabError } from '../errors';
import type { DecoderConfig, WeightMap } from '../model/config';

export interface Llama2cHeader {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  sharedWeights: boolean;
}

const HEADER_BYTES = 7 * 4;
const LIMIT = 1 << 20;

export function parseLlama2cHeader(bytes: Uint8Array, fileName = 'checkpoint'): Llama2cHeader {
  if (bytes.byteLength < HEADER_BYTES) {
    throw new QuantlabError(
      'bad-checkpoint',
      `${fileName} is ${bytes.byteLength} bytes: too short for a llama2.c checkpoint header (28 bytes)`,
    );
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocab, seqLen] = Array.from({ length: 7 }, (_, i) =>
    v.getInt32(i * 4, true),
  );
  const h: Llama2cHeader = {
    dim,
    hiddenDim,
    nLayers,
    nHeads,
    nKvHeads,
    vocabSize: Math.abs(vocab),
    seqLen,
    sharedWeights: vocab > 0,
  };
  const fields: [string, number][] = [
    ['dim', dim],
    ['hidden_dim', hiddenDim],
    ['n_layers', nLayers],
    ['n_heads', nHeads],
    ['n_kv_heads', nKvHeads],
    ['vocab_size', h.vocabSize],
    ['seq_len', seqLen],
  ];
  for (const [name, value] of fields) {
    if (!(value > 0 && value < LIMIT)) {
      throw new QuantlabError(
        'bad-checkpoint',
        `${fileName} does not look like a llama2.c checkpoint: header field ${name} = ${value}`,
        'QuantLab reads the version-0 (legacy) llama2.c layout written by export.py --version 0 or the original run.c.',
      );
    }
  }
  if (dim % nHeads !== 0 || nHeads % nKvHeads !== 0 || (dim / nHeads) % 2 !== 0) {
    throw new QuantlabError(
      'bad-checkpoint',
      `${fileName}: inconsistent header (dim ${dim}, n_heads ${nHeads}, n_kv_heads ${nKvHeads})`,
    );
  }
  return h;
}

/** Number of bytes a version-0 checkpoint with this header needs. */
export function llama2cExpectedBytes(h: Llama2cHeader): number {
  const hd = h.dim / h.nHeads;
  const kvDim = h.nKvHeads * hd;
  const L = h.nLayers;
  const floats =
    h.vocabSize * h.dim +
    L * h.dim +
    L * h.dim * h.dim +
    2 * L * h.dim * kvDim +
    L * h.dim * h.dim +
    L * h.dim +
    3 * L * h.dim * h.hiddenDim +
    h.dim +
    h.seqLen * hd +
    (h.sharedWeights ? 0 : h.vocabSize * h.dim);
  return HEADER_BYTES + floats * 4;
}

/**
 * Reorders the rows of a [heads*hd, in] projection from adjacent-pair rotary order
 * (x[2i], x[2i+1]) to Hugging Face's halves order (x[i], x[i + hd/2]), per head.
 */
export function permuteRopeRows(w: Float32Array, nHeads: number, headDim: number, inDim: number): Float32Array {
  const out = new Float32Array(w.length);
  const half = headDim / 2;
  for (let h = 0; h < nHeads; h++) {
    for (let r = 0; r < headDim; r++) {
      const src = r < half ? 2 * r : 2 * (r - half) + 1;
      const from = (h * headDim + src) * inDim;
      out.set(w.subarray(from, from + inDim), (h * headDim + r) * inDim);
    }
  }
  return out;
}

/** Parses a llama2.c checkpoint into a DecoderConfig and Hugging Face-named weights. */
export function importLlama2cCheckpoint(
  bytes: Uint8Array,
  fileName = 'checkpoint',
): { config: DecoderConfig; weights: WeightMap; header: Llama2cHeader } {
  const h = parseLlama2cHeader(bytes, fileName);
  const need = llama2cExpectedBytes(h);
  if (bytes.byteLength < need) {
    throw new QuantlabError(
      'bad-checkpoint',
      `${fileName} is truncated: the header (dim ${h.dim}, ${h.nLayers} layers, vocab ${h.vocabSize}) needs ${need} bytes, the file has ${bytes.byteLength}`,
      'Download or export the checkpoint again.',
    );
  }
  const hd = h.dim / h.nHeads;
  const kvDim = h.nKvHeads * hd;
  const L = h.nLayers;
  // Copy the float region once so it is 4-byte aligned whatever the source buffer's offset.
  const floats = new Float32Array(bytes.slice(HEADER_BYTES, need).buffer);
  let off = 0;
  const take = (n: number) => floats.subarray(off, (off += n));
  const perLayer = (n: number) => Array.from({ length: L }, () => take(n));

  const w: WeightMap = new Map();
  w.set('model.embed_tokens.weight', { shape: [h.vocabSize, h.dim], data: take(h.vocabSize * h.dim) });
  const rmsAtt = perLayer(h.dim);
  const wq = perLayer(h.dim * h.dim);
  const wk = perLayer(h.dim * kvDim);
  const wv = perLayer(h.dim * kvDim);
  const wo = perLayer(h.dim * h.dim);
  const rmsFfn = perLayer(h.dim);
  const w1 = perLayer(h.hiddenDim * h.dim);
  const w2 = perLayer(h.dim * h.hiddenDim);
  const w3 = perLayer(h.hiddenDim * h.dim);
  const rmsFinal = take(h.dim);
  take(h.seqLen * hd); // freq_cis_real and freq_cis_imag, [seq_len, hd/2] each: unused
  for (let i = 0; i < L; i++) {
    const p = `model.layers.${i}`;
    w.set(`${p}.input_layernorm.weight`, { shape: [h.dim], data: rmsAtt[i] });
    w.set(`${p}.self_attn.q_proj.weight`, { shape: [h.dim, h.dim], data: permuteRopeRows(wq[i], h.nHeads, hd, h.dim) });
    w.set(`${p}.self_attn.k_proj.weight`, {
      shape: [kvDim, h.dim],
      data: permuteRopeRows(wk[i], h.nKvHeads, hd, h.dim),
    });
    w.set(`${p}.self_attn.v_proj.weight`, { shape: [kvDim, h.dim], data: wv[i] });
    w.set(`${p}.self_attn.o_proj.weight`, { shape: [h.dim, h.dim], data: wo[i] });
    w.set(`${p}.post_attention_layernorm.weight`, { shape: [h.dim], data: rmsFfn[i] });
    w.set(`${p}.mlp.gate_proj.weight`, { shape: [h.hiddenDim, h.dim], data: w1[i] });
    w.set(`${p}.mlp.down_proj.weight`, { shape: [h.dim, h.hiddenDim], data: w2[i] });
    w.set(`${p}.mlp.up_proj.weight`, { shape: [h.hiddenDim, h.dim], data: w3[i] });
  }
  w.set('model.norm.weight', { shape: [h.dim], data: rmsFinal });
  if (!h.sharedWeights) w.set('lm_head.weight', { shape: [h.vocabSize, h.dim], data: take(h.vocabSize * h.dim) });

  const config: DecoderConfig = {
    modelType: 'llama',
    vocabSize: h.vocabSize,
    hiddenSize: h.dim,
    intermediateSize: h.hiddenDim,
    numLayers: L,
    numHeads: h.nHeads,
    numKvHeads: h.nKvHeads,
    headDim: hd,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    maxPositionEmbeddings: h.seqLen,
    tieWordEmbeddings: h.sharedWeights,
    attentionBias: false,
    bosTokenId: 1,
    // llama2.c's run.c ends a sample when the model emits BOS (1), the sequence delimiter.
    eosTokenIds: [2, 1],
  };
  return { config, weights: w, header: h };
}
