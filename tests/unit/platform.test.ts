// detectPlatform against fake browser globals: the facts the UI and runner rely on (isolation,
// fallback adapter, shader-f16) must come from the adapter, and a broken WebGPU must read as none.
import { describe, expect, it } from 'vitest';
import { describePlatform, detectPlatform, type PlatformGlobals } from '../../src/lib/page/platform';

function fakeGpu(adapter: unknown, throws = false): PlatformGlobals['navigator'] {
  return {
    hardwareConcurrency: 8,
    gpu: {
      requestAdapter: async () => {
        if (throws) throw new Error('GPU process crashed');
        return adapter as never;
      },
    },
  };
}

describe('detectPlatform', () => {
  it('reads the SwiftShader fallback adapter without shader-f16', async () => {
    const adapter = {
      features: new Set(['timestamp-query']),
      info: { vendor: 'google', architecture: 'swiftshader', isFallbackAdapter: true },
    };
    const p = await detectPlatform({ crossOriginIsolated: true, navigator: fakeGpu(adapter) });
    expect(p).toEqual({
      crossOriginIsolated: true,
      webgpu: { vendor: 'google', architecture: 'swiftshader', isFallback: true, shaderF16: false },
      hardwareConcurrency: 8,
    });
    expect(describePlatform(p)).toBe(
      'crossOriginIsolated true; WebGPU google/swiftshader (fallback), shader-f16 no; 8 cores',
    );
  });

  it('reports shader-f16 on a real GPU and the older isFallbackAdapter field', async () => {
    const adapter = {
      features: new Set(['shader-f16']),
      info: { vendor: 'nvidia', architecture: 'ampere' },
      isFallbackAdapter: false,
    };
    const p = await detectPlatform({ crossOriginIsolated: false, navigator: fakeGpu(adapter) });
    expect(p.webgpu).toEqual({ vendor: 'nvidia', architecture: 'ampere', isFallback: false, shaderF16: true });
    expect(p.crossOriginIsolated).toBe(false);
  });

  it('treats no navigator.gpu, a null adapter and a throwing requestAdapter as no WebGPU', async () => {
    expect((await detectPlatform({ navigator: { hardwareConcurrency: 2 } })).webgpu).toBeNull();
    expect((await detectPlatform({ navigator: fakeGpu(null) })).webgpu).toBeNull();
    const broken = await detectPlatform({ crossOriginIsolated: true, navigator: fakeGpu({}, true) });
    expect(broken.webgpu).toBeNull();
    expect(describePlatform(broken)).toBe('crossOriginIsolated true; no WebGPU; 8 cores');
  });

  it('defaults to not isolated and one core when the globals are missing', async () => {
    expect(await detectPlatform({})).toEqual({ crossOriginIsolated: false, webgpu: null, hardwareConcurrency: 1 });
  });
});
