// The WASM code cache primer: the rule for when the page starts ONNX Runtime once on two threads
// (src/lib/page/wasm-cache.ts), and the primer itself (src/browser/wasm-cache.ts) over a fake
// column worker: two threads on WASM asked for, the worker ended whether it worked or not.
import { describe, expect, it } from 'vitest';
import type { Remote } from 'comlink';
import type { ColumnApi } from '../../workers/protocol';
import { primeWasmCache } from '../../src/browser/wasm-cache';
import type { WorkerHandle } from '../../src/browser/workers';
import { needsWasmCachePrimer } from '../../src/lib/page/wasm-cache';

describe('needsWasmCachePrimer', () => {
  it('asks for it only on an isolated page with two cores or more where a column ran on one WASM thread', () => {
    expect(needsWasmCachePrimer(true, 2, [1, 1, 1])).toBe(true);
    expect(needsWasmCachePrimer(true, 8, [2, 1])).toBe(true);
    // Every column already on two threads or more (Chromium writes the cache then), or none loaded.
    expect(needsWasmCachePrimer(true, 2, [2])).toBe(false);
    expect(needsWasmCachePrimer(true, 2, [])).toBe(false);
    // Not isolated: one thread and no shared memory anyway. One core: no second thread to start.
    expect(needsWasmCachePrimer(false, 8, [1, 1])).toBe(false);
    expect(needsWasmCachePrimer(true, 1, [1])).toBe(false);
  });
});

function fakeWorker(warm: () => Promise<unknown>) {
  const calls: unknown[][] = [];
  let terminated = 0;
  const crashListeners = new Set<(m: string) => void>();
  const handle: WorkerHandle<ColumnApi> = {
    api: {
      warm: (...a: unknown[]) => (calls.push(a), warm()),
    } as unknown as Remote<ColumnApi>,
    terminate: () => void terminated++,
    onCrash: (l) => (crashListeners.add(l), () => crashListeners.delete(l)),
  };
  return { handle, calls, terminated: () => terminated, crash: (m: string) => crashListeners.forEach((l) => l(m)) };
}

describe('primeWasmCache', () => {
  it('starts ONNX Runtime on WASM with two threads in a worker of its own, then ends the worker', async () => {
    const w = fakeWorker(async () => ({ bootAt: 0, wasm: { start: 0, end: 1 }, threads: 2 }));
    expect(await primeWasmCache(() => w.handle)).toBe(true);
    expect(w.calls).toEqual([['wasm', 2]]);
    expect(w.terminated()).toBe(1);
  });

  it('ends the worker and reports false when the start fails or the worker dies', async () => {
    const failed = fakeWorker(() => Promise.reject(new Error('no SharedArrayBuffer')));
    expect(await primeWasmCache(() => failed.handle)).toBe(false);
    expect(failed.terminated()).toBe(1);
    const dying = fakeWorker(() => new Promise(() => {}));
    const primed = primeWasmCache(() => dying.handle);
    dying.crash('out of memory');
    expect(await primed).toBe(false);
    expect(dying.terminated()).toBe(1);
  });
});
