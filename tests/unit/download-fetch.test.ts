// The counting fetch transformers.js downloads Hub files with (src/lib/download/tracked-fetch.ts),
// over real HTTP against the test Hub mirror in Node: bytes counted to the file's size, each fault
// turned into its message, a body that ends short refused, an abort cancelling mid-body.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QuantlabError } from '../../src/lib/errors';
import { trackedFetch, type FetchObserver } from '../../src/lib/download/tracked-fetch';
import { startHubMirror, type HubMirror } from '../helpers/hub-mirror';
import { cleanupTempDirs, tempDir } from '../helpers/model-dirs';

afterAll(cleanupTempDirs);

const SIZE = 200_000;

/** Reads a response body to the end; the error it fails with, if any. */
async function drain(res: Response): Promise<{ bytes: number; error?: unknown }> {
  const reader = res.body!.getReader();
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { bytes };
      bytes += value.byteLength;
    }
  } catch (error) {
    return { bytes, error };
  }
}

function recorder() {
  const events: string[] = [];
  let last = 0;
  const obs: FetchObserver = {
    start: (u, total) => events.push(`start ${total}`),
    progress: (u, loaded) => {
      expect(loaded).toBeGreaterThan(last);
      last = loaded;
    },
    end: (u, ok) => events.push(`end ${ok} ${last}`),
  };
  return { obs, events };
}

describe('trackedFetch', () => {
  let mirror: HubMirror;
  const file = () => `${mirror.url}/o/r/resolve/main/onnx/model.onnx`;

  beforeAll(async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'onnx'));
    writeFileSync(join(dir, 'onnx', 'model.onnx'), Buffer.alloc(SIZE, 7));
    mirror = await startHubMirror();
    mirror.addRepo('o/r', dir);
  });
  afterAll(() => mirror?.close());

  it('counts every byte of a whole file and passes it through', async () => {
    const { obs, events } = recorder();
    const res = await trackedFetch(fetch, obs)(file());
    const body = new Uint8Array(await res.arrayBuffer());
    expect(body.length).toBe(SIZE);
    expect(body.every((b) => b === 7)).toBe(true);
    expect(res.headers.get('content-length')).toBe(String(SIZE));
    expect(events).toEqual([`start ${SIZE}`, `end true ${SIZE}`]);
  });

  it("asks for whole files past the browser's HTTP cache (the Hub cache keeps them), probes as they are", async () => {
    const seen: (RequestCache | undefined)[] = [];
    const spy = (input: string | URL, init?: RequestInit) => {
      seen.push(init?.cache);
      return fetch(input, init);
    };
    await (await trackedFetch(spy)(file())).arrayBuffer();
    await (await trackedFetch(spy)(file(), { headers: { Range: 'bytes=0-0' } })).arrayBuffer();
    expect(seen).toEqual(['no-store', undefined]);
  });

  it("leaves transformers.js's one-byte range requests (file sizes) uncounted", async () => {
    const { obs, events } = recorder();
    const res = await trackedFetch(fetch, obs)(file(), { headers: { Range: 'bytes=0-0' } });
    expect(res.status).toBe(206);
    expect((await res.arrayBuffer()).byteLength).toBe(1);
    expect(events).toEqual([]);
  });

  it('fails a 5xx with the status and host, and hands a 404 back to transformers.js', async () => {
    const off = mirror.addFault({ path: '*/model.onnx', kind: 'status', status: 503 });
    const err = await trackedFetch(fetch)(file()).catch((e: unknown) => e);
    off();
    expect(err).toBeInstanceOf(QuantlabError);
    expect((err as QuantlabError).message).toBe(
      `${mirror.url.slice(7)} failed to send onnx/model.onnx of o/r (HTTP 503, a server error on its side)`,
    );
    const missing = await trackedFetch(fetch)(`${mirror.url}/o/r/resolve/main/generation_config.json`);
    expect(missing.status).toBe(404);
  });

  it('fails a dropped connection and a truncated body mid-read, naming the bytes that came', async () => {
    for (const kind of ['drop', 'truncate'] as const) {
      const off = mirror.addFault({ path: '*/model.onnx', kind, afterBytes: 65_536 });
      const { obs, events } = recorder();
      const got = await drain(await trackedFetch(fetch, obs)(file()));
      off();
      // Node's fetch (undici) reports both as an error of the body, as Chromium does.
      expect(got.error, kind).toBeInstanceOf(QuantlabError);
      expect((got.error as QuantlabError).message).toMatch(
        /onnx\/model\.onnx of o\/r .*broke off after \d+ \/ 200 kB \(the connection dropped/,
      );
      expect(got.bytes).toBeLessThan(SIZE);
      expect(events[1]).toMatch(/^end false /);
    }
  });

  it('refuses a body that ends cleanly short of its content-length', async () => {
    const short = async () =>
      new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(new Uint8Array(1000));
            c.close();
          },
        }),
        { status: 200, headers: { 'content-length': '5000' } },
      );
    const { obs, events } = recorder();
    const got = await drain(await trackedFetch(short, obs)(file()));
    expect((got.error as QuantlabError).message).toBe(
      `${mirror.url.slice(7)} sent only 1 / 5 kB of onnx/model.onnx of o/r: the file is truncated`,
    );
    expect(events).toEqual(['start 5000', 'end false 1000']);
  });

  it('cancels mid-body when the signal aborts', async () => {
    const off = mirror.addFault({ path: '*/model.onnx', kind: 'throttle', bytesPerSecond: 100_000 });
    const ctrl = new AbortController();
    const res = await trackedFetch(fetch, { signal: () => ctrl.signal })(file());
    const reading = drain(res);
    setTimeout(() => ctrl.abort(), 200);
    const got = await reading;
    off();
    expect(got.error).toBeInstanceOf(QuantlabError);
    expect((got.error as QuantlabError).code).toBe('cancelled');
    expect(got.bytes).toBeGreaterThan(0);
    expect(got.bytes).toBeLessThan(SIZE);
  });

  it('says the host is unreachable when nothing answers', async () => {
    await mirror.stop();
    const err = await trackedFetch(fetch)(file()).catch((e: unknown) => e);
    await mirror.restart();
    expect((err as QuantlabError).code).toBe('offline');
    expect((err as QuantlabError).message).toMatch(
      new RegExp(
        `^Could not reach ${mirror.url.slice(7).replace(/\./g, '\\.')} to load o/r \\(no answer for onnx/model\\.onnx`,
      ),
    );
  });
});
