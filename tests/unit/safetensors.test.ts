// safetensors reader/writer and the half-precision bit conversions, checked against values worked
// out by hand in float64 and byte layouts built by hand from the format description.

import { describe, expect, it } from 'vitest';
import { QuantlabError } from '../../src/lib/errors';
import { parseSafetensors, toFloat32, writeSafetensors, type SafetensorsInput } from '../../src/lib/import/safetensors';
import {
  bfloat16BitsToFloat32,
  float16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
} from '../../src/lib/numeric/half';

/** Reference binary16 decoding in float64, straight from the IEEE 754 definition. */
function refHalf(h: number): number {
  const s = h >> 15 ? -1 : 1;
  const e = (h >> 10) & 31;
  const m = h & 1023;
  if (e === 31) return m ? NaN : s * Infinity;
  return e === 0 ? s * (m / 1024) * Math.pow(2, -14) : s * (1 + m / 1024) * Math.pow(2, e - 15);
}

/**
 * Reference bfloat16 decoding in float64 (8-bit exponent, 7-bit mantissa); spelled out apart from
 * refHalf, not parametrised, so each reads as its format's definition.
 */
function refBf16(h: number): number {
  const s = h >> 15 ? -1 : 1;
  const e = (h >> 7) & 255;
  const m = h & 127;
  if (e === 255) return m ? NaN : s * Infinity;
  return e === 0 ? s * (m / 128) * Math.pow(2, -126) : s * (1 + m / 128) * Math.pow(2, e - 127);
}

/** The float32 just above / below x (x positive, finite), by bit arithmetic. */
function f32Step(x: number, dir: 1 | -1): number {
  const f = new Float32Array([x]);
  new Uint32Array(f.buffer)[0] += dir;
  return f[0];
}

describe('half-precision conversions', () => {
  it('decodes hand-picked F16 patterns', () => {
    const cases: [number, number][] = [
      [0x3c00, 1],
      [0xc100, -2.5],
      [0x7bff, 65504],
      [0x0001, 2 ** -24],
      [0x03ff, 1023 * 2 ** -24],
      [0x0400, 2 ** -14],
      [0x3555, 0.333251953125],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
      [0x0000, 0],
    ];
    for (const [bits, v] of cases) expect(float16BitsToFloat32(bits)).toBe(v);
    expect(Object.is(float16BitsToFloat32(0x8000), -0)).toBe(true);
    expect(float16BitsToFloat32(0x7e00)).toBeNaN();
    expect(float16BitsToFloat32(0xfc01)).toBeNaN();
  });

  it('decodes every F16 pattern like the float64 definition', () => {
    const wrong: number[] = [];
    for (let h = 0; h < 65536; h++) {
      const want = refHalf(h);
      if (!Object.is(float16BitsToFloat32(h), want)) wrong.push(h);
    }
    expect(wrong).toEqual([]);
  });

  it('encodes F16 with round-to-nearest-even, overflow to inf, subnormals', () => {
    expect(float32ToFloat16Bits(1)).toBe(0x3c00);
    expect(float32ToFloat16Bits(-2.5)).toBe(0xc100);
    expect(float32ToFloat16Bits(65504)).toBe(0x7bff);
    expect(float32ToFloat16Bits(65519)).toBe(0x7bff); // below the midpoint 65520
    expect(float32ToFloat16Bits(65520)).toBe(0x7c00); // midpoint ties to the even "next" = inf
    expect(float32ToFloat16Bits(1e6)).toBe(0x7c00);
    expect(float32ToFloat16Bits(-1e6)).toBe(0xfc00);
    expect(float32ToFloat16Bits(2 ** -24)).toBe(0x0001);
    expect(float32ToFloat16Bits(2 ** -25)).toBe(0x0000); // tie to even -> 0
    expect(float32ToFloat16Bits(1.5 * 2 ** -25)).toBe(0x0001);
    expect(float32ToFloat16Bits(3 * 2 ** -25)).toBe(0x0002); // tie between 1 and 2 -> 2
    expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie -> even mantissa 0
    expect(float32ToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie -> even mantissa 2
    expect(float32ToFloat16Bits(1e-9)).toBe(0x0000);
    expect(float32ToFloat16Bits(-0)).toBe(0x8000);
    expect(float32ToFloat16Bits(Infinity)).toBe(0x7c00);
    const nan = float32ToFloat16Bits(NaN);
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x3ff).not.toBe(0);
  });

  it('encodes every F16 midpoint to the even neighbour and points beside it to the nearest', () => {
    const wrong: string[] = [];
    const check = (x: number, want: number) => {
      if (float32ToFloat16Bits(x) !== want) wrong.push(`${x} -> ${float32ToFloat16Bits(x)}, want ${want}`);
    };
    for (let h = 0; h < 0x7bff; h++) {
      const a = refHalf(h);
      const mid = (a + refHalf(h + 1)) / 2; // exact in float32 (12 significant bits)
      if (Math.fround(mid) !== mid) wrong.push(`midpoint ${mid} not a float32`);
      check(mid, h % 2 === 0 ? h : h + 1);
      check(f32Step(mid, 1), h + 1);
      if (mid > 0) check(f32Step(mid, -1), h);
      check(a, h);
      check(-a, h | 0x8000);
    }
    expect(wrong.slice(0, 5)).toEqual([]);
  });

  it('decodes and encodes BF16, including pi rounding', () => {
    expect(bfloat16BitsToFloat32(0x3f80)).toBe(1);
    expect(bfloat16BitsToFloat32(0xc020)).toBe(-2.5);
    expect(bfloat16BitsToFloat32(0x7f80)).toBe(Infinity);
    expect(bfloat16BitsToFloat32(0x0001)).toBe(2 ** -133);
    expect(bfloat16BitsToFloat32(0x7fc0)).toBeNaN();
    // float32(pi) = 0x40490fdb; the dropped half 0x0fdb is below 0x8000, so it rounds down to 3.140625.
    expect(float32ToBfloat16Bits(Math.PI)).toBe(0x4049);
    expect(bfloat16BitsToFloat32(0x4049)).toBe(3.140625);
    expect(float32ToBfloat16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie -> even
    expect(float32ToBfloat16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie -> even (up)
    expect(float32ToBfloat16Bits(3.4e38)).toBe(0x7f80); // above the largest bf16 midpoint -> inf
    const nan = float32ToBfloat16Bits(NaN);
    expect(nan & 0x7f80).toBe(0x7f80);
    expect(nan & 0x7f).not.toBe(0);
  });

  it('round-trips and rounds every positive finite BF16 like the float64 definition', () => {
    const wrong: string[] = [];
    for (let h = 0; h < 0x7f7f; h++) {
      const a = refBf16(h);
      const mid = (a + refBf16(h + 1)) / 2;
      if (bfloat16BitsToFloat32(h) !== a) wrong.push(`decode ${h}`);
      if (float32ToBfloat16Bits(a) !== h) wrong.push(`encode ${a}`);
      if (float32ToBfloat16Bits(mid) !== (h % 2 === 0 ? h : h + 1)) wrong.push(`midpoint ${mid}`);
      if (float32ToBfloat16Bits(f32Step(mid, 1)) !== h + 1) wrong.push(`above midpoint ${mid}`);
    }
    expect(wrong.slice(0, 5)).toEqual([]);
  });
});

/** A file built by hand from the format: u64 LE header length, header text, data bytes. */
function handFile(header: string, data: Uint8Array | number = 0, declaredLength?: bigint): Uint8Array {
  const h = new TextEncoder().encode(header);
  const d = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + h.length + d.length);
  new DataView(out.buffer).setBigUint64(0, declaredLength ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(d, 8 + h.length);
  return out;
}

function thrown(f: () => unknown): QuantlabError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(QuantlabError);
    return e as QuantlabError;
  }
  throw new Error('expected a throw');
}

