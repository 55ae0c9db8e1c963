// The job pool of the Node CLI and benchmarks: this thread plus worker threads, the jobs' arrays
// in SharedArrayBuffers, so GPTQ's and AWQ's loops use every core. Workers start on first use and
// do not keep the process alive while idle.

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { wrap, type Remote } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import type { JobPool } from '../lib/quantize/jobs';
import { runJobs } from '../lib/quantize/kernels';
import type { JobWorkerApi } from './job-worker';

interface PoolWorker {
  worker: Worker;
  api: Remote<JobWorkerApi>;
}

/**
 * A pool of `size` threads: this one and size - 1 workers. Job i runs on thread i % size (this
 * thread takes its share while the workers run theirs).
 */
export function nodeJobPool(size = Math.min(2, availableParallelism())): JobPool {
  const workers: PoolWorker[] = [];
  let busy = 0;
  const start = () => {
    while (workers.length < size - 1) {
      const worker = new Worker(new URL('./job-worker.mjs', import.meta.url));
      worker.unref();
      workers.push({ worker, api: wrap<JobWorkerApi>(nodeEndpoint(worker)) });
    }
  };
  return {
    size,
    shared: (bytes) => new SharedArrayBuffer(bytes),
    async run(jobs) {
      if (size === 1 || jobs.length <= 1) {
        runJobs(jobs);
        return;
      }
      start();
      const share = (t: number) => jobs.filter((_, i) => i % size === t);
      if (busy++ === 0) workers.forEach((w) => w.worker.ref());
      try {
        const remote = workers.map((w, t) => w.api.run(share(t + 1)));
        runJobs(share(0));
        await Promise.all(remote);
      } finally {
        if (--busy === 0) workers.forEach((w) => w.worker.unref());
      }
    },
  };
}
