// A stand-in for the Hugging Face Hub, for tests: a Node http server on a free loopback port that
// speaks the part of the Hub protocol transformers.js and the page use (file downloads under
// `resolve/`, the tree API), with the Hub's CORS headers, its error answers, switchable faults and a
// request log. It is a test tool: the site never imports it.
//
// Protocol served (as huggingface.co answers an anonymous client, per huggingface_hub's
// hf_raise_for_status and transformers.js 4.3.1's hub.js):
//   GET|HEAD /{owner}/{name}/resolve/{revision}/{path}   the file; one `Range: bytes=` range -> 206
//   GET      /api/models/{owner}/{name}/tree/{revision}[/{folder}][?recursive=true]
//            -> [{ type: 'file' | 'directory', oid, size, path, lfs? }], path from the repo root
//   OPTIONS  any path: the CORS preflight
// Errors carry `X-Error-Code` / `X-Error-Message` headers and a `{ "error": ... }` body:
//   missing or private repo: 401 RepoNotFound (the Hub hides private repos from anonymous clients
//   and answers 401 for missing ones too; a signed-in client gets 404: `missingRepoStatus`),
//   gated repo: 401 GatedRepo, missing file or folder: 404 EntryNotFound, unknown revision: 404
//   RevisionNotFound.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';

/** How a registered repository answers an anonymous client. */
export type RepoAccess = 'public' | 'gated' | 'private';

export interface MirrorRepoOptions {
  access?: RepoAccess;
  /** The one revision served besides the commit hash (default 'main'). */
  revision?: string;
}

/**
 * A fault applied to requests whose path matches `path`: a glob over the full URL path (`*` is any
 * run of characters, `/` included; anchored at both ends), e.g. `'*\/onnx/model_q4.onnx'`, or a RegExp.
 * `times` limits it to the first n matching requests (default: every one until removed).
 */
export type MirrorFault = { path: string | RegExp; times?: number } & (
  | { kind: 'throttle'; bytesPerSecond: number }
  /** Answers with this status and the Hub's error body instead of the file. */
  | { kind: 'status'; status: number; errorCode?: string }
  /** Sends the headers and `afterBytes` of the body (default half), then resets the connection. */
  | { kind: 'drop'; afterBytes?: number }
  /** Promises the full content-length, sends `afterBytes` (default half), then closes cleanly. */
  | { kind: 'truncate'; afterBytes?: number }
  /** Sends the headers and `afterBytes` (default 0), then nothing until the client gives up. */
  | { kind: 'stall'; afterBytes?: number }
);

export interface MirrorRequest {
  method: string;
  /** URL path with query, as requested (percent-decoding left to the reader). */
  path: string;
  /** Status sent (0 when the connection ended before a status). */
  status: number;
  /** 'complete', or what cut the body short: 'dropped', 'truncated', 'stalled', 'aborted' (by the client). */
  outcome: 'complete' | 'dropped' | 'truncated' | 'stalled' | 'aborted';
  /** Body bytes written. */
  bytes: number;
  range?: string;
  /** Origin header of the request, if any. */
  origin?: string;
}

export interface HubMirror {
  /** `http://127.0.0.1:<port>` (no trailing slash): the value for the page's Model host setting. */
  readonly url: string;
  /** Serves `dir` (a folder in the Hub layout) as repository `id` ("owner/name"). */
  addRepo(id: string, dir: string, opts?: MirrorRepoOptions): void;
  removeRepo(id: string): void;
  /** Adds a fault, settable while running; returns a function that removes it. */
  addFault(fault: MirrorFault): () => void;
  clearFaults(): void;
  /** Every request answered since the start or the last clearLog(), in order. */
  readonly log: readonly MirrorRequest[];
  clearLog(): void;
  /** Status for unknown and private repositories: 401 (anonymous Hub, default) or 404. */
  missingRepoStatus: 401 | 404;
  /** Stops listening and cuts open connections: the page then sees a network error. */
  stop(): Promise<void>;
  /** Listens again on the same port after stop(). */
  restart(): Promise<void>;
  /** Stops for good. */
  close(): Promise<void>;
}

/** Headers the Hub exposes to cross-origin readers (its list, plus Content-Length for clarity). */
const EXPOSE_HEADERS = [
  'Content-Length',
  'Content-Range',
  'Accept-Ranges',
  'ETag',
  'Link',
  'X-Repo-Commit',
  'X-Request-Id',
  'X-Error-Code',
  'X-Error-Message',
  'X-Total-Count',
  'X-Linked-Size',
  'X-Linked-ETag',
].join(', ');

const CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': EXPOSE_HEADERS,
  // The page is cross-origin isolated (COEP require-corp): CORS already lets it read these
  // responses, and CORP says so for no-cors readers too.
  'Cross-Origin-Resource-Policy': 'cross-origin',
};

/** Files the Hub stores in LFS (and lists with an `lfs` entry): weights, not text. */
const LFS_FILE = /\.(onnx|onnx_data|bin|safetensors|pt|gguf)$/;

const MIME: Record<string, string> = {
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
};

interface Repo {
  dir: string;
  access: RepoAccess;
  revision: string;
  commit: string;
}

interface FileHashes {
  mtimeMs: number;
  size: number;
  gitOid: string;
  sha256: string;
}

const hashes = new Map<string, FileHashes>();

/** The git blob id and sha256 of a file, cached while its mtime and size stay the same. */
async function fileHashes(file: string): Promise<FileHashes> {
  const st = statSync(file);
  const known = hashes.get(file);
  if (known && known.mtimeMs === st.mtimeMs && known.size === st.size) return known;
  const git = createHash('sha1').update(`blob ${st.size}\0`);
  const sha = createHash('sha256');
  for await (const chunk of createReadStream(file)) {
    git.update(chunk as Buffer);
    sha.update(chunk as Buffer);
  }
  const h = { mtimeMs: st.mtimeMs, size: st.size, gitOid: git.digest('hex'), sha256: sha.digest('hex') };
  hashes.set(file, h);
  return h;
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .split('*')
    .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Starts a mirror on 127.0.0.1 at a free port. */
export async function startHubMirror(opts: { missingRepoStatus?: 401 | 404 } = {}): Promise<HubMirror> {
  const repos = new Map<string, Repo>();
  const faults: { fault: MirrorFault; re: RegExp; left: number }[] = [];
  const log: MirrorRequest[] = [];
  const sockets = new Set<Socket>();
  let port = 0;
  let server: Server;

  function takeFault(pathname: string) {
    const i = faults.findIndex((f) => f.left > 0 && f.re.test(pathname));
    if (i < 0) return undefined;
    const f = faults[i];
    f.left -= 1;
    return f.fault;
  }

  function send(res: ServerResponse, entry: MirrorRequest, status: number, headers: Record<string, string | number>) {
    entry.status = status;
    res.writeHead(status, { ...CORS_HEADERS, ...headers });
  }

  function sendError(
    res: ServerResponse,
    entry: MirrorRequest,
    status: number,
    code: string | undefined,
    message: string,
  ) {
    const body = JSON.stringify({ error: message });
    send(res, entry, status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      ...(code ? { 'X-Error-Code': code } : {}),
      'X-Error-Message': message,
    });
    res.end(entry.method === 'HEAD' ? undefined : body);
    entry.bytes = entry.method === 'HEAD' ? 0 : Buffer.byteLength(body);
  }

  /** The repository `id` as an anonymous client may see it, or the error answer sent. */
  function repoFor(res: ServerResponse, entry: MirrorRequest, id: string, revision: string): Repo | undefined {
    const repo = repos.get(id);
    if (!repo || repo.access === 'private') {
      sendError(res, entry, mirror.missingRepoStatus, 'RepoNotFound', 'Repository not found');
      return undefined;
    }
    if (repo.access === 'gated') {
      sendError(
        res,
        entry,
        401,
        'GatedRepo',
        `Access to model ${id} is restricted. You must have access to it and be authenticated to access it. Please log in.`,
      );
      return undefined;
    }
    if (revision !== repo.revision && revision !== repo.commit) {
      sendError(res, entry, 404, 'RevisionNotFound', `Invalid rev id: ${revision}`);
      return undefined;
    }
    return repo;
  }

  /** `rel` resolved inside the repo folder, or undefined when it would leave it. */
  function inside(repo: Repo, rel: string): string | undefined {
    const file = path.resolve(repo.dir, rel);
    return file === repo.dir || file.startsWith(repo.dir + path.sep) ? file : undefined;
  }

  type BodyFault = Exclude<MirrorFault, { kind: 'status' }>;

  /** Writes `length` body bytes read through `read`, as the fault (if any) says: throttled, cut, stalled. */
  async function sendBody(
    res: ServerResponse,
    entry: MirrorRequest,
    length: number,
    read: (pos: number, n: number) => Promise<Buffer>,
    fault: BodyFault | undefined,
  ) {
    const cutAt =
      fault && fault.kind !== 'throttle'
        ? Math.min(length, fault.afterBytes ?? (fault.kind === 'stall' ? 0 : Math.floor(length / 2)))
        : length;
    const rate = fault?.kind === 'throttle' ? fault.bytesPerSecond : Infinity;
    // Throttled: a chunk every 50 ms; else 64 kB chunks as fast as the socket takes them.
    const chunk = Number.isFinite(rate) ? Math.max(1, Math.floor(rate / 20)) : 65536;
    let sent = 0;
    while (sent < cutAt) {
      if (res.destroyed) {
        entry.outcome = 'aborted';
        return;
      }
      const n = Math.min(chunk, cutAt - sent);
      const flushed = res.write(await read(sent, n));
      sent += n;
      entry.bytes = sent;
      if (!flushed) await new Promise<void>((r) => res.once('drain', r).once('close', r));
      if (Number.isFinite(rate)) await sleep((n / rate) * 1000);
    }
    if (!fault || fault.kind === 'throttle') {
      res.end();
      return;
    }
    if (fault.kind === 'drop') {
      entry.outcome = 'dropped';
      // A reset also discards what the client has received but not read yet: let it read first.
      await new Promise<void>((r) => res.write('', () => r()));
      await sleep(100);
      res.socket?.resetAndDestroy();
    } else if (fault.kind === 'truncate') {
      entry.outcome = 'truncated';
      // Let the bytes written so far reach the client, then close without the rest.
      res.socket?.end();
    } else {
      entry.outcome = 'stalled';
    }
  }

  async function tree(
    res: ServerResponse,
    entry: MirrorRequest,
    repo: Repo,
    folder: string,
    recursive: boolean,
    fault: BodyFault | undefined,
  ) {
    const dir = inside(repo, folder);
    if (!dir || !existsSync(dir) || !statSync(dir).isDirectory()) {
      sendError(res, entry, 404, 'EntryNotFound', `${folder} does not exist on "${repo.revision}"`);
      return;
    }
    const out: object[] = [];
    const walk = async (abs: string) => {
      for (const name of readdirSync(abs).sort()) {
        const p = path.join(abs, name);
        const rel = path.relative(repo.dir, p).split(path.sep).join('/');
        if (statSync(p).isDirectory()) {
          const oid = createHash('sha1').update(`tree ${rel}`).digest('hex');
          out.push({ type: 'directory', oid, size: 0, path: rel });
          if (recursive) await walk(p);
        } else {
          const h = await fileHashes(p);
          out.push({
            type: 'file',
            oid: h.gitOid,
            size: h.size,
            path: rel,
            ...(LFS_FILE.test(name) ? { lfs: { oid: h.sha256, size: h.size, pointerSize: 134 } } : {}),
          });
        }
      }
    };
    await walk(dir);
    const body = Buffer.from(JSON.stringify(out));
    send(res, entry, 200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': body.length });
    if (entry.method === 'HEAD') res.end();
    else await sendBody(res, entry, body.length, async (pos, n) => body.subarray(pos, pos + n), fault);
  }

  async function file(
    res: ServerResponse,
    req: IncomingMessage,
    entry: MirrorRequest,
    repo: Repo,
    rel: string,
    fault: BodyFault | undefined,
  ) {
    const abs = inside(repo, rel);
    if (!abs || !existsSync(abs) || !statSync(abs).isFile()) {
      sendError(res, entry, 404, 'EntryNotFound', 'Entry not found');
      return;
    }
    const h = await fileHashes(abs);
    let start = 0;
    let end = h.size - 1;
    let status = 200;
    const range = req.headers.range;
    if (range) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      if (m && (m[1] || m[2])) {
        if (m[1]) {
          start = Number(m[1]);
          if (m[2]) end = Math.min(Number(m[2]), h.size - 1);
        } else {
          start = Math.max(0, h.size - Number(m[2]));
        }
        if (start > end || start >= h.size) {
          entry.status = 416;
          res.writeHead(416, { ...CORS_HEADERS, 'Content-Range': `bytes */${h.size}` }).end();
          return;
        }
        status = 206;
      }
    }
    const length = end - start + 1;
    const lfs = LFS_FILE.test(abs);
    send(res, entry, status, {
      'Content-Type': MIME[path.extname(abs)] ?? 'application/octet-stream',
      'Content-Length': length,
      'Accept-Ranges': 'bytes',
      ETag: `"${lfs ? h.sha256 : h.gitOid}"`,
      'X-Repo-Commit': repo.commit,
      ...(lfs ? { 'X-Linked-Size': h.size, 'X-Linked-ETag': `"${h.sha256}"` } : {}),
      ...(status === 206 ? { 'Content-Range': `bytes ${start}-${end}/${h.size}` } : {}),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const fh = await open(abs, 'r');
    try {
      await sendBody(
        res,
        entry,
        length,
        async (pos, n) => {
          const buf = Buffer.alloc(n);
          await fh.read(buf, 0, n, start + pos);
          return buf;
        },
        fault,
      );
    } finally {
      await fh.close();
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://mirror');
    const entry: MirrorRequest = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      status: 0,
      outcome: 'complete',
      bytes: 0,
      ...(req.headers.range ? { range: req.headers.range } : {}),
      ...(req.headers.origin ? { origin: req.headers.origin } : {}),
    };
    log.push(entry);
    res.on('close', () => {
      if (!res.writableFinished && entry.outcome === 'complete') entry.outcome = 'aborted';
    });
    if (req.method === 'OPTIONS') {
      send(res, entry, 204, {
        'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
        'Access-Control-Allow-Headers': req.headers['access-control-request-headers'] ?? '*',
        'Access-Control-Max-Age': 86400,
      });
      res.end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendError(res, entry, 405, undefined, `Method ${req.method} not allowed`);
      return;
    }
    // Faults match the path whatever it names (a listing, a file, an unknown repository).
    const fault = takeFault(url.pathname);
    if (fault?.kind === 'status') {
      const code = fault.errorCode ?? (fault.status === 404 ? 'EntryNotFound' : undefined);
      sendError(res, entry, fault.status, code, fault.status === 404 ? 'Entry not found' : 'Internal Error');
      return;
    }
    let parts: string[];
    try {
      parts = url.pathname.split('/').slice(1).map(decodeURIComponent);
    } catch {
      sendError(res, entry, 400, undefined, 'Bad path');
      return;
    }
    // /api/models/{owner}/{name}/tree/{revision}/{folder...}
    if (parts[0] === 'api' && parts[1] === 'models' && parts[4] === 'tree' && parts.length >= 6) {
      const repo = repoFor(res, entry, `${parts[2]}/${parts[3]}`, parts[5]);
      const recursive = url.searchParams.get('recursive') === 'true';
      if (repo) await tree(res, entry, repo, parts.slice(6).join('/'), recursive, fault);
      return;
    }
    // /{owner}/{name}/resolve/{revision}/{path...}
    if (parts[2] === 'resolve' && parts.length >= 5) {
      const repo = repoFor(res, entry, `${parts[0]}/${parts[1]}`, parts[3]);
      if (repo) await file(res, req, entry, repo, parts.slice(4).join('/'), fault);
      return;
    }
    sendError(res, entry, 404, undefined, 'Not found');
  }

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((req, res) => {
        handle(req, res).catch((e: unknown) => {
          if (!res.headersSent) sendErrorSafe(res, e);
          else res.destroy();
        });
      });
      server.on('connection', (s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        port = (server.address() as AddressInfo).port;
        resolve();
      });
    });

  const sendErrorSafe = (res: ServerResponse, e: unknown) => {
    res.writeHead(500, { ...CORS_HEADERS, 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ error: `mirror failure: ${e instanceof Error ? e.message : String(e)}` }));
  };

  let running = false;
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!running) return resolve();
      running = false;
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });

  await listen();
  running = true;

  const mirror: HubMirror = {
    url: `http://127.0.0.1:${port}`,
    missingRepoStatus: opts.missingRepoStatus ?? 401,
    addRepo(id, dir, o = {}) {
      if (!/^[\w.-]+\/[\w.-]+$/.test(id)) throw new Error(`hub mirror: "${id}" is not an owner/name repo id`);
      if (!existsSync(dir)) throw new Error(`hub mirror: ${dir} does not exist`);
      const commit = createHash('sha1')
        .update(`${id}@${path.resolve(dir)}`)
        .digest('hex');
      repos.set(id, { dir: path.resolve(dir), access: o.access ?? 'public', revision: o.revision ?? 'main', commit });
    },
    removeRepo(id) {
      repos.delete(id);
    },
    addFault(fault) {
      const item = {
        fault,
        re: typeof fault.path === 'string' ? globToRegExp(fault.path) : fault.path,
        left: fault.times ?? Infinity,
      };
      faults.push(item);
      return () => {
        const i = faults.indexOf(item);
        if (i >= 0) faults.splice(i, 1);
      };
    },
    clearFaults() {
      faults.length = 0;
    },
    get log() {
      return log;
    },
    clearLog() {
      log.length = 0;
    },
    stop,
    async restart() {
      if (running) return;
      await listen();
      running = true;
    },
    close: stop,
  };
  return mirror;
}
