// ONNX external data: tensors whose bytes sit in side files (TensorProto data_location EXTERNAL,
// with location / offset / length entries), as models past protobuf's 2 GB limit ship them.
// Reading gives such tensors their bytes back as raw_data; writing moves large initializers into
// `<stem>.onnx_data` (then `_1`, `_2`, ...: the names transformers.js fetches) with ORT's alignment.

import { clearField, create } from '@bufbuild/protobuf';
import {
  GraphProtoSchema,
  ModelProtoSchema,
  StringStringEntryProtoSchema,
  TensorProtoSchema,
  TensorProto_DataLocation as DataLocation,
} from 'onnx-buf';
import { QuantlabError } from '../errors';
import { encodeModel, type GraphProto, type ModelProto, type TensorProto } from './proto';

/** protobuf refuses messages of 2 GiB or more (ORT parses the .onnx with it). */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;

export interface ExternalDataOptions {
  /**
   * The .onnx file may be at most this many bytes (default: protobuf's limit); a model that would
   * pass it keeps its large initializers in .onnx_data files. 0 always writes external data.
   */
  maxModelBytes?: number;
  /** A data file holds at most this many bytes (unless one tensor is larger) before the next starts. */
  maxChunkBytes?: number;
  /** Initializers smaller than this stay inside the .onnx (onnx's and ORT's default: 1024). */
  minTensorBytes?: number;
}

/** Chunks of 2 GB: within every browser's ArrayBuffer limit, as transformers.js's chunked models are. */
export const DEFAULT_CHUNK_BYTES = 2e9;
// ORT's ModelSavingOptions: tensors above 1 MiB start on a 4096-byte boundary (mmap); smaller ones
// we start on 64 bytes, so typed views of them are aligned too.
const ALIGN_THRESHOLD = 1 << 20;
const PAGE = 4096;
const SMALL_ALIGN = 64;

/** The data file names transformers.js fetches for `<stem>.onnx`: `<stem>.onnx_data`, `<stem>.onnx_data_1`, ... */
export function dataFileName(onnxName: string, chunk: number): string {
  return `${onnxName}_data${chunk === 0 ? '' : `_${chunk}`}`;
}

/**
 * How many data files of `onnxPath` a listing holds, counting `X.onnx_data`, `X.onnx_data_1`, ...
 * while they follow on (transformers.js fetches exactly that many by name).
 */
export function countDataFiles(onnxPath: string, paths: ReadonlySet<string>): number {
  let n = 0;
  while (paths.has(dataFileName(onnxPath, n))) n++;
  return n;
}

/** Data files of a folder (paths) that writing `written` replaces: `X.onnx_data*` of a rewritten `X.onnx`, not rewritten themselves. */
export function staleDataFiles(existing: Iterable<string>, written: Iterable<string>): string[] {
  const w = new Set(written);
  const rewritten = [...w].filter((p) => p.endsWith('.onnx'));
  return [...existing].filter(
    (p) => !w.has(p) && rewritten.some((o) => p === `${o}_data` || p.startsWith(`${o}_data_`)),
  );
}

/** Calls `fn` on every tensor of a graph: initializers, and tensor attributes of nodes (subgraphs included). */
function forEachTensor(graph: GraphProto, fn: (t: TensorProto) => void): void {
  graph.initializer.forEach(fn);
  for (const s of graph.sparseInitializer) {
    if (s.values) fn(s.values);
    if (s.indices) fn(s.indices);
  }
  for (const node of graph.node) {
    for (const a of node.attribute) {
      if (a.t) fn(a.t);
      a.tensors.forEach(fn);
      if (a.g) forEachTensor(a.g, fn);
      a.graphs.forEach((g) => forEachTensor(g, fn));
    }
  }
}

interface ExternalRef {
  location: string;
  offset: number;
  length?: number;
}

