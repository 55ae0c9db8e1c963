// Every kernel a job may name (jobs.ts), for the threads that run jobs by name: a pool's workers
// import this registry and nothing else of the quantizers' drivers.

import { AWQ_KERNELS } from './awq';
import { GPTQ_KERNELS } from './gptq';
import { runJob, type Job, type KernelRegistry } from './jobs';

export const KERNELS: KernelRegistry = { ...GPTQ_KERNELS, ...AWQ_KERNELS };

/** Runs jobs one after another on this thread. */
export function runJobs(jobs: Job[]): void {
  for (const job of jobs) runJob(KERNELS, job);
}
