// lazyWorker (src/browser/workers.ts): the builder worker starts on its first use, not with the
// page. Nothing starts before `api` is touched; crash listeners added before the start
// hear the started worker's crash, and a listener removed before the start never does.
import { describe, expect, it, vi } from 'vitest';
import type { Remote } from 'comlink';
import { guard } from '../../src/browser/rpc';
import { lazyWorker, type WorkerHandle } from '../../src/browser/workers';
import { QuantlabError } from '../../src/lib/errors';

interface Api {
  list(): Promise<string[]>;
}

function fakeHandle() {
  const listeners = new Set<(message: string) => void>();
  let answer: (v: string[]) => void = () => {};
  const handle: WorkerHandle<Api> & { crash(message: string): void; terminated: number } = {
    api: { list: () => new Promise<string[]>((r) => (answer = r)) } as unknown as Remote<Api>,
    terminated: 0,
    terminate() {
      handle.terminated++;
    },
    onCrash(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    crash(message) {
      for (const l of [...listeners]) l(message);
    },
  };
  return { handle, answer: (v: string[]) => answer(v) };
}

describe('lazyWorker', () => {
  it('starts the worker on the first use of its api, once', async () => {
    const fake = fakeHandle();
    const start = vi.fn(() => fake.handle);
    const w = lazyWorker(start);
    expect(start).not.toHaveBeenCalled();
    expect(w.started).toBe(false);
    w.terminate(); // nothing to end yet, and nothing started by it
    expect(start).not.toHaveBeenCalled();
    const call = w.api.list();
    expect(start).toHaveBeenCalledTimes(1);
    expect(w.started).toBe(true);
    fake.answer(['a']);
    expect(await call).toEqual(['a']);
    void w.api.list();
    expect(start).toHaveBeenCalledTimes(1);
    w.terminate();
    expect(fake.handle.terminated).toBe(1);
  });

  it('hands crash listeners added before the start to the started worker; a removed one hears nothing', async () => {
    const fake = fakeHandle();
    const w = lazyWorker(() => fake.handle);
    const early = vi.fn();
    const removed = vi.fn();
    const offEarly = w.onCrash(early);
    w.onCrash(removed)();
    void w.api; // starts it
    fake.handle.crash('boom');
    expect(early).toHaveBeenCalledWith('boom');
    expect(removed).not.toHaveBeenCalled();
    // Removing after the start detaches it from the started worker too.
    offEarly();
    fake.handle.crash('again');
    expect(early).toHaveBeenCalledTimes(1);
  });

  it('fails a guarded call when the worker it started dies', async () => {
    const fake = fakeHandle();
    const w = lazyWorker(() => fake.handle);
    const call = guard(w, w.api.list(), (m) => new QuantlabError('internal', `The model builder crashed: ${m}`));
    fake.handle.crash('out of memory');
    await expect(call).rejects.toMatchObject({ code: 'internal', message: 'The model builder crashed: out of memory' });
  });
});
