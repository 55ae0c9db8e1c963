// Node file access for the importers and exporters: a folder reader for importHfFolder that handles
// files over 2 GiB, and an all-or-nothing folder writer so a failed export never leaves half a model;
// and a folder's listing with sizes, as the served index gives the page.

import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { QuantlabError } from '../lib/errors';
import type { FolderReader } from '../lib/import/hf';

const CHUNK = 64 << 20; // fs.readFile refuses files over 2 GiB; read in chunks instead

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

/** Relative paths only, without '..' or empty segments, so nothing lands outside the folder. */
function checkRelPath(rel: string, what: string): string {
  const parts = rel.split('/');
  if (
    !rel ||
    rel.includes('\\') ||
    rel.includes('\0') ||
    path.isAbsolute(rel) ||
    parts.some((p) => p === '' || p === '.' || p === '..')
  ) {
    throw new QuantlabError(
      'bad-argument',
      `${what} ${JSON.stringify(rel)} is not a plain relative path inside the folder`,
    );
  }
  return rel;
}

/** Every file under `dir`, sorted, with its relative path and size (the served index's form). */
export function listFolder(dir: string): { path: string; bytes: number }[] {
  const files: { path: string; bytes: number }[] = [];
  const walk = (sub: string) => {
    for (const name of readdirSync(path.join(dir, sub)).sort()) {
      const rel = sub ? `${sub}/${name}` : name;
      const st = statSync(path.join(dir, rel));
      if (st.isDirectory()) walk(rel);
      else files.push({ path: rel, bytes: st.size });
    }
  };
  walk('');
  return files;
}

/** A FolderReader over `dir`: resolves the file's bytes, or undefined when it does not exist. */
export function nodeReader(dir: string): FolderReader {
  return async (relPath) => {
    const full = path.join(dir, checkRelPath(relPath, 'File name'));
    let fh;
    try {
      fh = await open(full, 'r');
    } catch (e) {
      if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return undefined;
      throw new QuantlabError('bad-argument', `Cannot read ${full}: ${(e as Error).message}`);
    }
    try {
      const info = await fh.stat();
      if (!info.isFile()) throw new QuantlabError('bad-argument', `${full} is not a file`);
      const size = info.size;
      const out = new Uint8Array(size);
      for (let at = 0; at < size;) {
        const { bytesRead } = await fh.read(out, at, Math.min(CHUNK, size - at), at);
        if (bytesRead === 0) throw new QuantlabError('bad-checkpoint', `${full} shrank while being read`);
        at += bytesRead;
      }
      return out;
    } finally {
      await fh.close();
    }
  };
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch (e) {
    if (errno(e) === 'ENOENT') return false;
    throw e;
  }
}

export interface WriteFolderOptions {
  /** Replace an existing outDir (only once the new folder is completely written). */
  overwrite?: boolean;
  /** Writes one file; a test seam, defaults to fs.writeFile. */
  writeFile?: (fullPath: string, data: Uint8Array | string) => Promise<void>;
}

/**
 * Writes `files` (relative paths, subfolders allowed) into a temporary sibling of outDir and renames
 * it into place only after every write succeeded; on failure nothing is left behind. An existing
 * outDir is refused with 'bad-argument' unless `overwrite` is set.
 */
export async function writeFolderAtomic(
  outDir: string,
  files: Map<string, Uint8Array | string>,
  opts: WriteFolderOptions = {},
): Promise<void> {
  const out = path.resolve(outDir);
  for (const rel of files.keys()) checkRelPath(rel, 'Output file name');
  const refuse = () =>
    new QuantlabError(
      'bad-argument',
      `Output folder ${out} already exists`,
      'Choose another folder, or pass the overwrite option to replace it.',
    );
  if (!opts.overwrite && (await exists(out))) throw refuse();
  const parent = path.dirname(out);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = path.join(parent, `.${path.basename(out)}.tmp-${tag}`);
  const write = opts.writeFile ?? ((p: string, d: Uint8Array | string) => writeFile(p, d));
  try {
    await mkdir(tmp, { recursive: true });
    for (const [rel, data] of files) {
      const full = path.join(tmp, rel);
      await mkdir(path.dirname(full), { recursive: true });
      await write(full, data);
    }
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    if (e instanceof QuantlabError) throw e;
    throw new QuantlabError(
      'bad-argument',
      `Cannot write the output folder ${out}: ${(e as Error).message}`,
      'Check the path, permissions and free disk space.',
    );
  }
  let old: string | undefined;
  try {
    if (await exists(out)) {
      if (!opts.overwrite) throw refuse(); // appeared while we were writing
      old = path.join(parent, `.${path.basename(out)}.old-${tag}`);
      await rename(out, old);
    }
    await rename(tmp, out);
  } catch (e) {
    if (old) await rename(old, out).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
    if (e instanceof QuantlabError) throw e;
    throw new QuantlabError('bad-argument', `Cannot move the new folder into ${out}: ${(e as Error).message}`);
  }
  if (old) await rm(old, { recursive: true, force: true });
}
