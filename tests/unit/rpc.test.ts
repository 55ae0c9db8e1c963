// The page-worker RPC (src/browser/rpc.ts) over a real MessageChannel, as comlink runs it between
// the page and a worker: values pass, a thrown error reaches the caller as a QuantlabError with
// its code, message and detail, and a worker that dies fails the call waiting on it.
import { afterEach, describe, expect, it } from 'vitest';
import type { Endpoint } from 'comlink';
import { connect, countingEndpoint, guard, outcome, serve, type Crashable } from '../../src/browser/rpc';
import { QuantlabError } from '../../src/lib/errors';

const api = {
  async add(a: number, b: number) {
    return a + b;
  },
  async refuse(): Promise<number> {
    throw new QuantlabError('unsupported-device', 'no shader-f16', 'Run this column on WASM.');
  },
  async crash(): Promise<number> {
    throw new TypeError('x is undefined');
  },
  async abort(): Promise<number> {
    throw new DOMException('The operation was aborted', 'AbortError');
  },
  throwsAString(): number {
    throw 'plain string';
  },
};

const ports: MessagePort[] = [];
function pair() {
  const { port1, port2 } = new MessageChannel();
  ports.push(port1, port2);
  serve(api, port1 as unknown as Endpoint);
  return connect<typeof api>(port2 as unknown as Endpoint);
}

afterEach(() => {
  for (const p of ports.splice(0)) p.close();
});

/** The rejection of `p` (fails the test if `p` resolves). */
async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => expect.fail(`resolved with ${String(v)}`),
    (e: unknown) => e,
  );
}

describe('rpc across a MessageChannel', () => {
  it('passes arguments and results', async () => {
    expect(await pair().add(2, 3)).toBe(5);
  });

  it('rethrows a QuantlabError with its code, message and detail', async () => {
    const e = await rejectionOf(pair().refuse());
    expect(e).toBeInstanceOf(QuantlabError);
    expect((e as QuantlabError).toInfo()).toEqual({
      code: 'unsupported-device',
      message: 'no shader-f16',
      detail: 'Run this column on WASM.',
    });
  });

  it('turns any other error into a typed one: internal, or cancelled for an AbortError', async () => {
    const remote = pair();
    const crash = await rejectionOf(remote.crash());
    expect(crash).toBeInstanceOf(QuantlabError);
    expect((crash as QuantlabError).toInfo()).toEqual({ code: 'internal', message: 'x is undefined' });
    expect(((await rejectionOf(remote.abort())) as QuantlabError).code).toBe('cancelled');
    expect(((await rejectionOf(remote.throwsAString())) as QuantlabError).toInfo()).toEqual({
      code: 'internal',
      message: 'plain string',
    });
  });

  it('keeps each call its own result: one failure leaves the others alone', async () => {
    const remote = pair();
    const [a, b, c] = await Promise.allSettled([remote.add(1, 1), remote.refuse(), remote.add(2, 2)]);
    expect(a).toEqual({ status: 'fulfilled', value: 2 });
    expect(b.status === 'rejected' && (b.reason as QuantlabError).code).toBe('unsupported-device');
    expect(c).toEqual({ status: 'fulfilled', value: 4 });
  });
});

/** A worker handle whose crash the test triggers. */
function fakeWorker() {
  const listeners = new Set<(m: string) => void>();
  const w: Crashable & { crash(m: string): void; listening(): number } = {
    onCrash(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    crash: (m) => [...listeners].forEach((l) => l(m)),
    listening: () => listeners.size,
  };
  return w;
}

describe('guard', () => {
  const crashed = (m: string) => new QuantlabError('internal', `The column worker stopped: ${m}`);

  it('rejects a call still pending when the worker dies', async () => {
    const w = fakeWorker();
    const call = guard(w, new Promise<number>(() => {}), crashed);
    w.crash('out of memory');
    const e = await rejectionOf(call);
    expect((e as QuantlabError).toInfo()).toEqual({
      code: 'internal',
      message: 'The column worker stopped: out of memory',
    });
    expect(w.listening()).toBe(0);
  });

  it("passes the call's own result or error through and stops listening", async () => {
    const w = fakeWorker();
    expect(await guard(w, Promise.resolve(7), crashed)).toBe(7);
    const e = await rejectionOf(guard(w, Promise.reject(new QuantlabError('bad-argument', 'no')), crashed));
    expect((e as QuantlabError).code).toBe('bad-argument');
    expect(w.listening()).toBe(0);
  });
});

describe('outcome', () => {
  it('gives the value, or the error as data', async () => {
    expect(await outcome(() => 3)).toEqual({ ok: true, value: 3 });
    expect(
      await outcome(async () => {
        throw new QuantlabError('offline', 'no network', 'Open a local model.');
      }),
    ).toEqual({ ok: false, error: { code: 'offline', message: 'no network', detail: 'Open a local model.' } });
  });
});

describe('countingEndpoint', () => {
  it('counts every message comlink posts through it, once each, after the post; the other end receives as many', async () => {
    const { port1, port2 } = new MessageChannel();
    ports.push(port1, port2);
    // The worker's side: comlink serves on port1, and a listener counts what arrives (column.worker.ts).
    let received = 0;
    port1.addEventListener('message', () => void received++);
    serve(api, port1 as unknown as Endpoint);
    const posted = new Int32Array(new SharedArrayBuffer(4));
    const ep = countingEndpoint(port2 as unknown as Endpoint, posted);
    const remote = connect<typeof api>(ep);
    expect(await remote.add(1, 2)).toBe(3);
    expect(await remote.add(3, 4)).toBe(7);
    await rejectionOf(remote.refuse());
    // Three calls, three messages; each had arrived by the time its answer came back.
    expect(Atomics.load(posted, 0)).toBe(3);
    expect(received).toBe(3);
    // A call in flight is counted as soon as it is posted, before the other end has it.
    const pending = remote.add(5, 6);
    expect(Atomics.load(posted, 0)).toBe(4);
    expect(received).toBe(3);
    expect(await pending).toBe(11);
    expect(received).toBe(4);
  });
});
