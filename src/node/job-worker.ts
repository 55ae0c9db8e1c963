// A worker thread of the Node job pool (job-pool.ts): runs the jobs it is sent with the kernels'
// registry, reading and writing the SharedArrayBuffers the jobs carry.

import { parentPort } from 'node:worker_threads';
import { expose } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { runJobs } from '../lib/quantize/kernels';
import type { Job } from '../lib/quantize/jobs';

const api = {
  run(jobs: Job[]): void {
    runJobs(jobs);
  },
};
export type JobWorkerApi = typeof api;

if (!parentPort) throw new Error('job-worker runs in a worker thread');
expose(api, nodeEndpoint(parentPort));
