// Reads and writes the safetensors format Hugging Face checkpoints ship in: an 8-byte little-endian
// header length, a JSON header {name: {dtype, shape, data_offsets}}, then the raw little-endian data.

import { QuantlabError } from '../errors';
import {
  bfloat16ArrayToFloat32,
  float16ArrayToFloat32,
  float32ArrayToBfloat16,
  float32ArrayToFloat16,
} from '../numeric/half';

/** One tensor as stored: its dtype name, shape and a view of its bytes inside the file. */
export interface SafetensorsEntry {
  dtype: 'F32' | 'F16' | 'BF16' | string;
  shape: number[];
  bytes: Uint8Array;
}

/** A tensor to write: float32 data stored as F32 (default), F16 or BF16, or raw bytes of any dtype. */
export type SafetensorsInput =
  | { shape: number[]; data: Float32Array; dtype?: 'F32' | 'F16' | 'BF16' }
  | { shape: number[]; dtype: string; bytes: Uint8Array };

const DTYPE_BYTES: Record<string, number> = {
  F64: 8,
  I64: 8,
  U64: 8,
  F32: 4,
  I32: 4,
  U32: 4,
  F16: 2,
  BF16: 2,
  I16: 2,
  U16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  F8_E8M0: 1,
};

/** Bytes per element of a safetensors dtype, or undefined for dtypes this reader does not know. */
export function dtypeBytes(dtype: string): number | undefined {
  return DTYPE_BYTES[dtype];
}

const HEADER_LIMIT = 100_000_000; // the reference implementation refuses larger headers too

