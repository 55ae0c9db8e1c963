// Headless Chromium for the browser tests and the benchmark: builds the real site, serves it from a
// tiny Node static server (with or without the cross-origin isolation headers, plus extra folders
// mounted under URL paths) and drives Debian's Chromium through playwright-core, recording console
// errors and every request that fails or leaves this machine.
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { QuantlabError } from '../lib/errors';

/** Repository root (this file is src/node/browser.ts). */
export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
/** Where buildSite() puts the built site by default (gitignored). */
export const DEFAULT_SITE_DIR = path.join(REPO_ROOT, '.cache/browser-site');

/** Runs `vite build` into outDir (emptied first); returns the build time in ms. Throws on failure. */
export function buildSite(outDir: string = DEFAULT_SITE_DIR): number {
  const start = performance.now();
  const vite = path.join(REPO_ROOT, 'node_modules/vite/bin/vite.js');
  const result = spawnSync(
    process.execPath,
    [vite, 'build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'],
    {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    },
  );
  if (result.status !== 0) {
    throw new Error(`vite build failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
  return performance.now() - start;
}

/** What the built site is made from: a newer file here means the build is stale. */
const SITE_SOURCES = [
  'index.html',
  'bench.html',
  'vite.config.ts',
  'package-lock.json',
  'svelte.config.js',
  'src',
  'workers',
  'public',
];

function newestMtime(p: string): number {
  if (!existsSync(p)) return 0;
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(p)) newest = Math.max(newest, newestMtime(path.join(p, name)));
  return newest;
}

/**
 * Builds the site into outDir unless a build is already there that is newer than every source
 * file (src/, workers/, public/, the HTML entries, the Vite config and the lock file). Returns the
 * build time in ms, or 0 when the existing build was kept.
 */
export function ensureSite(outDir: string, log: (line: string) => void = () => {}): number {
  const built = path.join(outDir, 'bench.html');
  const builtAt =
    existsSync(built) && existsSync(path.join(outDir, 'index.html'))
      ? statSync(path.join(outDir, 'index.html')).mtimeMs
      : 0;
  const sourcesAt = Math.max(...SITE_SOURCES.map((f) => newestMtime(path.join(REPO_ROOT, f))));
  if (builtAt > sourcesAt) return 0;
  log(`building the site into ${path.relative(process.cwd(), outDir) || outDir} (vite build) ...`);
  return buildSite(outDir);
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'application/javascript',
  '.mjs': 'application/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.bin': 'application/octet-stream',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8',
};

const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export interface StaticServer {
  /** http://127.0.0.1:<port>/ */
  url: string;
  close(): Promise<void>;
}

export interface ServeOptions {
  /** Send COOP/COEP/CORP (default true); false behaves like a static host that cannot set headers. */
  isolationHeaders?: boolean;
  /** Extra folders served under URL paths, e.g. { '/models/bench/': '/path/to/model' }. */
  mounts?: Record<string, string>;
}

/**
 * Serves `root` on 127.0.0.1 at an ephemeral port. With `isolationHeaders: false` it behaves like
 * a static host that cannot set headers (to test the service-worker shim).
 */
export async function serveStatic(root: string, opts: ServeOptions = {}): Promise<StaticServer> {
  const isolation = opts.isolationHeaders ?? true;
  const mounts = Object.entries(opts.mounts ?? {}).map(
    ([prefix, dir]) => [prefix.endsWith('/') ? prefix : `${prefix}/`, path.resolve(dir)] as const,
  );
  const server: Server = createServer((req, res) => {
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    const mount = mounts.find(([prefix]) => pathname.startsWith(prefix));
    const base = mount ? mount[1] : path.resolve(root);
    let file = path.join(base, mount ? pathname.slice(mount[0].length) : pathname);
    if (file !== base && !file.startsWith(base + path.sep)) {
      res.writeHead(403).end();
      return;
    }
    if (existsSync(file) && statSync(file).isDirectory()) file = path.join(file, 'index.html');
    if (!existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`not found: ${pathname}`);
      return;
    }
    // Validators, as static hosts send them: a revisit revalidates (304) and keeps the browser's
    // cached copy, and with it the compiled code it cached for scripts and WASM.
    const st = statSync(file);
    const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
    const headers = { ETag: etag, 'Cache-Control': 'no-cache', ...(isolation ? ISOLATION_HEADERS : {}) };
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers).end();
      return;
    }
    res.writeHead(200, {
      'Content-Type': MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': st.size,
      ...headers,
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface BrowserSession {
  context: BrowserContext;
  /** The context's first page. */
  page: Page;
  /** Every request URL seen (pages, workers, service workers), in order. */
  requests: string[];
  /** Requests to any host other than 127.0.0.1 / localhost / [::1]. */
  externalRequests: string[];
  /** Requests that failed at the network level or got an HTTP error, as "url: reason". */
  failedRequests: string[];
  /** Console errors and uncaught page errors, as printed. */
  errors: string[];
  close(): Promise<void>;
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

function isExternal(url: string): boolean {
  const u = new URL(url);
  return (
    (u.protocol === 'http:' || u.protocol === 'https:' || u.protocol === 'ws:' || u.protocol === 'wss:') &&
    !LOCAL_HOSTS.has(u.hostname)
  );
}

/** Path of the Chromium binary: $CHROMIUM_PATH or Debian's /usr/bin/chromium. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Starts headless Chromium with WebGPU enabled (SwiftShader where there is no GPU) and a fresh
 * profile. Throws, with the install command, when the browser is missing: the tests never skip.
 */
export async function launchChromium(): Promise<BrowserSession> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new QuantlabError(
      'unsupported-device',
      `Chromium not found at ${CHROMIUM_PATH}`,
      "Install Debian's build with `apt-get install -y chromium` (or set CHROMIUM_PATH to a Chromium binary). Do not run `playwright install`: it downloads from outside npm.",
    );
  }
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'quantlab-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      '--enable-unsafe-webgpu',
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-dev-shm-usage',
      '--disable-quic',
      '--disable-default-apps',
      '--disable-domain-reliability',
      '--no-pings',
    ],
  });
  const session: BrowserSession = {
    context,
    page: context.pages()[0] ?? (await context.newPage()),
    requests: [],
    externalRequests: [],
    failedRequests: [],
    errors: [],
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
  context.on('request', (req) => {
    session.requests.push(req.url());
    if (isExternal(req.url())) session.externalRequests.push(req.url());
  });
  context.on('requestfailed', (req) => {
    const reason = req.failure()?.errorText ?? 'unknown';
    // ERR_ABORTED is the browser cancelling a load it no longer needs (reload, page closed).
    if (reason !== 'net::ERR_ABORTED') session.failedRequests.push(`${req.url()}: ${reason}`);
  });
  context.on('response', (res) => {
    if (res.status() >= 400) session.failedRequests.push(`${res.url()}: HTTP ${res.status()}`);
  });
  const watch = (page: Page) => {
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      const where = msg.location().url;
      const line = `[browser console.error] ${msg.text()}${where ? ` (${where})` : ''}`;
      session.errors.push(line);
      console.error(line);
    });
    page.on('pageerror', (err) => {
      const line = `[browser pageerror] ${err.stack ?? err.message}`;
      session.errors.push(line);
      console.error(line);
    });
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  return session;
}
