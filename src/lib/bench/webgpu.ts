// The browser-webgpu runtime's adapter as the benchmark reports it, and whether its figures are
// speed figures at all: a software adapter (SwiftShader, Chromium's fallback where there is no GPU)
// runs the shaders on the CPU, so its numbers only show that the graphs run and agree.

/** What the page's navigator.gpu.requestAdapter() answered (adapter.info plus two capabilities). */
export interface GpuAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** Chromium's fallback adapter (isFallbackAdapter): software, or a GPU too limited to prefer. */
  is_fallback: boolean;
  /** Whether fp16 shaders (and so fp16 / q4f16 graphs) can run. */
  shader_f16: boolean;
}

/** Adapters known to run on the CPU (SwiftShader, llvmpipe, WARP), or flagged as the fallback adapter. */
export function isSoftwareAdapter(a: GpuAdapterInfo): boolean {
  if (a.is_fallback) return true;
  const text = `${a.vendor} ${a.architecture} ${a.device} ${a.description}`.toLowerCase();
  return /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|\bwarp\b/.test(text);
}

/** One line naming the adapter: its description, else vendor / architecture / device. */
export function describeAdapter(a: GpuAdapterInfo): string {
  const parts = [a.vendor, a.architecture, a.device].filter(Boolean).join(' / ');
  const name = a.description || parts || 'unnamed adapter';
  return `${name}${a.description && parts ? ` (${parts})` : ''}${isSoftwareAdapter(a) ? ', software' : ''}`;
}

/** The warning a report carries for rows measured on a software adapter. */
export function softwareAdapterWarning(a: GpuAdapterInfo): string {
  return `browser-webgpu ran on a software adapter (${describeAdapter(a)}): its figures are correctness-only (the graphs run and their greedy ids are checked), not GPU speed`;
}
