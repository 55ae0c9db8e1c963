// Builds model folders on disk for tests (in a fresh temp dir per call), with the same code
// the CLI uses, and removes them afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildModelFolder, type DecoderSource } from '../../src/lib/model/folder';
import { llama2cSource } from '../../src/lib/import/sources';
import { writeFolderAtomic } from '../../src/node/files';
import { readCheckpoint, readTokenizer } from './aidreams';

const made: string[] = [];

export function tempDir(prefix = 'quantlab-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

export async function writeModel(src: DecoderSource, name = 'model'): Promise<string> {
  const dir = join(tempDir(), name);
  await writeFolderAtomic(dir, await buildModelFolder(src));
  return dir;
}

export function aidreamsSource(): DecoderSource {
  return llama2cSource(readCheckpoint(), readTokenizer(), { checkpoint: 'aidreams260K.bin', tokenizer: 'tok512.bin' });
}

export function cleanupTempDirs(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}
