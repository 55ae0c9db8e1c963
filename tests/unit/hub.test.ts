// Opening Hub models by id, the pure parts (src/lib/hub/: ids, the Model host, listings, the
// Hub's error answers, architectures) and the page's listing code (src/browser/hub-repo.ts) run in
// Node against the test mirror. Expected sizes come from the files on disk, expected error kinds
// from the Hub's documented answers (huggingface_hub's hf_raise_for_status).
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listHubRepo } from '../../src/browser/hub-repo';
import { checkArchitecture } from '../../src/lib/hub/architectures';
import { checkHost, DEFAULT_HUB_HOST, hubFileUrl, hubTreeUrl, transformersRemoteHost } from '../../src/lib/hub/host';
import { defaultHubVariants, parseTree, variantsFromTree, type TreeEntry } from '../../src/lib/hub/listing';
import { QuantlabError } from '../../src/lib/errors';
import { atModelHost, classifyAnswer, describeAnswer } from '../../src/lib/hub/problems';
import { parseRepoId } from '../../src/lib/hub/repo-id';
import { AIDREAMS_REPO, aidreamsHubFolder } from '../helpers/hub-fixture';
import { startHubMirror, type HubMirror } from '../helpers/hub-mirror';
import { cleanupTempDirs, tempDir } from '../helpers/model-dirs';

afterAll(cleanupTempDirs);

describe('repository ids', () => {
  it('takes owner/name, a pasted Hub address and the hub: key', () => {
    expect(parseRepoId(' HuggingFaceTB/SmolLM2-135M-Instruct ')).toEqual({ id: 'HuggingFaceTB/SmolLM2-135M-Instruct' });
    expect(parseRepoId('hub:onnx-community/Qwen2.5-0.5B-Instruct')).toEqual({
      id: 'onnx-community/Qwen2.5-0.5B-Instruct',
    });
    expect(parseRepoId('https://huggingface.co/onnx-community/Llama-3.2-1B-Instruct/tree/main/onnx')).toEqual({
      id: 'onnx-community/Llama-3.2-1B-Instruct',
    });
    expect(parseRepoId('https://hf.co/a_b/c.d_e/')).toEqual({ id: 'a_b/c.d_e' });
  });

  it('names what is wrong with a malformed id and says how to write one', () => {
    const cases: [string, string][] = [
      ['', 'it is empty'],
      ['SmolLM2-135M', 'it has no owner'],
      ['a/b/c', 'more than one /'],
      ['a/', 'empty'],
      ['owner/na me', '"na me" has characters'],
      ['owner/-name', '"-name" has characters'],
      ['owner/a--b', "contains '--'"],
      ['owner/model.git', ".git'"],
      [`owner/${'x'.repeat(97)}`, 'longer than 96'],
    ];
    for (const [text, why] of cases) {
      const r = parseRepoId(text);
      expect('problem' in r && r.problem, text).toContain(why);
      expect('detail' in r && r.detail).toContain('owner/name');
    }
  });
});

describe('the Model host', () => {
  it('accepts http(s) URLs, normalised without a trailing slash', () => {
    expect(checkHost('https://huggingface.co/')).toEqual({ host: DEFAULT_HUB_HOST });
    expect(checkHost(' http://127.0.0.1:8080 ')).toEqual({ host: 'http://127.0.0.1:8080' });
    expect(checkHost('https://mirror.example.org/hf/')).toEqual({ host: 'https://mirror.example.org/hf' });
  });

  it('refuses anything else with a message naming the problem', () => {
    const problem = (t: unknown) => {
      const c = checkHost(t);
      return 'problem' in c ? c.problem : '';
    };
    expect(problem('')).toContain('empty');
    expect(problem('huggingface.co')).toContain('is not a URL');
    expect(problem('ftp://mirror.example.org')).toContain('ftp: address');
    expect(problem('https://user:pw@mirror.example.org')).toContain('user name or password');
    expect(problem('https://mirror.example.org/?x=1')).toContain('query or fragment');
    expect(problem(42)).toContain('empty');
  });

  it('builds the Hub URLs transformers.js and the tree API use', () => {
    expect(hubFileUrl('http://h:1', 'o/n', 'onnx/model q4.onnx')).toBe(
      'http://h:1/o/n/resolve/main/onnx/model%20q4.onnx',
    );
    expect(hubTreeUrl('http://h:1', 'o/n', 'onnx')).toBe('http://h:1/api/models/o/n/tree/main/onnx');
    expect(hubTreeUrl('http://h:1', 'o/n')).toBe('http://h:1/api/models/o/n/tree/main');
    expect(transformersRemoteHost(undefined)).toBe('https://huggingface.co/');
    expect(transformersRemoteHost('http://h:1/hf')).toBe('http://h:1/hf/');
  });
});