describe('safetensors', () => {
  it('writes the byte layout of the reference implementation', () => {
    const bytes = writeSafetensors(new Map([['a', { shape: [2], data: new Float32Array([1, -2]) }]]));
    const json = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
    const padded = json + ' '.repeat((8 - (json.length % 8)) % 8);
    const want = handFile(padded, new Uint8Array([0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]));
    expect([...bytes]).toEqual([...want]);
  });

  it('round-trips F32, F16, BF16 and raw tensors with metadata, in a fixed order', () => {
    const vals = new Float32Array([0, 1, -2.5, 0.375, 65504, -0.0078125]);
    const make = (order: string[]) => {
      const all: Record<string, SafetensorsInput> = {
        'w.f32': { shape: [2, 3], data: vals },
        'w.f16': { shape: [3, 2], data: vals, dtype: 'F16' },
        'w.bf16': { shape: [6], data: new Float32Array([0, 1, -2.5, 0.375, 65536, -0.0078125]), dtype: 'BF16' },
        ids: { shape: [3], dtype: 'I8', bytes: new Uint8Array([1, 255, 7]) },
        scalar: { shape: [], data: new Float32Array([Math.fround(0.1)]) },
      };
      return writeSafetensors(new Map(order.map((k) => [k, all[k]])), { format: 'pt' });
    };
    const a = make(['w.f32', 'w.f16', 'w.bf16', 'ids', 'scalar']);
    const b = make(['ids', 'scalar', 'w.bf16', 'w.f16', 'w.f32']);
    expect([...a]).toEqual([...b]);
    const n = Number(new DataView(a.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(a.subarray(8, 8 + n)));
    expect(Object.keys(header)[0]).toBe('__metadata__');
    expect(header.__metadata__).toEqual({ format: 'pt' });
    const t = parseSafetensors(a, 'rt.safetensors');
    expect([...t.keys()].sort()).toEqual(['ids', 'scalar', 'w.bf16', 'w.f16', 'w.f32']);
    expect(t.get('w.f16')!.dtype).toBe('F16');
    expect(t.get('w.f16')!.shape).toEqual([3, 2]);
    expect(t.get('w.f16')!.bytes.byteLength).toBe(12);
    expect([...toFloat32(t.get('w.f32')!, 'w.f32')]).toEqual([...vals]);
    expect([...toFloat32(t.get('w.f16')!, 'w.f16')]).toEqual([0, 1, -2.5, 0.375, 65504, -0.0078125]);
    expect([...toFloat32(t.get('w.bf16')!, 'w.bf16')]).toEqual([0, 1, -2.5, 0.375, 65536, -0.0078125]);
    expect([...toFloat32(t.get('scalar')!, 'scalar')]).toEqual([Math.fround(0.1)]);
    expect([...t.get('ids')!.bytes]).toEqual([1, 255, 7]);
    // F32 tensors come first, so they stay 4-byte aligned and are returned as views.
    expect(t.get('w.f32')!.bytes.byteOffset % 4).toBe(0);
    expect(toFloat32(t.get('w.f32')!, 'w.f32').buffer).toBe(a.buffer);
  });

  it('copies unaligned F32 data and refuses other dtypes by name', () => {
    const raw = new Uint8Array(9);
    new DataView(raw.buffer).setFloat32(1, -2.5, true);
    new DataView(raw.buffer).setFloat32(5, 3, true);
    expect([...toFloat32({ dtype: 'F32', shape: [2], bytes: raw.subarray(1) }, 'x')]).toEqual([-2.5, 3]);
    const odd = new Uint8Array(5);
    odd.set([0x00, 0x3c, 0x00, 0xc1], 1);
    expect([...toFloat32({ dtype: 'F16', shape: [2], bytes: odd.subarray(1) }, 'h')]).toEqual([1, -2.5]);
    const e = thrown(() =>
      toFloat32({ dtype: 'I8', shape: [1], bytes: new Uint8Array(1) }, 'model.embed_tokens.weight'),
    );
    expect(e.code).toBe('unsupported-model');
    expect(e.message).toContain('model.embed_tokens.weight');
    expect(e.message).toContain('I8');
  });

  const ok = (o: object) => JSON.stringify(o);
  const bad: [string, Uint8Array, string][] = [
    ['shorter than 8 bytes', new Uint8Array(4), 'too short'],
    ['header length beyond the file', handFile('{}', 4, 1000n), 'beyond the end'],
    ['header length near 2^64', handFile('{}', 4, 2n ** 63n), 'beyond the end'],
    ['header is not JSON', handFile('{"a": {"dtype": '), 'not valid JSON'],
    ['header is not UTF-8', handFile('{"\xff"}').map((b, i) => (i === 10 ? 0xff : b)), 'not valid JSON'],
    ['header is an array', handFile('[1, 2]'), 'not a JSON object'],
    ['tensor entry is not an object', handFile(ok({ a: 3 })), 'tensor a'],
    ['missing dtype', handFile(ok({ a: { shape: [1], data_offsets: [0, 4] } }), 4), 'no dtype'],
    [
      'negative dimension',
      handFile(ok({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }), 4),
      'invalid shape',
    ],
    [
      'fractional dimension',
      handFile(ok({ a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }), 4),
      'invalid shape',
    ],
    [
      'three offsets',
      handFile(ok({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4, 8] } }), 8),
      'invalid data_offsets',
    ],
    ['end past the data', handFile(ok({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }), 4), 'outside'],
    ['begin after end', handFile(ok({ a: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }), 4), 'outside'],
    [
      'size not shape x dtype',
      handFile(ok({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }), 8),
      'needs 12 bytes',
    ],
    [
      'bf16 size mismatch',
      handFile(ok({ a: { dtype: 'BF16', shape: [2, 2], data_offsets: [0, 4] } }), 4),
      'needs 8 bytes',
    ],
    [
      'overlapping tensors',
      handFile(
        ok({
          a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
          b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
        }),
        8,
      ),
      'overlap',
    ],
    ['metadata not an object', handFile(ok({ __metadata__: 'pt' })), '__metadata__'],
  ];
  it.each(bad)('rejects a file whose %s', (_what, bytes, problem) => {
    const e = thrown(() => parseSafetensors(bytes, 'shard-7.safetensors'));
    expect(e.code).toBe('bad-checkpoint');
    expect(e.message).toContain('shard-7.safetensors');
    expect(e.message).toContain(problem);
  });

  it('accepts the hand-built files those corruptions start from', () => {
    const good = handFile(
      ok({ __metadata__: { format: 'pt' }, a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }),
      8,
    );
    expect(parseSafetensors(good, 'ok.safetensors').get('a')!.shape).toEqual([2]);
    expect(parseSafetensors(handFile('{}'), 'empty.safetensors').size).toBe(0);
  });
});
