// What this browser offers QuantLab: cross-origin isolation (WASM threads), a WebGPU adapter and
// whether it has shader-f16 (every fp16 / q4f16 graph needs it). Reads the globals it is given, so
// tests can pass a fake navigator.

/** WebGPU adapter facts the UI shows and the runner checks before choosing a precision. */
export interface WebGpuInfo {
  vendor: string;
  architecture: string;
  isFallback: boolean;
  shaderF16: boolean;
}

export interface PlatformInfo {
  crossOriginIsolated: boolean;
  /** null when there is no navigator.gpu or no adapter. */
  webgpu: null | WebGpuInfo;
  hardwareConcurrency: number;
}

/** The parts of the browser globals that detectPlatform reads. */
export interface PlatformGlobals {
  crossOriginIsolated?: boolean;
  navigator?: {
    hardwareConcurrency?: number;
    gpu?: { requestAdapter(options?: unknown): Promise<AdapterLike | null> };
  };
}

interface AdapterLike {
  features: { has(name: string): boolean };
  info?: { vendor?: string; architecture?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}

/**
 * Detects isolation, WebGPU and core count. Never throws: a failing requestAdapter() counts as no
 * WebGPU. `isFallback` reads `adapter.info.isFallbackAdapter` (current spec) or the older
 * `adapter.isFallbackAdapter`.
 */
export async function detectPlatform(
  g: PlatformGlobals = globalThis as unknown as PlatformGlobals,
): Promise<PlatformInfo> {
  const nav = g.navigator;
  let webgpu: WebGpuInfo | null = null;
  if (nav?.gpu) {
    try {
      const adapter = await nav.gpu.requestAdapter();
      if (adapter) {
        webgpu = {
          vendor: adapter.info?.vendor ?? '',
          architecture: adapter.info?.architecture ?? '',
          isFallback: adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false,
          shaderF16: adapter.features.has('shader-f16'),
        };
      }
    } catch {
      webgpu = null;
    }
  }
  return {
    crossOriginIsolated: g.crossOriginIsolated === true,
    webgpu,
    hardwareConcurrency: nav?.hardwareConcurrency ?? 1,
  };
}

/** One-line summary for the page header and logs. */
export function describePlatform(p: PlatformInfo): string {
  const gpu = p.webgpu
    ? `WebGPU ${p.webgpu.vendor || '?'}/${p.webgpu.architecture || '?'}` +
      `${p.webgpu.isFallback ? ' (fallback)' : ''}, shader-f16 ${p.webgpu.shaderF16 ? 'yes' : 'no'}`
    : 'no WebGPU';
  return `crossOriginIsolated ${p.crossOriginIsolated}; ${gpu}; ${p.hardwareConcurrency} cores`;
}
