// The KV cache layout both decode loops (the runner's and the floor's) read from a session's input
// metadata, the empty past they start from, and the present.* -> past_key_values.* mapping.
import { describe, expect, it } from 'vitest';
import { emptyPast, kvCacheLayout, pastNameOf, type MakeTensor } from '../../src/lib/onnx/session';

const kv = (l: number, kind: string, type = 'float16') => ({
  name: `past_key_values.${l}.${kind}`,
  isTensor: true,
  type,
  shape: ['batch', 3, 'past', 64],
});

describe('kvCacheLayout', () => {
  it('reads layers, KV heads, head size and element type from the inputs', () => {
    const inputMetadata = [
      { name: 'input_ids', type: 'int64', shape: ['batch', 'seq'] },
      ...[0, 1, 2].flatMap((l) => [kv(l, 'key'), kv(l, 'value')]),
    ];
    expect(kvCacheLayout({ inputMetadata })).toEqual({ numLayers: 3, numKvHeads: 3, headDim: 64, kvType: 'float16' });
    expect(kvCacheLayout({ inputMetadata: [kv(0, 'key', 'float32')] }).kvType).toBe('float32');
  });

  it('refuses a session without a KV cache or with symbolic cache dimensions', () => {
    expect(() => kvCacheLayout({ inputMetadata: [{ name: 'input_ids' }] })).toThrow(/past_key_values/);
    expect(() => kvCacheLayout({})).toThrow(/past_key_values/);
    expect(() =>
      kvCacheLayout({ inputMetadata: [{ name: 'past_key_values.0.key', shape: ['b', 'h', 'p', 'd'] }] }),
    ).toThrow(/fixed kv_heads/);
  });
});

describe('emptyPast and pastNameOf', () => {
  it('makes a zero-length key and value per layer, in the cache element type', () => {
    const made: { type: string; data: unknown; dims: number[] }[] = [];
    const tensor: MakeTensor = (type, data, dims) => (made.push({ type, data, dims }), { type, data, dims });
    const past = emptyPast({ numLayers: 2, numKvHeads: 3, headDim: 8, kvType: 'float16' }, tensor);
    expect(Object.keys(past).sort()).toEqual([
      'past_key_values.0.key',
      'past_key_values.0.value',
      'past_key_values.1.key',
      'past_key_values.1.value',
    ]);
    for (const t of made) {
      expect(t.type).toBe('float16');
      expect(t.dims).toEqual([1, 3, 0, 8]);
      expect(t.data).toBeInstanceOf(Uint16Array);
    }
    expect(
      Object.values(emptyPast({ numLayers: 1, numKvHeads: 1, headDim: 4, kvType: 'float32' }, tensor))[0].data,
    ).toBeInstanceOf(Float32Array);
  });

  it('maps each present.* output to the past input it feeds, and nothing else', () => {
    expect(pastNameOf('present.3.value')).toBe('past_key_values.3.value');
    expect(pastNameOf('logits')).toBeUndefined();
  });
});
