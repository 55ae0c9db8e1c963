// The memory-bandwidth ceiling of decoding: each new token reads (about) every weight once, so
// decode tokens/s can be at most bandwidth / bytes read per token. The ratio of a measured speed
// to that ceiling says how much of the machine's bandwidth a precision uses (1 = all of it).

import { bytesPerElement, tensorSize, type ModelProto, type TensorProto } from '../onnx/proto';

/**
 * Bytes of weights one decode step reads: every initializer a node other than Gather consumes,
 * in full, plus one row of each initializer read only by Gather (a token's embedding). Each
 * initializer counts once, however many nodes read it. The KV cache is left out (it grows with
 * the position; at these sizes it is a few percent of the weights).
 */
export function bytesReadPerToken(model: ModelProto): number {
  const graph = model.graph;
  if (!graph) return 0;
  const inits = new Map(graph.initializer.map((t) => [t.name, t]));
  const full = new Set<string>();
  const gathered = new Set<string>();
  for (const node of graph.node) {
    node.input.forEach((name, i) => {
      if (!inits.has(name)) return;
      if (node.opType === 'Gather' && i === 0) gathered.add(name);
      else full.add(name);
    });
  }
  let bytes = 0;
  for (const name of full) bytes += initializerBytes(inits.get(name)!);
  for (const name of gathered) {
    if (full.has(name)) continue;
    const t = inits.get(name)!;
    const rows = Number(t.dims[0] ?? 1n) || 1;
    bytes += initializerBytes(t) / rows;
  }
  return Math.round(bytes);
}

/** From dims and type, so a tensor whose bytes live in .onnx_data counts as well. */
function initializerBytes(t: TensorProto): number {
  return tensorSize(t) * bytesPerElement(t.dataType);
}

/**
 * Measured decode speed over the bandwidth ceiling: tokens/s x bytes per token / bandwidth
 * (bytes/s). Undefined without a positive bandwidth.
 */
export function bandwidthCeilingRatio(
  decodeTokensPerS: number,
  bytesPerToken: number,
  bandwidthBytesPerS: number | undefined,
): number | undefined {
  if (!bandwidthBytesPerS || bandwidthBytesPerS <= 0 || !Number.isFinite(bandwidthBytesPerS)) return undefined;
  return (decodeTokensPerS * bytesPerToken) / bandwidthBytesPerS;
}