describe('listings to precisions', () => {
  const entry = (path: string, size: number): TreeEntry => ({ type: 'file', path, size });

  it('maps each onnx/model*.onnx to its precision, adding external data chunks to its size', () => {
    const r = variantsFromTree('o/n', [
      entry('onnx/model.onnx', 1_000),
      entry('onnx/model.onnx_data', 4_000_000),
      entry('onnx/model.onnx_data_1', 2_000_000),
      entry('onnx/model_q4.onnx', 900_000),
      entry('onnx/model_fp16.onnx', 300),
      entry('onnx/model_fp16.onnx_data', 3_000_000),
      entry('onnx/decoder_model_merged.onnx', 5),
      { type: 'directory', path: 'onnx/extra', size: 0 },
    ]);
    if (!('variants' in r)) throw new Error(r.problem);
    // externalData: how many .onnx_data chunks transformers.js must fetch for the variant.
    expect(r.variants.map((v) => [v.stem, v.label, v.bytes, v.externalData ?? 0])).toEqual([
      ['model', 'fp32', 6_001_000, 2],
      ['model_fp16', 'fp16', 3_000_300, 1],
      ['model_q4', 'q4', 900_000, 0],
    ]);
    expect(r.hasManifest).toBe(false);
  });

  it('says so when onnx/ has no model*.onnx, naming what it has', () => {
    const r = variantsFromTree('o/n', [entry('onnx/decoder_model_merged.onnx', 5), entry('onnx/README.md', 1)]);
    expect('problem' in r && r.problem).toBe(
      "o/n's onnx/ folder has no model*.onnx file (it has decoder_model_merged.onnx)",
    );
  });

  it('reads only what the tree API sends', () => {
    expect(parseTree([{ type: 'file', path: 'onnx/model.onnx', size: 3, oid: 'x' }])).toEqual([
      { type: 'file', path: 'onnx/model.onnx', size: 3 },
    ]);
    expect(parseTree({ error: 'x' })).toBeUndefined();
    expect(parseTree([{ type: 'blob', path: 'x' }])).toBeUndefined();
  });

  it('picks fp32 when it is small and the smallest precision any device runs', () => {
    const r = variantsFromTree('o/n', [
      entry('onnx/model.onnx', 600e6),
      entry('onnx/model_q4.onnx', 200e6),
      entry('onnx/model_q4f16.onnx', 130e6),
      entry('onnx/model_quantized.onnx', 170e6),
    ]);
    if (!('variants' in r)) throw new Error(r.problem);
    expect(defaultHubVariants(r.variants)).toEqual(['model', 'model_quantized']);
    const big = variantsFromTree('o/n', [entry('onnx/model.onnx', 2e9), entry('onnx/model_q4.onnx', 700e6)]);
    if (!('variants' in big)) throw new Error(big.problem);
    expect(defaultHubVariants(big.variants)).toEqual(['model_q4']);
  });
});

