// The test Hub mirror itself (tests/helpers/hub-mirror.ts), over real HTTP in Node: the tree API,
// file downloads with ranges, CORS, the Hub's error answers and every fault switch. Expected
// bytes and hashes are computed here from the files on disk, independently of the mirror.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHubMirror, type HubMirror } from '../helpers/hub-mirror';
import { AIDREAMS_REPO, aidreamsHubFolder } from '../helpers/hub-fixture';
import { cleanupTempDirs, tempDir } from '../helpers/model-dirs';

afterAll(cleanupTempDirs);

/** A raw GET that reports what arrived even when the connection breaks (fetch would throw it away). */
function rawGet(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer; error?: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let status = 0;
    let got: Record<string, string | string[] | undefined> = {};
    const done = (error?: string) => resolve({ status, headers: got, body: Buffer.concat(chunks), error });
    const req = request(url, { headers }, (res) => {
      status = res.statusCode ?? 0;
      got = res.headers;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done());
      res.on('aborted', () => done('aborted'));
      res.on('error', (e) => done(e.message));
    });
    req.on('error', (e) => done(e.message));
    req.end();
  });
}

describe('hub mirror', () => {
  let mirror: HubMirror;
  let dir: string;
  let big: Buffer;
  const repo = 'test-owner/tiny-repo';
  const fileUrl = (p: string) => `${mirror.url}/${repo}/resolve/main/${p}`;

  beforeAll(async () => {
    dir = tempDir();
    mkdirSync(join(dir, 'onnx'));
    writeFileSync(join(dir, 'config.json'), '{"model_type":"llama"}');
    big = Buffer.alloc(40_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
    writeFileSync(join(dir, 'onnx', 'model.onnx'), big);
    writeFileSync(join(dir, 'onnx', 'model.onnx_data'), Buffer.from('weights'));
    mirror = await startHubMirror();
    mirror.addRepo(repo, dir);
    mirror.addRepo('test-owner/gated', dir, { access: 'gated' });
    mirror.addRepo('test-owner/private', dir, { access: 'private' });
  });

  afterAll(async () => {
    await mirror?.close();
  });

  it('lists a folder as the Hub tree API does: paths from the repo root, git blob ids, lfs entries', async () => {
    const res = await fetch(`${mirror.url}/api/models/${repo}/tree/main/onnx`);
    expect(res.status).toBe(200);
    const entries = (await res.json()) as { type: string; oid: string; size: number; path: string; lfs?: object }[];
    const gitOid = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
    expect(entries.map((e) => [e.type, e.path, e.size])).toEqual([
      ['file', 'onnx/model.onnx', 40_000],
      ['file', 'onnx/model.onnx_data', 7],
    ]);
    expect(entries[0].oid).toBe(gitOid(big));
    expect(entries[0].lfs).toEqual({
      oid: createHash('sha256').update(big).digest('hex'),
      size: 40_000,
      pointerSize: 134,
    });
    const root = (await (await fetch(`${mirror.url}/api/models/${repo}/tree/main`)).json()) as {
      type: string;
      path: string;
    }[];
    expect(root.map((e) => `${e.type}:${e.path}`)).toEqual(['file:config.json', 'directory:onnx']);
    const all = (await (await fetch(`${mirror.url}/api/models/${repo}/tree/main?recursive=true`)).json()) as {
      path: string;
    }[];
    expect(all.map((e) => e.path)).toEqual(['config.json', 'onnx', 'onnx/model.onnx', 'onnx/model.onnx_data']);
  });

  it('serves files with content-length, etag and the CORS headers, HEAD without a body', async () => {
    const res = await fetch(fileUrl('onnx/model.onnx'), { headers: { Origin: 'http://127.0.0.1:1' } });
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(big)).toBe(true);
    expect(res.headers.get('content-length')).toBe('40000');
    expect(res.headers.get('etag')).toBe(`"${createHash('sha256').update(big).digest('hex')}"`);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    const exposed = res.headers.get('access-control-expose-headers')!.toLowerCase();
    for (const h of ['content-length', 'etag', 'content-range', 'x-error-code']) expect(exposed).toContain(h);
    const config = await fetch(fileUrl('config.json'));
    expect(await config.text()).toBe('{"model_type":"llama"}');
    const head = await fetch(fileUrl('onnx/model.onnx'), { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe('40000');
    expect((await head.arrayBuffer()).byteLength).toBe(0);
    const pre = await fetch(fileUrl('onnx/model.onnx'), {
      method: 'OPTIONS',
      headers: { Origin: 'http://127.0.0.1:1', 'Access-Control-Request-Headers': 'range' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-headers')).toBe('range');
    expect(pre.headers.get('access-control-allow-methods')).toContain('GET');
  });

  it('answers one byte range with 206 and content-range (transformers.js reads sizes this way)', async () => {
    const res = await fetch(fileUrl('onnx/model.onnx'), { headers: { Range: 'bytes=0-0' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe('bytes 0-0/40000');
    expect([...new Uint8Array(await res.arrayBuffer())]).toEqual([big[0]]);
    const mid = await fetch(fileUrl('onnx/model.onnx'), { headers: { Range: 'bytes=100-199' } });
    expect(Buffer.from(await mid.arrayBuffer()).equals(big.subarray(100, 200))).toBe(true);
    const tail = await fetch(fileUrl('onnx/model.onnx'), { headers: { Range: 'bytes=-10' } });
    expect(Buffer.from(await tail.arrayBuffer()).equals(big.subarray(39_990))).toBe(true);
    expect((await fetch(fileUrl('onnx/model.onnx'), { headers: { Range: 'bytes=50000-' } })).status).toBe(416);
  });

  it("gives the Hub's error answers: missing, private and gated repos, missing files, folders and revisions", async () => {
    const err = async (url: string) => {
      const r = await fetch(url);
      return [r.status, r.headers.get('x-error-code'), ((await r.json()) as { error: string }).error];
    };
    expect(await err(`${mirror.url}/api/models/nobody/nothing/tree/main/onnx`)).toEqual([
      401,
      'RepoNotFound',
      'Repository not found',
    ]);
    expect(await err(`${mirror.url}/test-owner/private/resolve/main/config.json`)).toEqual([
      401,
      'RepoNotFound',
      'Repository not found',
    ]);
    const gated = await err(`${mirror.url}/api/models/test-owner/gated/tree/main/onnx`);
    expect(gated.slice(0, 2)).toEqual([401, 'GatedRepo']);
    expect(gated[2]).toContain('test-owner/gated');
    expect(await err(fileUrl('onnx/missing.onnx'))).toEqual([404, 'EntryNotFound', 'Entry not found']);
    expect((await err(`${mirror.url}/api/models/${repo}/tree/main/weights`)).slice(0, 2)).toEqual([
      404,
      'EntryNotFound',
    ]);
    expect((await err(`${mirror.url}/${repo}/resolve/v9/config.json`)).slice(0, 2)).toEqual([404, 'RevisionNotFound']);
    mirror.missingRepoStatus = 404;
    try {
      expect((await err(`${mirror.url}/nobody/nothing/resolve/main/config.json`)).slice(0, 2)).toEqual([
        404,
        'RepoNotFound',
      ]);
    } finally {
      mirror.missingRepoStatus = 401;
    }
  });

  it('answers 404 and 500 faults on matching paths only, until removed or used up', async () => {
    const remove = mirror.addFault({ path: '*/onnx/model.onnx', kind: 'status', status: 500 });
    expect((await fetch(fileUrl('onnx/model.onnx'))).status).toBe(500);
    expect((await fetch(fileUrl('onnx/model.onnx_data'))).status).toBe(200);
    remove();
    expect((await fetch(fileUrl('onnx/model.onnx'))).status).toBe(200);
    mirror.addFault({ path: /config\.json$/, kind: 'status', status: 404, times: 1 });
    const first = await fetch(fileUrl('config.json'));
    expect([first.status, first.headers.get('x-error-code')]).toEqual([404, 'EntryNotFound']);
    expect((await fetch(fileUrl('config.json'))).status).toBe(200);
  });

  it('drops the connection mid-body, or truncates it below its content-length', async () => {
    const removeDrop = mirror.addFault({ path: '*/model.onnx', kind: 'drop', afterBytes: 1000 });
    const dropped = await rawGet(fileUrl('onnx/model.onnx'));
    removeDrop();
    expect(dropped.status).toBe(200);
    expect(dropped.headers['content-length']).toBe('40000');
    expect(dropped.error).toBeDefined();
    expect(dropped.body.length).toBeLessThan(40_000);
    expect(dropped.body.equals(big.subarray(0, dropped.body.length))).toBe(true);
    expect(mirror.log.slice(-1)[0]).toMatchObject({ status: 200, outcome: 'dropped', bytes: 1000 });

    const removeTrunc = mirror.addFault({ path: '*/model.onnx', kind: 'truncate' });
    const truncated = await rawGet(fileUrl('onnx/model.onnx'));
    removeTrunc();
    expect(truncated.headers['content-length']).toBe('40000');
    expect(truncated.body.length).toBe(20_000);
    expect(truncated.body.equals(big.subarray(0, 20_000))).toBe(true);
    await expect(fetch(fileUrl('onnx/model.onnx')).then((r) => r.arrayBuffer())).resolves.toHaveProperty(
      'byteLength',
      40_000,
    );
    mirror.addFault({ path: '*/model.onnx', kind: 'truncate', times: 1 });
    await expect(fetch(fileUrl('onnx/model.onnx')).then((r) => r.arrayBuffer())).rejects.toThrow();
    const logged = mirror.log.filter((e) => e.path.endsWith('/onnx/model.onnx')).slice(-1)[0];
    expect([logged.outcome, logged.bytes]).toEqual(['truncated', 20_000]);
  });

  it('stalls a body after the set bytes until the client gives up', async () => {
    mirror.addFault({ path: '*/model.onnx', kind: 'stall', afterBytes: 10, times: 1 });
    const ac = new AbortController();
    const res = await fetch(fileUrl('onnx/model.onnx'), { signal: ac.signal });
    const reader = res.body!.getReader();
    let got = 0;
    while (got < 10) got += (await reader.read()).value!.length;
    expect(got).toBe(10);
    const entry = mirror.log.slice(-1)[0];
    await expect.poll(() => entry.outcome).toBe('stalled');
    ac.abort();
    await reader.closed.catch(() => {});
    expect(entry.bytes).toBe(10);
  });

  it('throttles a download to the set rate', async () => {
    mirror.addFault({ path: '*/model.onnx', kind: 'throttle', bytesPerSecond: 100_000, times: 1 });
    const t0 = performance.now();
    const body = Buffer.from(await (await fetch(fileUrl('onnx/model.onnx'))).arrayBuffer());
    const seconds = (performance.now() - t0) / 1000;
    console.log(`[hub-mirror] 40000 bytes at 100 kB/s took ${seconds.toFixed(2)} s`);
    expect(body.equals(big)).toBe(true);
    // 40 kB at 100 kB/s goes out as eight 5 kB chunks 50 ms apart: at least 7 pauses before the last.
    expect(seconds).toBeGreaterThan(0.3);
    expect(mirror.log.slice(-1)[0]).toMatchObject({ status: 200, outcome: 'complete', bytes: 40_000 });
  });

  it('logs method, path and status of each request, and goes quiet after stop() until restart()', async () => {
    mirror.clearLog();
    await fetch(fileUrl('config.json'), { method: 'HEAD' });
    await fetch(fileUrl('nope.json'));
    expect(mirror.log.map((e) => [e.method, e.path, e.status])).toEqual([
      ['HEAD', `/${repo}/resolve/main/config.json`, 200],
      ['GET', `/${repo}/resolve/main/nope.json`, 404],
    ]);
    await mirror.stop();
    await expect(fetch(fileUrl('config.json'))).rejects.toThrow();
    await mirror.restart();
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toEqual(
      await (await fetch(fileUrl('config.json'))).json(),
    );
    expect(mirror.log.length).toBe(3);
  });
});

describe('the aidreams260K fixture repository', () => {
  it('is a Hub-layout folder with config.json, tokenizer files and every precision under onnx/', async () => {
    const t0 = performance.now();
    const dir = await aidreamsHubFolder();
    console.log(`[hub-fixture] built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const mirror = await startHubMirror();
    try {
      mirror.addRepo(AIDREAMS_REPO, dir);
      const root = (await (await fetch(`${mirror.url}/api/models/${AIDREAMS_REPO}/tree/main`)).json()) as {
        path: string;
      }[];
      expect(root.map((e) => e.path)).toEqual(
        expect.arrayContaining(['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx']),
      );
      const onnx = (await (await fetch(`${mirror.url}/api/models/${AIDREAMS_REPO}/tree/main/onnx`)).json()) as {
        path: string;
      }[];
      expect(onnx.map((e) => e.path)).toEqual(
        expect.arrayContaining(['onnx/model.onnx', 'onnx/model_quantized.onnx', 'onnx/model_q4.onnx']),
      );
      const config = await (await fetch(`${mirror.url}/${AIDREAMS_REPO}/resolve/main/config.json`)).json();
      expect(config).toMatchObject({ model_type: 'llama', vocab_size: 512 });
    } finally {
      await mirror.close();
    }
  });
});