function bad(fileName: string, problem: string): QuantlabError {
  return new QuantlabError(
    'bad-checkpoint',
    `${fileName}: ${problem}`,
    'The file is not a valid safetensors file (truncated download or a different format?). Download it again.',
  );
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Parses a safetensors file. Tensor bytes are views into `bytes` (no copy). Throws 'bad-checkpoint'
 * naming the file and the problem for any malformed header, offset or size.
 */
export function parseSafetensors(bytes: Uint8Array, fileName: string): Map<string, SafetensorsEntry> {
  if (bytes.byteLength < 8)
    throw bad(fileName, `file is ${bytes.byteLength} bytes, too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(bytes.byteLength - 8)) {
    throw bad(fileName, `header length ${n64} is beyond the end of the file (${bytes.byteLength} bytes)`);
  }
  const n = Number(n64);
  if (n > HEADER_LIMIT) throw bad(fileName, `header length ${n} is over the ${HEADER_LIMIT}-byte limit`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw bad(fileName, `header is not valid JSON (${(e as Error).message})`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header))
    throw bad(fileName, 'header is not a JSON object');
  const data = bytes.subarray(8 + n);
  const out = new Map<string, SafetensorsEntry>();
  const spans: [number, number, string][] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw bad(fileName, '__metadata__ is not an object');
      continue;
    }
    if (!raw || typeof raw !== 'object')
      throw bad(fileName, `tensor ${name} has no {dtype, shape, data_offsets} entry`);
    const { dtype, shape, data_offsets: offs } = raw as Record<string, unknown>;
    if (typeof dtype !== 'string') throw bad(fileName, `tensor ${name} has no dtype`);
    if (!Array.isArray(shape) || !shape.every(isCount))
      throw bad(fileName, `tensor ${name} has an invalid shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isCount)) {
      throw bad(fileName, `tensor ${name} has invalid data_offsets ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as number[];
    if (begin > end || end > data.byteLength) {
      throw bad(
        fileName,
        `tensor ${name} data_offsets [${begin}, ${end}] are outside the ${data.byteLength}-byte data section`,
      );
    }
    const size = DTYPE_BYTES[dtype];
    if (size !== undefined) {
      const expected = (shape as number[]).reduce((a, b) => a * b, 1) * size;
      if (end - begin !== expected) {
        throw bad(
          fileName,
          `tensor ${name} (${dtype} [${shape.join(', ')}]) needs ${expected} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`,
        );
      }
    }
    spans.push([begin, end, name]);
    out.set(name, { dtype, shape: (shape as number[]).slice(), bytes: data.subarray(begin, end) });
  }
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) throw bad(fileName, `tensors ${spans[i - 1][2]} and ${spans[i][2]} overlap`);
  }
  return out;
}

function u16View(b: Uint8Array): Uint16Array {
  if (b.byteOffset % 2 === 0) return new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
  return new Uint16Array(b.slice().buffer);
}

/**
 * float32 values of an F32, F16 or BF16 tensor: F32 is a view of the file bytes when 4-byte aligned
 * (a copy otherwise); F16/BF16 are converted exactly. Other dtypes throw 'unsupported-model'.
 */
export function toFloat32(entry: SafetensorsEntry, name: string): Float32Array {
  const b = entry.bytes;
  switch (entry.dtype) {
    case 'F32':
      return b.byteOffset % 4 === 0
        ? new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4)
        : new Float32Array(b.slice().buffer);
    case 'F16':
      return float16ArrayToFloat32(u16View(b));
    case 'BF16':
      return bfloat16ArrayToFloat32(u16View(b));
    default:
      throw new QuantlabError(
        'unsupported-model',
        `tensor ${name} has dtype ${entry.dtype}; QuantLab reads F32, F16 and BF16 weights`,
        'Use the unquantized (float) checkpoint of this model: QuantLab does the quantizing itself.',
      );
  }
}

function encode(name: string, t: SafetensorsInput): { dtype: string; bytes: Uint8Array } {
  if (name === '__metadata__') throw new QuantlabError('bad-argument', 'A tensor cannot be named __metadata__');
  const count = t.shape.reduce((a, b) => a * b, 1);
  if ('bytes' in t) {
    const size = DTYPE_BYTES[t.dtype];
    if (size !== undefined && t.bytes.byteLength !== count * size) {
      throw new QuantlabError(
        'bad-argument',
        `Tensor ${name}: ${t.bytes.byteLength} bytes do not fit ${t.dtype} [${t.shape}]`,
      );
    }
    return { dtype: t.dtype, bytes: t.bytes };
  }
  if (t.data.length !== count) {
    throw new QuantlabError('bad-argument', `Tensor ${name}: ${t.data.length} values do not fit shape [${t.shape}]`);
  }
  const dtype = t.dtype ?? 'F32';
  const arr =
    dtype === 'F32' ? t.data : dtype === 'F16' ? float32ArrayToFloat16(t.data) : float32ArrayToBfloat16(t.data);
  return { dtype, bytes: new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength) };
}

/**
 * Serializes tensors to a safetensors file the way the reference implementation lays it out:
 * "__metadata__" first, tensors ordered by element size (largest first) then name, so every tensor
 * stays aligned; header padded with spaces to a multiple of 8.
 */
export function writeSafetensors(
  tensors: Map<string, SafetensorsInput>,
  metadata?: Record<string, string>,
): Uint8Array {
  const items = [...tensors].map(([name, t]) => ({ name, shape: t.shape, ...encode(name, t) }));
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  items.sort((a, b) => (DTYPE_BYTES[b.dtype] ?? 1) - (DTYPE_BYTES[a.dtype] ?? 1) || cmp(a.name, b.name));
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const it of items) {
    header[it.name] = { dtype: it.dtype, shape: it.shape, data_offsets: [offset, offset + it.bytes.byteLength] };
    offset += it.bytes.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.byteLength % 8)) % 8;
  const out = new Uint8Array(8 + json.byteLength + pad + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength + pad), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.byteLength, 8 + json.byteLength + pad);
  let at = 8 + json.byteLength + pad;
  for (const it of items) {
    out.set(it.bytes, at);
    at += it.bytes.byteLength;
  }
  return out;
}