describe("the Hub's error answers", () => {
  const host = 'https://huggingface.co';
  it('names missing, private, gated and folder-less repositories and host failures', () => {
    const notFound = classifyAnswer(host, 'o/n', 'the listing of onnx/', {
      status: 401,
      errorCode: 'RepoNotFound',
      body: { error: 'Repository not found' },
    });
    expect(notFound.kind).toBe('not-found');
    expect(notFound.message).toBe(
      'https://huggingface.co has no public repository o/n: https://huggingface.co answered 401 RepoNotFound: “Repository not found”',
    );
    expect(notFound.detail).toContain('private');
    expect(classifyAnswer(host, 'o/n', 'x', { status: 404 }).kind).toBe('not-found');
    expect(classifyAnswer(host, 'o/n', 'x', { status: 401 }).kind).toBe('not-found');
    const gated = classifyAnswer(host, 'meta-llama/Llama-3.2-1B', 'x', {
      status: 401,
      errorCode: 'GatedRepo',
      errorMessage: 'Access to model meta-llama/Llama-3.2-1B is restricted.',
    });
    expect(gated.kind).toBe('gated');
    expect(gated.message).toContain('401 GatedRepo: “Access to model meta-llama/Llama-3.2-1B is restricted.”');
    expect(gated.detail).toContain('cannot sign in');
    expect(classifyAnswer(host, 'o/n', 'the listing of onnx/', { status: 404, errorCode: 'EntryNotFound' }).kind).toBe(
      'no-onnx',
    );
    expect(classifyAnswer(host, 'o/n', 'the listing of onnx/', { status: 404 }, 'entry').kind).toBe('no-onnx');
    const down = classifyAnswer(host, 'o/n', 'the listing of onnx/', { status: 503, body: 'upstream down' });
    expect([down.kind, down.message]).toEqual([
      'host-error',
      'https://huggingface.co failed on the listing of onnx/ of o/n: it answered 503: “upstream down”',
    ]);
    expect(describeAnswer({ status: 500, body: { error: ['a', 'b'] } })).toBe('500: “a; b”');
  });

  it('accepts the decoder architectures the runner drives and names the others', () => {
    expect(checkArchitecture({ model_type: 'llama' })).toEqual({ modelType: 'llama' });
    expect(checkArchitecture({ model_type: 'qwen2' })).toEqual({ modelType: 'qwen2' });
    expect(checkArchitecture({ model_type: 'whisper' })).toEqual({
      problem: "it is a whisper model, which QuantLab's runner does not drive",
      modelType: 'whisper',
    });
    expect(checkArchitecture({ model_type: 'gpt_bigcode' })).toHaveProperty('problem');
    expect(checkArchitecture({})).toEqual({
      problem: 'its config.json has no model_type, so its architecture is unknown',
    });
  });
});

