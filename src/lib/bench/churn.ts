// What short-lived ArrayBuffers cost on this machine, in this JS engine. ONNX Runtime Web copies
// every output of every session.run() into a new typed array (the logits and each present.* KV
// tensor: 2 per layer), so a decode step of a small model makes a dozen or more buffers of a few
// KB that die a step later. In Node that costs about 1 µs a buffer; in headless Chromium on the
// 2-core machines here it cost 15-80 µs, and V8 frees them on a background thread after each
// young-generation collection, which stalled the decoding thread for 20-70 ms about every 2 runs of
// aidreams260K (1 ms steps; README, "Browser decode and ArrayBuffers"). The benchmark measures it
// the same way on both sides (this probe) and records it with the machine, so figures from
// machines where this differs can be told apart.

import { median } from './stats';

/** The probe's shape: as many buffers per step as aidreams260K's outputs, of the size of its KV tensors. */
export interface ChurnShape {
  runs: number;
  steps: number;
  perStep: number;
  bytes: number;
}

export const CHURN_SHAPE: ChurnShape = { runs: 12, steps: 64, perStep: 14, bytes: 16384 };

/** Runs left out before the figures (the engine's warm-up). */
const WARM_UP = 2;

export interface ArrayBufferChurn {
  /** Typed arrays made per step and their size in bytes; steps per run; measured runs. */
  per_step: number;
  bytes: number;
  steps: number;
  runs: number;
  /** Median over runs of the run's time per buffer (allocation, first write, and its share of freeing), µs. */
  per_buffer_us: number;
  /** Median over runs of the run's longest step, ms (a collection's pause shows here). */
  longest_step_ms: number;
}

/**
 * Makes `perStep` Float32Arrays of `bytes` bytes per step, each written once and kept until the
 * step after (as a KV cache is fed back), `steps` steps a run, `runs` runs after WARM_UP more;
 * returns the median time per buffer and the median longest step.
 */
export function arrayBufferChurn(
  shape: ChurnShape = CHURN_SHAPE,
  now: () => number = () => performance.now(),
): ArrayBufferChurn {
  const { runs, steps, perStep, bytes } = shape;
  if (![runs, steps, perStep, bytes].every((x) => Number.isInteger(x) && x >= 1))
    throw new RangeError(`The probe's shape must be whole numbers >= 1 (got ${JSON.stringify(shape)})`);
  const perBuffer: number[] = [];
  const longest: number[] = [];
  let held: Float32Array[] = [];
  for (let run = 0; run < runs + WARM_UP; run++) {
    const t0 = now();
    let last = t0;
    let worst = 0;
    for (let step = 0; step < steps; step++) {
      const made: Float32Array[] = [];
      for (let k = 0; k < perStep; k++) {
        const a = new Float32Array(bytes >> 2 || 1);
        a[0] = step;
        made.push(a);
      }
      held = made;
      const t = now();
      worst = Math.max(worst, t - last);
      last = t;
    }
    if (run < WARM_UP) continue;
    perBuffer.push(((last - t0) * 1000) / (steps * perStep));
    longest.push(worst);
  }
  // Keeps the last step's arrays reachable until here, so none is optimised away.
  if (held.length !== perStep) throw new Error('unreachable');
  return {
    per_step: perStep,
    bytes,
    steps,
    runs,
    per_buffer_us: median(perBuffer),
    longest_step_ms: median(longest),
  };
}
