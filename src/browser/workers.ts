// Starts the app's workers with typed comlink handles; a column worker can be terminated and
// replaced (the hard cancel, and the way to give its memory back).
import { wrap, type Remote } from 'comlink';
import type { BuilderApi } from '../../workers/builder.worker.ts';
import type { ColumnApi } from '../../workers/column.worker.ts';

export interface WorkerHandle<T> {
  api: Remote<T>;
  terminate(): void;
}

export function startColumnWorker(): WorkerHandle<ColumnApi> {
  const w = new Worker(new URL('../../workers/column.worker.ts', import.meta.url), { type: 'module', name: 'column' });
  return { api: wrap<ColumnApi>(w), terminate: () => w.terminate() };
}

export function startBuilderWorker(): WorkerHandle<BuilderApi> {
  const w = new Worker(new URL('../../workers/builder.worker.ts', import.meta.url), { type: 'module', name: 'builder' });
  return { api: wrap<BuilderApi>(w), terminate: () => w.terminate() };
}
