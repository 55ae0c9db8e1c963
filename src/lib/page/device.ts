// Picks the device a column runs on, and says why in words the column shows: WebGPU when the
// browser has a real adapter and the variant's needs are met (shader-f16 for 16-bit graphs),
// else ONNX Runtime's WASM backend, its threads shared out among the columns.

import type { PlatformInfo } from './platform';
import type { DevicePreference } from './settings';

export interface DeviceChoice {
  device: 'wasm' | 'webgpu';
  reason: string;
  /** WASM threads the column's session gets (0 on WebGPU). */
  threads: number;
}

/**
 * Weights under this many bytes run on one WASM thread, whatever the cores: ONNX Runtime splits
 * each op across its threads, and a model this small has ops too small to share. Measured on 2
 * cores (README, "Threads for a small model"): aidreams260K (1 MB) decoded a step in 1.03 ms on
 * one thread against 1.25-1.34 on two and prefilled faster too; the 3.7 MB quantlab-tiny likewise;
 * the SmolLM2-135M-shaped model (135-540 MB) prefilled 1.3-1.5 times faster on two.
 */
export const SMALL_MODEL_BYTES = 16e6;

const isSmallModel = (bytes: number | undefined): boolean =>
  bytes !== undefined && bytes > 0 && bytes < SMALL_MODEL_BYTES;

/**
 * WASM threads per column: columns running at once share the cores, so each gets
 * cores / columns (at least 1, at most 4); more threads than cores only makes ONNX Runtime's
 * workers wait on each other and starves the page. One thread without cross-origin isolation,
 * and for a model under SMALL_MODEL_BYTES (`bytes`, its weights' file size, where known).
 */
export function wasmThreadCount(p: PlatformInfo | null, columns = 1, bytes?: number): number {
  if (!p?.crossOriginIsolated || isSmallModel(bytes)) return 1;
  return Math.max(1, Math.min(4, Math.floor(p.hardwareConcurrency / Math.max(1, columns))));
}

/** What a variant asks of the device (see variants/table.ts). */
export interface DeviceNeeds {
  /** fp16 / q4f16 graphs: WebGPU only with the shader-f16 feature. */
  needsShaderF16: boolean;
  /** MatMulInteger (q8 / int8 / uint8): runs under WebGPU, but those ops fall back to the CPU. */
  integerMatMul?: boolean;
  /** The weights' file size, where known: a small model runs on one WASM thread (SMALL_MODEL_BYTES). */
  bytes?: number;
}

function wasmReason(p: PlatformInfo | null, why: string, columns: number, bytes?: number): DeviceChoice {
  const threads = wasmThreadCount(p, columns, bytes);
  // The reason that decides: sharing the cores where it alone gives this count, else the model's size.
  const shared =
    !p || threads >= Math.min(4, p.hardwareConcurrency)
      ? ''
      : columns > 1 && wasmThreadCount(p, columns) === threads
        ? ` (${columns} columns share ${p.hardwareConcurrency} cores)`
        : isSmallModel(bytes)
          ? ' (a model this small runs faster on one)'
          : '';
  const t = p?.crossOriginIsolated
    ? `${threads} thread${threads === 1 ? '' : 's'}${shared}`
    : '1 thread (page not cross-origin isolated)';
  return { device: 'wasm', reason: `${why}; ${t}`, threads };
}

/**
 * Chooses a device. `auto` takes WebGPU only on a hardware adapter that can run the variant;
 * a software fallback adapter (SwiftShader) is slower than WASM, so auto skips it. An explicit
 * preference is honoured when possible and explained when not.
 */
export function chooseDevice(
  needs: DeviceNeeds,
  platform: PlatformInfo | null,
  pref: DevicePreference = 'auto',
  columns = 1,
): DeviceChoice {
  const wasm = (why: string) => wasmReason(platform, why, columns, needs.bytes);
  if (pref === 'wasm') return wasm('chosen in settings');
  const gpu = platform?.webgpu ?? null;
  if (!gpu) return wasm(platform ? 'no WebGPU adapter in this browser' : 'WebGPU not detected yet');
  if (needs.needsShaderF16 && !gpu.shaderF16) {
    return wasm('this variant needs shader-f16, which the WebGPU adapter lacks');
  }
  const name = [gpu.vendor, gpu.architecture].filter(Boolean).join(' ') || 'unknown adapter';
  const intNote = needs.integerMatMul ? ' (its MatMulInteger ops run on the CPU under WebGPU)' : '';
  if (pref === 'webgpu')
    return {
      device: 'webgpu',
      reason: `chosen in settings: ${name}${gpu.isFallback ? ' (software fallback)' : ''}${intNote}`,
      threads: 0,
    };
  if (gpu.isFallback) return wasm(`the only WebGPU adapter (${name}) is a software fallback, slower than WASM`);
  return {
    device: 'webgpu',
    reason: `adapter ${name}${needs.needsShaderF16 ? ' with shader-f16' : ''}${intNote}`,
    threads: 0,
  };
}
