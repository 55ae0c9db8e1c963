// `quantlab bench --bandwidth`: reads each timed variant's graph to count the weight bytes one
// decode step reads, and gives every row its memory-bandwidth ceiling ratio.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bandwidthCeilingRatio, bytesReadPerToken } from '../lib/bench/bandwidth';
import type { BenchRow } from '../lib/bench/report';
import { decodeModel } from '../lib/onnx/proto';

/** Sets bytes_per_token and bandwidth_ceiling_ratio on every row (bandwidth in bytes/s). */
export function addBandwidth(
  rows: BenchRow[],
  dir: string,
  stems: readonly string[],
  dtypes: readonly string[],
  bandwidthBytesPerS: number,
): void {
  const bytes = new Map<string, number>();
  for (const [i, dtype] of dtypes.entries()) {
    const file = `${stems[i]}.onnx`;
    bytes.set(dtype, bytesReadPerToken(decodeModel(readFileSync(join(dir, 'onnx', file)), file)));
  }
  for (const r of rows) {
    const b = bytes.get(r.dtype);
    if (b === undefined) continue;
    r.bytes_per_token = b;
    r.bandwidth_ceiling_ratio = bandwidthCeilingRatio(r.decode_tokens_per_s, b, bandwidthBytesPerS);
  }
}
