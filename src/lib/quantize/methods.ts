// The weight-only methods behind MatMulNBits variants, by name, and the storage width each bit
// width is packed into. A method turns weight rows into a grid (grid.ts); packing is shared.

import type { Method } from '../variants/options';
import { awqGrid, awqGridOn } from './awq';
import { gptqGrid, gptqGridOn } from './gptq';
import { rtnGrid, type PooledQuantizer, type WeightContext, type WeightQuantizer } from './grid';
import { hqqGrid } from './hqq';
import type { WeightTarget } from './targets';

/** The methods this build implements. */
export const WEIGHT_METHODS: Partial<Record<Method, WeightQuantizer>> = {
  rtn: rtnGrid,
  hqq: hqqGrid,
  gptq: gptqGrid,
  awq: awqGrid,
};

/** The methods whose loops can spread over a job pool's threads (the same grids as WEIGHT_METHODS'). */
export const POOLED_METHODS: Partial<Record<Method, PooledQuantizer>> = {
  gptq: gptqGridOn,
  awq: awqGridOn,
};

/** The MatMulNBits `bits` a grid is stored in (grid.ts: 3-bit levels in 4-bit storage). */
export { storageBitsFor } from './grid';

/**
 * Calibration for methods that need the inputs of each weight (GPTQ, AWQ): the quantizer asks for
 * a weight's context in graph order and reports each weight as quantized, so the inputs of later
 * weights are those of the partly quantized model.
 */
export interface WeightCalibrator {
  contextFor(t: WeightTarget): Promise<WeightContext | undefined>;
  /** The weight as quantized: rows [N, K] dequantized. */
  quantized(t: WeightTarget, dequantized: Float32Array): void;
}
