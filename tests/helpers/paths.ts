// Where the shared, read-only test models live: <repo>/../shared/models (never copied into the repo).
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SHARED_MODELS = resolve(REPO, '../shared/models');
export const AIDREAMS = resolve(SHARED_MODELS, 'aidreams260K');

if (!existsSync(AIDREAMS)) {
  throw new Error(
    `Test model folder ${AIDREAMS} is missing: the repository expects ../shared/models/aidreams260K beside it`,
  );
}
