// MatMulNBits' accuracy_level attribute picks the kernel ONNX Runtime runs (0 unset, 1 fp32,
// 2 fp16, 3 bf16, 4 int8 activations) without touching the packed weights, their scales or zero
// points. This sets it on every MatMulNBits node of a graph, so the forms benchmark can time each
// level on the same weights.

import { attr, getAttr, type ModelProto } from '../onnx/proto';

export const ACCURACY_LEVELS = [0, 1, 2, 3, 4] as const;
export type AccuracyLevel = (typeof ACCURACY_LEVELS)[number];

/** Sets accuracy_level on every MatMulNBits node (level 0 removes the attribute); returns how many nodes changed. */
export function setAccuracyLevel(model: ModelProto, level: AccuracyLevel): number {
  if (!(ACCURACY_LEVELS as readonly number[]).includes(level))
    throw new Error(`accuracy_level must be one of ${ACCURACY_LEVELS.join(', ')} (got ${String(level)})`);
  let n = 0;
  for (const node of model.graph?.node ?? []) {
    if (node.opType !== 'MatMulNBits') continue;
    node.attribute = node.attribute.filter((a) => a.name !== 'accuracy_level');
    if (level !== 0) node.attribute.push(attr.int('accuracy_level', level));
    n++;
  }
  return n;
}

/** The accuracy_level of a graph's MatMulNBits nodes: one level, 'mixed', or undefined without such nodes. */
export function accuracyLevelOf(model: ModelProto): number | 'mixed' | undefined {
  const levels = new Set<number>();
  for (const node of model.graph?.node ?? []) {
    if (node.opType !== 'MatMulNBits') continue;
    const a = getAttr(node, 'accuracy_level');
    levels.add(a ? Number(a.i) : 0);
  }
  if (levels.size === 0) return undefined;
  return levels.size === 1 ? [...levels][0] : 'mixed';
}
