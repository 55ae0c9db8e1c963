// The memory estimate and the budget check: every expected figure below is worked out by hand
// from the formula's inputs (shape numbers, file size, measured factors), not by calling the code.
import { describe, expect, it } from 'vitest';
import {
  checkBudget,
  COLUMN_OVERHEAD_BYTES,
  defaultBudget,
  estimateColumnMemory,
  formatBytes,
  plannedTokens,
  readModelShape,
  WEIGHT_FACTORS,
  weightFormat,
} from '../../src/lib/page/memory-budget';
import { variantFromStem } from '../../src/lib/variants/table';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** SmolLM2-135M's config.json fields the estimate reads. */
const SMOLLM2 = {
  num_hidden_layers: 30,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  hidden_size: 576,
  vocab_size: 49152,
  max_position_embeddings: 8192,
};

describe('readModelShape', () => {
  it('reads a Llama config, deriving head_dim from hidden_size / heads', () => {
    // 576 / 9 = 64
    expect(readModelShape(SMOLLM2)).toEqual({ layers: 30, kvHeads: 3, headDim: 64, vocab: 49152, maxPositions: 8192 });
  });

  it('prefers an explicit head_dim and takes heads as KV heads when num_key_value_heads is absent', () => {
    expect(
      readModelShape({ num_hidden_layers: 2, num_attention_heads: 4, hidden_size: 64, head_dim: 32, vocab_size: 512 }),
    ).toEqual({ layers: 2, kvHeads: 4, headDim: 32, vocab: 512 });
  });

  it('gives undefined when a field the KV cache needs is missing or not a positive integer', () => {
    expect(readModelShape({ ...SMOLLM2, num_hidden_layers: undefined })).toBeUndefined();
    expect(readModelShape({ ...SMOLLM2, vocab_size: 0 })).toBeUndefined();
    expect(readModelShape({ ...SMOLLM2, hidden_size: 577 })).toBeUndefined(); // 577 / 9 is not whole
    expect(readModelShape(null)).toBeUndefined();
    expect(readModelShape('config')).toBeUndefined();
  });
});

describe('weightFormat', () => {
  it('maps each precision to how its weights are stored', () => {
    const f = (stem: string) => weightFormat(variantFromStem(stem));
    expect(f('model')).toBe('float32');
    expect(f('model_bf16')).toBe('float32');
    expect(f('model_fp16')).toBe('float16');
    expect(f('model_quantized')).toBe('integer');
    expect(f('model_int8')).toBe('integer');
    expect(f('model_uint8')).toBe('integer');
    expect(f('model_q4')).toBe('nbits');
    expect(f('model_q4f16')).toBe('nbits-f16');
    expect(f('model_bnb4')).toBe('bnb4');
  });
});

describe('estimateColumnMemory', () => {
  const shape = { layers: 30, kvHeads: 3, headDim: 64, vocab: 49152, maxPositions: 8192 };

  it('adds weights x factor, the KV cache at the planned length, prefill logits and the fixed overhead', () => {
    // A 513 MB fp32 file, 200 tokens, float32 KV cache:
    // KV = 30 layers x 2 x 3 heads x 64 x 200 tokens x 4 bytes = 9_216_000
    // logits = 200 x 49152 x 4 = 39_321_600
    const file = 538_353_074;
    const m = estimateColumnMemory({
      fileBytes: file,
      format: 'float32',
      float16: false,
      device: 'wasm',
      shape,
      tokens: 200,
    });
    expect(m.kvCache).toBe(9_216_000);
    expect(m.weights).toBe(Math.round(file * WEIGHT_FACTORS.float32));
    expect(m.overhead).toBe(COLUMN_OVERHEAD_BYTES + 39_321_600);
    expect(m.total).toBe(m.weights + 9_216_000 + COLUMN_OVERHEAD_BYTES + 39_321_600);
  });

  it('halves the KV cache of a float16 graph and uses the format factor for its weights', () => {
    // 30 x 2 x 3 x 64 x 100 x 2 = 2_304_000
    const m = estimateColumnMemory({
      fileBytes: 1000,
      format: 'float16',
      float16: true,
      device: 'wasm',
      shape,
      tokens: 100,
    });
    expect(m.kvCache).toBe(2_304_000);
    expect(m.weights).toBe(Math.round(1000 * WEIGHT_FACTORS.float16));
  });

  it('caps the sequence at the model’s positions', () => {
    // 4 layers x 2 x 2 x 32 x 256 positions x 4 bytes = 524_288; logits 256 x 512 x 4 = 524_288
    const small = { layers: 4, kvHeads: 2, headDim: 32, vocab: 512, maxPositions: 256 };
    const m = estimateColumnMemory({
      fileBytes: 0,
      format: 'float32',
      float16: false,
      device: 'wasm',
      shape: small,
      tokens: 5000,
    });
    expect(m.kvCache).toBe(524_288);
    expect(m.overhead).toBe(COLUMN_OVERHEAD_BYTES + 524_288);
  });

  it('counts WebGPU weights twice (the JS copy and the WASM heap copy) and leaves KV out without a shape', () => {
    const m = estimateColumnMemory({
      fileBytes: 1_000_000,
      format: 'float32',
      float16: false,
      device: 'webgpu',
      tokens: 100,
    });
    expect(m.weights).toBe(2_000_000);
    expect(m.kvCache).toBe(0);
    expect(m.overhead).toBe(COLUMN_OVERHEAD_BYTES);
  });
});

