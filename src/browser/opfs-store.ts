// User models live in the Origin Private File System (models/<id>/...), so a converted or
// quantized model survives reloads and any worker can read it without copies through the page.
// A folder counts only once its manifest (written last) exists: a cancelled import leaves nothing.

import { QuantlabError } from '../lib/errors';

const ROOT = 'models';
export const MANIFEST = 'quantlab-model.json';

export interface StoredModelInfo {
  id: string;
  name: string;
  source: string;
  createdAt: string;
  files: { path: string; bytes: number }[];
}

async function modelsDir(): Promise<FileSystemDirectoryHandle> {
  if (!navigator.storage?.getDirectory) {
    throw new QuantlabError(
      'unsupported-device',
      'This browser has no Origin Private File System',
      'Use a recent Chromium, Edge, Firefox or Safari.',
    );
  }
  const root = await navigator.storage.getDirectory();
  return root.getDirectoryHandle(ROOT, { create: true });
}

async function dirAt(
  base: FileSystemDirectoryHandle,
  parts: string[],
  create: boolean,
): Promise<FileSystemDirectoryHandle> {
  let d = base;
  for (const p of parts) d = await d.getDirectoryHandle(p, { create });
  return d;
}

/** A file's content: bytes, text, or a Blob (a File the user opened) streamed to disk without a copy in memory. */
export type FileData = Uint8Array | string | Blob;

const sizeOf = (d: FileData) => (d instanceof Blob ? d.size : typeof d === 'string' ? d.length : d.byteLength);

/** Writes a file at a relative path inside a model folder. */
export async function writeModelFile(id: string, path: string, data: FileData): Promise<void> {
  const parts = [id, ...path.split('/')];
  const name = parts.pop()!;
  const dir = await dirAt(await modelsDir(), parts, true);
  const handle = await dir.getFileHandle(name, { create: true });
  const w = await handle.createWritable();
  try {
    await w.write(typeof data === 'string' || data instanceof Blob ? data : new Uint8Array(data));
    await w.close();
  } catch (err) {
    await w.abort().catch(() => {});
    const quota = (err as DOMException)?.name === 'QuotaExceededError';
    throw new QuantlabError(
      quota ? 'load-failed' : 'internal',
      quota
        ? `Not enough browser storage to save ${path} of ${id}`
        : `Could not save ${path} of ${id}: ${(err as Error).message}`,
      quota ? 'Delete models you no longer need, or free disk space.' : undefined,
    );
  }
}

/** Reads a file of a stored model, or undefined if it does not exist. */
export async function readModelFile(id: string, path: string): Promise<File | undefined> {
  try {
    const parts = [id, ...path.split('/')];
    const name = parts.pop()!;
    const dir = await dirAt(await modelsDir(), parts, false);
    return await (await dir.getFileHandle(name)).getFile();
  } catch {
    return undefined;
  }
}

/** Saves a whole model: every file, then the manifest that makes it visible. */
export async function saveModel(
  info: Omit<StoredModelInfo, 'files' | 'createdAt'>,
  files: Map<string, FileData>,
  signal?: AbortSignal,
): Promise<StoredModelInfo> {
  await deleteModel(info.id);
  try {
    for (const [path, data] of files) {
      if (signal?.aborted) throw new QuantlabError('cancelled', 'Cancelled');
      await writeModelFile(info.id, path, data);
    }
    const full: StoredModelInfo = {
      ...info,
      createdAt: new Date().toISOString(),
      files: [...files].map(([path, d]) => ({ path, bytes: sizeOf(d) })),
    };
    await writeModelFile(info.id, MANIFEST, JSON.stringify(full, null, 2));
    return full;
  } catch (err) {
    await deleteModel(info.id);
    throw err;
  }
}

/** Adds files to an existing model (e.g. quantized variants), deletes `remove`, and updates its manifest. */
export async function addModelFiles(
  id: string,
  files: Map<string, Uint8Array>,
  remove: readonly string[] = [],
): Promise<StoredModelInfo> {
  const info = await readManifest(id);
  if (!info) throw new QuantlabError('load-failed', `Model ${id} is not in browser storage`);
  for (const [path, data] of files) await writeModelFile(id, path, data);
  for (const path of remove) await removeModelFile(id, path);
  const rest = info.files.filter((f) => !files.has(f.path) && !remove.includes(f.path));
  info.files = [...rest, ...[...files].map(([path, d]) => ({ path, bytes: d.byteLength }))];
  await writeModelFile(id, MANIFEST, JSON.stringify(info, null, 2));
  return info;
}

async function removeModelFile(id: string, path: string): Promise<void> {
  const parts = [id, ...path.split('/')];
  const name = parts.pop()!;
  try {
    await (await dirAt(await modelsDir(), parts, false)).removeEntry(name);
  } catch {
    // Already gone.
  }
}

async function readManifest(id: string): Promise<StoredModelInfo | undefined> {
  const f = await readModelFile(id, MANIFEST);
  if (!f) return undefined;
  try {
    return JSON.parse(await f.text()) as StoredModelInfo;
  } catch {
    return undefined;
  }
}

/**
 * The stored models, oldest first. With `prune` (the default, for the builder worker: the one
 * writer) a folder without a manifest, left by a cancelled import, is removed; without it (the page)
 * such a folder is only skipped, so a reader never deletes an import in progress.
 */
export async function listModels({ prune = true }: { prune?: boolean } = {}): Promise<StoredModelInfo[]> {
  const dir = await modelsDir();
  const out: StoredModelInfo[] = [];
  for await (const [name, handle] of (
    dir as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }
  ).entries()) {
    if (handle.kind !== 'directory') continue;
    const info = await readManifest(name);
    if (info) out.push(info);
    else if (prune) await dir.removeEntry(name, { recursive: true }).catch(() => {});
  }
  return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

export async function deleteModel(id: string): Promise<void> {
  const dir = await modelsDir();
  await dir.removeEntry(id, { recursive: true }).catch(() => {});
}