function externalRef(t: TensorProto, fileName: string): ExternalRef {
  const entry = (k: string) => t.externalData.find((e) => e.key === k)?.value;
  const location = entry('location');
  if (!location) {
    throw new QuantlabError(
      'bad-onnx',
      `${fileName}: tensor ${t.name} says its data is external but names no file (no "location" entry).`,
      'Export the model again.',
    );
  }
  const num = (k: string) => {
    const v = entry(k);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0)
      throw new QuantlabError('bad-onnx', `${fileName}: tensor ${t.name} has a bad external "${k}" (${v}).`);
    return n;
  };
  return { location: location.replace(/^\.\//, ''), offset: num('offset') ?? 0, length: num('length') };
}

const isExternal = (t: TensorProto) => t.dataLocation === DataLocation.EXTERNAL;

/** The side files a model's tensors point to, in order of first use (empty for a single-file model). */
export function externalDataFiles(model: ModelProto, fileName = 'model.onnx'): string[] {
  const out = new Set<string>();
  if (model.graph)
    forEachTensor(model.graph, (t) => {
      if (isExternal(t)) out.add(externalRef(t, fileName).location);
    });
  return [...out];
}

function missingFile(fileName: string, tensor: string, location: string): QuantlabError {
  return new QuantlabError(
    'bad-onnx',
    `${fileName} keeps the weights of ${tensor} in ${location}, which is not beside it.`,
    `Open or copy the whole model folder, with ${location} next to ${fileName.split('/').pop()}.`,
  );
}

function cutShort(fileName: string, t: TensorProto, r: ExternalRef, size: number): QuantlabError {
  return new QuantlabError(
    'bad-onnx',
    `${r.location} is cut short: ${fileName} reads ${t.name} at bytes ${r.offset}..${r.offset + (r.length ?? 0)}, but the file has ${size} bytes.`,
    'The file was cut short (an interrupted download or copy?); download or export it again.',
  );
}

/**
 * Checks that every external tensor of a model points into a file of the listing that is long
 * enough, without reading any (the import's door check). `sizes` maps file names, as the
 * model names them, to bytes.
 */
export function checkExternalData(model: ModelProto, sizes: ReadonlyMap<string, number>, fileName: string): void {
  if (!model.graph) return;
  forEachTensor(model.graph, (t) => {
    if (!isExternal(t)) return;
    const r = externalRef(t, fileName);
    const size = sizes.get(r.location);
    if (size === undefined) throw missingFile(fileName, t.name, r.location);
    if (r.offset + (r.length ?? 0) > size) throw cutShort(fileName, t, r, size);
  });
}

/**
 * Gives every external tensor of `model` its bytes as raw_data (a view into `files`, no copy), so
 * the rest of the code sees a single-file model. Modifies `model`, which should be freshly decoded.
 * `files` maps file names, as the model names them, to their bytes.
 */
export function loadExternalData(model: ModelProto, files: ReadonlyMap<string, Uint8Array>, fileName: string): void {
  if (!model.graph) return;
  forEachTensor(model.graph, (t) => {
    if (!isExternal(t)) return;
    const r = externalRef(t, fileName);
    const data = files.get(r.location);
    if (!data) throw missingFile(fileName, t.name, r.location);
    const end = r.length === undefined ? data.byteLength : r.offset + r.length;
    if (end > data.byteLength || r.offset > data.byteLength) throw cutShort(fileName, t, r, data.byteLength);
    t.rawData = data.subarray(r.offset, end) as Uint8Array<ArrayBuffer>;
    // Cleared, not set to DEFAULT: the tensor then encodes exactly as a single-file model's would.
    clearField(t, TensorProtoSchema.field.dataLocation);
    t.externalData = [];
  });
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

/**
 * Encodes a model as `<stem>.onnx`, alone when it fits `maxModelBytes`, else with its initializers
 * of at least `minTensorBytes` moved into `<stem>.onnx_data` (and `_1`, `_2`, ... past
 * `maxChunkBytes`), each at an aligned offset with its location, offset and length recorded. The
 * model itself is not modified. Returns file name -> bytes, the .onnx first.
 */
export function encodeModelFiles(
  model: ModelProto,
  stem: string,
  opts: ExternalDataOptions = {},
): Map<string, Uint8Array> {
  const maxModelBytes = opts.maxModelBytes ?? PROTOBUF_LIMIT;
  const maxChunkBytes = opts.maxChunkBytes ?? DEFAULT_CHUNK_BYTES;
  const minTensorBytes = opts.minTensorBytes ?? 1024;
  const onnxName = `${stem}.onnx`;
  const graph = model.graph;
  if (!graph) throw new QuantlabError('internal', `${onnxName} has no graph to write`);
  const rawBytes = graph.initializer.reduce((a, t) => a + t.rawData.byteLength, 0);
  if (rawBytes < maxModelBytes) {
    const bytes = encodeModel(model);
    if (bytes.byteLength <= maxModelBytes) return new Map([[onnxName, bytes]]);
  }

  const chunks: { parts: Uint8Array[]; size: number }[] = [{ parts: [], size: 0 }];
  const initializer = graph.initializer.map((t) => {
    const len = t.rawData.byteLength;
    if (len < minTensorBytes || isExternal(t)) return t;
    let chunk = chunks[chunks.length - 1];
    let offset = alignUp(chunk.size, len > ALIGN_THRESHOLD ? PAGE : SMALL_ALIGN);
    if (chunk.size > 0 && offset + len > maxChunkBytes) {
      chunk = { parts: [], size: 0 };
      chunks.push(chunk);
      offset = 0;
    }
    if (offset > chunk.size) chunk.parts.push(new Uint8Array(offset - chunk.size));
    chunk.parts.push(t.rawData);
    chunk.size = offset + len;
    const location = dataFileName(onnxName, chunks.length - 1);
    return create(TensorProtoSchema, {
      ...t,
      rawData: new Uint8Array(0),
      dataLocation: DataLocation.EXTERNAL,
      externalData: [
        create(StringStringEntryProtoSchema, { key: 'location', value: location }),
        create(StringStringEntryProtoSchema, { key: 'offset', value: String(offset) }),
        create(StringStringEntryProtoSchema, { key: 'length', value: String(len) }),
      ],
    });
  });
  const main = encodeModel(
    create(ModelProtoSchema, { ...model, graph: create(GraphProtoSchema, { ...graph, initializer }) }),
  );
  if (main.byteLength > PROTOBUF_LIMIT) {
    throw new QuantlabError(
      'bad-onnx',
      `${onnxName} would be ${main.byteLength} bytes even with its initializers in ${dataFileName(onnxName, 0)}: past protobuf's 2 GB limit.`,
      'The graph itself is too large (constants inside nodes?); this model cannot be written as ONNX here.',
    );
  }
  const files = new Map([[onnxName, main]]);
  chunks.forEach((c, i) => {
    if (c.size === 0) return;
    const bytes = new Uint8Array(c.size);
    let at = 0;
    for (const p of c.parts) {
      bytes.set(p, at);
      at += p.byteLength;
    }
    files.set(dataFileName(onnxName, i), bytes);
  });
  return files;
}