describe('plannedTokens', () => {
  it('bounds the prompt by its UTF-8 bytes, plus the template room and the new tokens', () => {
    expect(plannedTokens('I dreamed', 64, false)).toBe(9 + 2 + 64);
    // "é" is 2 bytes, "夢" 3: 5 bytes
    expect(plannedTokens('é夢', 10, true)).toBe(5 + 64 + 10);
  });
});

describe('budget', () => {
  it('defaults to half of navigator.deviceMemory, else 2 GiB, and never above 3 GiB (one renderer holds every column)', () => {
    expect(defaultBudget(4)).toBe(2 * GiB);
    expect(defaultBudget(0.5)).toBe(256 * MiB);
    expect(defaultBudget(8)).toBe(3 * GiB);
    expect(defaultBudget(16)).toBe(3 * GiB);
    expect(defaultBudget(undefined)).toBe(2 * GiB);
    expect(defaultBudget(NaN)).toBe(2 * GiB);
  });

  it('formats MB under a GB and GB with one decimal above', () => {
    expect(formatBytes(610 * MiB)).toBe('610 MB');
    expect(formatBytes(2 * GiB)).toBe('2.0 GB');
    expect(formatBytes(1.75 * GiB)).toBe('1.8 GB');
  });

  it('admits a column that fits beside the others, exactly at the budget too', () => {
    expect(checkBudget('q4', 300 * MiB, GiB, [{ label: 'fp32', bytes: 724 * MiB }])).toBeNull();
    expect(checkBudget('q4', 301 * MiB, GiB, [{ label: 'fp32', bytes: 724 * MiB }])).not.toBeNull();
  });

  it('refuses with what it needs, the budget, who holds what (largest first) and what to do', () => {
    const held = [
      { label: 'fp16', bytes: 330 * MiB },
      { label: 'fp32', bytes: 650 * MiB },
      { label: 'q4', bytes: 400 * MiB },
    ];
    // held: 330 + 650 + 400 = 1380 MB (1.35 GB, shown "1.3 GB"); 1380 + 610 = 1990 MB fits in 2048 MB
    expect(checkBudget('q8', 610 * MiB, 2 * GiB, held)).toBeNull();
    // 1380 + 700 = 2080 MB does not
    const r2 = checkBudget('q8', 700 * MiB, 2 * GiB, held)!;
    expect(r2.message).toBe(
      'q8 needs about 700 MB; the memory budget is 2.0 GB, and 1.3 GB of it is held by fp32 (650 MB), q4 (400 MB), fp16 (330 MB).',
    );
    expect(r2.detail).toMatch(/^Remove a column \(fp32 frees the most\) or raise the memory budget/);
    expect(r2.held.map((h) => h.label)).toEqual(['fp32', 'q4', 'fp16']);
    expect(r2.need).toBe(700 * MiB);
    expect(r2.budget).toBe(2 * GiB);
  });

  it('says when one column alone is larger than the budget', () => {
    const r = checkBudget('fp32', 3 * GiB, 2 * GiB, [])!;
    expect(r.message).toBe('fp32 needs about 3.0 GB; the memory budget is 2.0 GB.');
    expect(r.detail).toMatch(/alone is larger than the budget: raise the memory budget/);
  });
});