describe('listing a repository through the mirror (src/browser/hub-repo.ts in Node)', () => {
  let mirror: HubMirror;
  let fixture: string;
  const bare = tempDir();

  beforeAll(async () => {
    fixture = await aidreamsHubFolder();
    mirror = await startHubMirror();
    mirror.addRepo(AIDREAMS_REPO, fixture);
    mirror.addRepo('quantlab-test/gated', fixture, { access: 'gated' });
    // No onnx/ folder; and a whisper config over the fixture's ONNX files.
    mkdirSync(join(bare, 'plain'));
    writeFileSync(join(bare, 'plain', 'config.json'), '{"model_type":"llama"}');
    mirror.addRepo('quantlab-test/no-onnx', join(bare, 'plain'));
    mkdirSync(join(bare, 'whisper', 'onnx'), { recursive: true });
    writeFileSync(join(bare, 'whisper', 'config.json'), '{"model_type":"whisper"}');
    writeFileSync(join(bare, 'whisper', 'onnx', 'model.onnx'), 'x');
    mirror.addRepo('quantlab-test/whisper', join(bare, 'whisper'));
  });
  afterAll(() => mirror?.close());

  it('lists every precision of the fixture with its size on disk, labelled by its manifest', async () => {
    const r = await listHubRepo(mirror.url, AIDREAMS_REPO);
    if ('problem' in r) throw new Error(r.problem.message);
    expect(r.listing.modelType).toBe('llama');
    const onDisk = readdirSync(join(fixture, 'onnx'))
      .filter((f) => f.endsWith('.onnx'))
      .map((f) => [f.slice(0, -'.onnx'.length), statSync(join(fixture, 'onnx', f)).size])
      .sort();
    expect(r.listing.variants.map((v) => [v.stem, v.bytes]).sort()).toEqual(onDisk);
    // Measured bits come only from the manifest: the listing read it.
    expect(r.listing.variants.find((v) => v.stem === 'model_q4')?.bitsMeasured).toBe(true);
    const paths = mirror.log.map((e) => e.path);
    expect(paths).toEqual([
      `/api/models/${AIDREAMS_REPO}/tree/main/onnx`,
      `/${AIDREAMS_REPO}/resolve/main/config.json`,
      `/${AIDREAMS_REPO}/resolve/main/onnx/quantlab-manifest.json`,
    ]);
  });

  it('names each failure: missing (401 and 404), gated, no onnx/, unsupported architecture, host down', async () => {
    const kind = async (id: string) => {
      const r = await listHubRepo(mirror.url, id);
      return 'problem' in r ? r.problem : undefined;
    };
    expect((await kind('quantlab-test/missing'))?.message).toContain(
      'answered 401 RepoNotFound: “Repository not found”',
    );
    mirror.missingRepoStatus = 404;
    expect((await kind('quantlab-test/missing'))?.kind).toBe('not-found');
    mirror.missingRepoStatus = 401;
    expect((await kind('quantlab-test/gated'))?.kind).toBe('gated');
    const noOnnx = await kind('quantlab-test/no-onnx');
    expect([noOnnx?.kind, noOnnx?.message]).toEqual([
      'no-onnx',
      `quantlab-test/no-onnx has no onnx/ on ${mirror.url} (404 EntryNotFound: “onnx does not exist on "main"”)`,
    ]);
    const whisper = await kind('quantlab-test/whisper');
    expect([whisper?.kind, whisper?.message]).toEqual([
      'unsupported-architecture',
      "quantlab-test/whisper cannot run here: it is a whisper model, which QuantLab's runner does not drive",
    ]);
    const remove = mirror.addFault({ path: '/api/*', kind: 'status', status: 500 });
    expect((await kind(AIDREAMS_REPO))?.kind).toBe('host-error');
    remove();
    await mirror.stop();
    try {
      const down = await kind(AIDREAMS_REPO);
      expect(down?.kind).toBe('unreachable');
      expect(down?.message).toContain(`Could not reach ${mirror.url}`);
      expect(down?.detail).toContain('Model host');
    } finally {
      await mirror.restart();
    }
  });

  it('tells a missing onnx/ folder from a missing repository on a mirror without error codes', async () => {
    // A bare 404 (no X-Error-Code) for the onnx/ listing: the root listing decides.
    const strip = (res: Response) =>
      new Response(res.body, { status: res.status, headers: { 'content-type': 'application/json' } });
    const plainFetch: typeof fetch = async (input, init) => strip(await fetch(input, init));
    mirror.missingRepoStatus = 404;
    try {
      const folder = await listHubRepo(mirror.url, 'quantlab-test/no-onnx', plainFetch);
      expect('problem' in folder && folder.problem.kind).toBe('no-onnx');
      const repo = await listHubRepo(mirror.url, 'quantlab-test/nothing', plainFetch);
      expect('problem' in repo && repo.problem.kind).toBe('not-found');
    } finally {
      mirror.missingRepoStatus = 401;
    }
  });
});

describe("a column's load error at a mirror", () => {
  it('names the Model host instead of the Hub when the files come from a mirror', async () => {
    const offline = new QuantlabError('offline', 'Could not reach the Hugging Face Hub to load o/n', 'offline');
    expect(atModelHost(offline, 'o/n', undefined)).toBe(offline);
    expect(atModelHost(offline, 'o/n', DEFAULT_HUB_HOST)).toBe(offline);
    const other = new QuantlabError('bad-onnx', 'corrupt');
    expect(atModelHost(other, 'o/n', 'http://m:1')).toBe(other);
    const named = atModelHost(offline, 'o/n', 'http://m:1') as QuantlabError;
    expect([named.code, named.message]).toEqual(['offline', 'Could not reach the Model host http://m:1 to load o/n']);
    expect(named.detail).toContain('set Model host to another mirror');
  });
});
