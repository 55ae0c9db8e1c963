// The KV cache layout both decode loops (the runner's and the floor's) read from a session's input
// metadata, the empty past they start from, the present.* -> past_key_values.* mapping, and the
// cache held in the loops' own buffers (HostKvCache) from new_key_values.* rows.
import { describe, expect, it } from 'vitest';
import {
  HostKvCache,
  emptyPast,
  kvCacheLayout,
  newNameOf,
  pastNameOf,
  type MakeTensor,
  type OrtTensor,
} from '../../src/lib/onnx/session';

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

describe('HostKvCache', () => {
  const tensor: MakeTensor = (type, data, dims) => ({ type, data, dims });
  const names = ['past_key_values.0.key', 'past_key_values.0.value'];
  const layout = { numLayers: 1, numKvHeads: 2, headDim: 2, kvType: 'float32' as const };
  const session = { outputNames: ['logits', 'present.0.key', 'present.0.value', ...names.map(newNameOf)] };
  /** new_key_values.* for n rows; value of head h, row r, lane j = base + 100 h + 10 r + j. */
  const rows = (n: number, base: number): Record<string, OrtTensor> => {
    const out: Record<string, OrtTensor> = {};
    names.forEach((name, i) => {
      const data = new Float32Array(2 * n * 2);
      for (let h = 0; h < 2; h++)
        for (let r = 0; r < n; r++)
          for (let j = 0; j < 2; j++) data[(h * n + r) * 2 + j] = base + i * 1000 + 100 * h + 10 * r + j;
      out[newNameOf(name)] = { type: 'float32', data, dims: [1, 2, n, 2] };
    });
    return out;
  };

  it('needs every new_key_values.* output; fetches the logits and those only', () => {
    expect(newNameOf('past_key_values.3.value')).toBe('new_key_values.3.value');
    expect(
      HostKvCache.for({ outputNames: ['logits', 'present.0.key', 'present.0.value'] }, layout, names, 8),
    ).toBeUndefined();
    expect(HostKvCache.for({ outputNames: ['logits', 'new_key_values.0.key'] }, layout, names, 8)).toBeUndefined();
    expect(HostKvCache.for(session, layout, names, 8)?.fetches).toEqual([
      'logits',
      'new_key_values.0.key',
      'new_key_values.0.value',
    ]);
  });

  it('appends rows per head: the past it feeds is [1, heads, length, head_dim], packed', () => {
    const c = HostKvCache.for(session, layout, names, 8)!;
    c.append(rows(2, 0)); // a 2-token prefill
    c.append(rows(1, 50)); // then one token at a time
    c.append(rows(1, 70));
    expect(c.size).toBe(4);
    const past = c.feeds(tensor);
    expect(Object.keys(past)).toEqual(names);
    expect(past[names[0]].dims).toEqual([1, 2, 4, 2]);
    // Written out by hand: head 0 rows (0,1 of the prefill; 50; 70), then head 1's.
    expect(Array.from(past[names[0]].data as Float32Array)).toEqual([
      0, 1, 10, 11, 50, 51, 70, 71, 100, 101, 110, 111, 150, 151, 170, 171,
    ]);
    expect((past[names[1]].data as Float32Array)[0]).toBe(1000);
    expect((past[names[1]].data as Float32Array)[15]).toBe(1171);
    // Views of one buffer made once: feeding allocates no ArrayBuffer.
    expect((past[names[0]].data as Float32Array).buffer).toBe((c.feeds(tensor)[names[0]].data as Float32Array).buffer);
  });

  it('keeps float16 bits as they are, also from a typed array of another kind, and refuses wrong shapes or overflow', () => {
    const c = HostKvCache.for(session, { ...layout, kvType: 'float16' }, names, 2)!;
    const bits = Uint16Array.from([0x3c00, 0xc000, 0x7bff, 0x0001]); // 1, -2, 65504, the smallest subnormal
    // As a Float16Array would hold them, seen through another view of the same bytes.
    const other = new Int16Array(bits.buffer);
    const out = (data: unknown, dims = [1, 2, 1, 2]): Record<string, OrtTensor> => ({
      'new_key_values.0.key': { type: 'float16', data, dims },
      'new_key_values.0.value': { type: 'float16', data, dims },
    });
    c.append(out(other));
    const key = c.feeds(tensor)[names[0]];
    expect(key.type).toBe('float16');
    expect(Array.from(key.data as Uint16Array)).toEqual(Array.from(bits));
    expect(() => c.append(out(other, [1, 3, 1, 2]))).toThrow(
      /new_key_values\.0\.key is \[1, 3, 1, 2\], not \[1, 2, new, 2\]/,
    );
    c.append(out(other));
    expect(() => c.append(out(other))).toThrow(/holds 2 positions; 3 asked/);
  });
});
