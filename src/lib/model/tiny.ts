// Deterministic random-weight decoders of any Llama shape: the offline demo model, test
// fixtures, and the SmolLM2-135M-shaped performance fixture. Same seed, same bytes.

import { createRng } from '../sampling/rng';
import { expectedWeights, validateConfig, type DecoderConfig, type WeightMap } from './config';

export interface TinyShape {
  layers: number;
  dim: number;
  heads: number;
  kvHeads: number;
  hidden: number;
  vocab: number;
  maxPositions: number;
  tied: boolean;
  qkvBias?: boolean;
}

/** The shape of HuggingFaceTB/SmolLM2-135M: the performance fixture for later work. */
export const SMOLLM2_135M_SHAPE: TinyShape = {
  layers: 30,
  dim: 576,
  heads: 9,
  kvHeads: 3,
  hidden: 1536,
  vocab: 49152,
  maxPositions: 8192,
  tied: true,
};

export const DEFAULT_TINY_SHAPE: TinyShape = {
  layers: 2,
  dim: 64,
  heads: 4,
  kvHeads: 2,
  hidden: 172,
  vocab: 512,
  maxPositions: 256,
  tied: true,
};

export function tinyConfig(s: TinyShape): DecoderConfig {
  const c: DecoderConfig = {
    modelType: s.qkvBias ? 'qwen2' : 'llama',
    vocabSize: s.vocab,
    hiddenSize: s.dim,
    intermediateSize: s.hidden,
    numLayers: s.layers,
    numHeads: s.heads,
    numKvHeads: s.kvHeads,
    headDim: s.dim / s.heads,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    maxPositionEmbeddings: s.maxPositions,
    tieWordEmbeddings: s.tied,
    attentionBias: s.qkvBias === true,
    bosTokenId: 1,
    eosTokenIds: [2],
  };
  validateConfig(c);
  return c;
}

/**
 * Seeded weights: linear layers ~ N(0, 0.02²) plus a few larger outliers (as trained models
 * have, so quantizers have something to get wrong), norms ~ 1 ± 0.1, biases small.
 */
export function tinyWeights(c: DecoderConfig, seed = 0): WeightMap {
  const rng = createRng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  const w: WeightMap = new Map();
  for (const [name, shape] of expectedWeights(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (name.endsWith('norm.weight')) {
      for (let i = 0; i < n; i++) data[i] = 1 + 0.1 * gauss();
    } else if (name.endsWith('.bias')) {
      for (let i = 0; i < n; i++) data[i] = 0.01 * gauss();
    } else {
      const std = name.includes('embed_tokens') ? 0.5 : 0.02 * Math.sqrt(64 / c.hiddenSize) * 4;
      for (let i = 0; i < n; i++) data[i] = std * gauss();
      for (let i = 0; i < Math.max(1, n >> 12); i++) data[Math.floor(rng() * n)] *= 8;
    }
    w.set(name, { shape, data });
  }
  return w;
}

/**
 * A llama2.c-format tokenizer file for tiny models: <unk>, <s>, </s>, the 256 byte tokens,
 * printable ASCII, then letter pairs and space-prefixed pairs (enough to fill any vocab size).
 */
export function tinyTokenizerBin(vocabSize: number): Uint8Array {
  const pieces: string[] = ['<unk>', '<s>', '</s>'];
  for (let b = 0; b < 256; b++) pieces.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  if (vocabSize < pieces.length + 95) throw new Error(`tiny tokenizer needs vocab >= ${pieces.length + 95}`);
  const seen = new Set(pieces);
  const add = (p: string) => {
    if (pieces.length < vocabSize && !seen.has(p)) {
      seen.add(p);
      pieces.push(p);
    }
  };
  for (let c = 32; c < 127; c++) add(String.fromCharCode(c));
  const letters = 'etaoinshrdlcumwfgypbvkjxqz';
  for (const a of letters) add(` ${a}`);
  outer: for (let len = 2; ; len++) {
    for (let i = 0; pieces.length < vocabSize; i++) {
      // Enumerate letter strings of this length in a fixed order; prefix every other with a space.
      let s = '';
      let k = i;
      for (let j = 0; j < len; j++) {
        s += letters[k % 26];
        k = Math.floor(k / 26);
      }
      if (k > 0) continue outer;
      add(s);
      add(` ${s}`);
    }
    break;
  }
  const enc = new TextEncoder();
  const bytes = pieces.map((p) => enc.encode(p));
  const size = 4 + bytes.reduce((a, b) => a + 8 + b.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setInt32(0, Math.max(...bytes.map((b) => b.length)), true);
  let off = 4;
  bytes.forEach((b, id) => {
    // Byte and special tokens score 0; merged pieces score higher the earlier they come.
    view.setFloat32(off, id < 259 ? 0 : -(id - 259), true);
    view.setInt32(off + 4, b.length, true);
    out.set(b, off + 8);
    off += 8 + b.length;
  });
  return out;
}
