import { describe, expect, it } from 'vitest';
import { chooseDevice, SMALL_MODEL_BYTES, wasmThreadCount } from '../../src/lib/page/device';
import type { PlatformInfo } from '../../src/lib/page/platform';

const gpu = (shaderF16: boolean, isFallback = false): PlatformInfo => ({
  crossOriginIsolated: true,
  hardwareConcurrency: 8,
  webgpu: { vendor: 'nvidia', architecture: 'ampere', isFallback, shaderF16 },
});
const noGpu: PlatformInfo = { crossOriginIsolated: false, hardwareConcurrency: 2, webgpu: null };
const fp32 = { needsShaderF16: false };
const q4f16 = { needsShaderF16: true };

describe('chooseDevice', () => {
  it('takes WebGPU on a hardware adapter that meets the needs', () => {
    expect(chooseDevice(fp32, gpu(false))).toEqual({ device: 'webgpu', reason: 'adapter nvidia ampere', threads: 0 });
    expect(chooseDevice(q4f16, gpu(true)).device).toBe('webgpu');
    expect(chooseDevice(q4f16, gpu(true)).reason).toContain('shader-f16');
  });

  it('falls back to WASM without shader-f16 for 16-bit variants, and says so', () => {
    const c = chooseDevice(q4f16, gpu(false));
    expect(c.device).toBe('wasm');
    expect(c.reason).toBe('this variant needs shader-f16, which the WebGPU adapter lacks; 4 threads');
    expect(chooseDevice(q4f16, gpu(false), 'webgpu').device).toBe('wasm');
  });

  it('uses WASM without an adapter, with the thread count isolation allows', () => {
    expect(chooseDevice(fp32, noGpu)).toEqual({
      device: 'wasm',
      reason: 'no WebGPU adapter in this browser; 1 thread (page not cross-origin isolated)',
      threads: 1,
    });
    expect(chooseDevice(fp32, null).device).toBe('wasm');
  });

  it('skips a software fallback adapter in auto mode but honours an explicit choice', () => {
    expect(chooseDevice(fp32, gpu(false, true)).device).toBe('wasm');
    expect(chooseDevice(fp32, gpu(false, true)).reason).toMatch(/software fallback/);
    expect(chooseDevice(fp32, gpu(false, true), 'webgpu').device).toBe('webgpu');
    expect(chooseDevice(fp32, gpu(true), 'wasm')).toEqual({
      device: 'wasm',
      reason: 'chosen in settings; 4 threads',
      threads: 4,
    });
  });

  it('notes that integer MatMuls leave the GPU', () => {
    expect(chooseDevice({ needsShaderF16: false, integerMatMul: true }, gpu(true)).reason).toMatch(
      /MatMulInteger ops run on the CPU/,
    );
  });

  it('shares the cores out among the columns running at once', () => {
    const two: PlatformInfo = { crossOriginIsolated: true, hardwareConcurrency: 2, webgpu: null };
    // 2 cores: one column gets both; two or more get one thread each (never 0).
    expect([1, 2, 3, 4].map((n) => wasmThreadCount(two, n))).toEqual([2, 1, 1, 1]);
    // 8 cores: capped at 4 for one column, 8 / 3 -> 2 each for three.
    expect([1, 2, 3, 8, 16].map((n) => wasmThreadCount(gpu(false), n))).toEqual([4, 4, 2, 1, 1]);
    expect(wasmThreadCount(noGpu, 1)).toBe(1);
    expect(chooseDevice(fp32, two, 'wasm', 4)).toEqual({
      device: 'wasm',
      reason: 'chosen in settings; 1 thread (4 columns share 2 cores)',
      threads: 1,
    });
    expect(chooseDevice(fp32, two, 'wasm', 1)).toEqual({
      device: 'wasm',
      reason: 'chosen in settings; 2 threads',
      threads: 2,
    });
  });

  it('runs a small model on one thread whatever the cores, and says why', () => {
    const two: PlatformInfo = { crossOriginIsolated: true, hardwareConcurrency: 2, webgpu: null };
    // aidreams260K's fp32 file (about 1 MB) and the 3.7 MB quantlab-tiny: one thread.
    expect(wasmThreadCount(two, 1, 1_003_000)).toBe(1);
    expect(wasmThreadCount(gpu(false), 1, 3_715_366)).toBe(1);
    expect(wasmThreadCount(gpu(false), 3, 3_715_366)).toBe(1);
    // At the limit and above (a 135M model's 135 MB q8 file), or unknown (0, undefined): the cores.
    expect(wasmThreadCount(two, 1, SMALL_MODEL_BYTES)).toBe(2);
    expect(wasmThreadCount(two, 1, 135e6)).toBe(2);
    expect(wasmThreadCount(two, 1, 0)).toBe(2);
    expect(wasmThreadCount(two, 1)).toBe(2);
    expect(chooseDevice({ ...fp32, bytes: 1_003_000 }, two, 'wasm', 1)).toEqual({
      device: 'wasm',
      reason: 'chosen in settings; 1 thread (a model this small runs faster on one)',
      threads: 1,
    });
    expect(chooseDevice({ ...fp32, bytes: 1_003_000 }, gpu(false, true), 'auto', 3).reason).toMatch(
      /software fallback, slower than WASM; 1 thread \(a model this small runs faster on one\)$/,
    );
    // Where sharing the cores alone gives one thread, that is the reason given.
    expect(chooseDevice({ ...fp32, bytes: 1_003_000 }, two, 'wasm', 3).reason).toBe(
      'chosen in settings; 1 thread (3 columns share 2 cores)',
    );
    // Not isolated: one thread for that reason.
    expect(chooseDevice({ ...fp32, bytes: 1_003_000 }, noGpu).reason).toBe(
      'no WebGPU adapter in this browser; 1 thread (page not cross-origin isolated)',
    );
    expect(chooseDevice({ ...fp32, bytes: 135e6 }, two, 'wasm', 1).threads).toBe(2);
  });
});
