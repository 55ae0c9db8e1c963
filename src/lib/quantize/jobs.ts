// Where the heavy loops of GPTQ and AWQ run: a pool maps a list of independent jobs (a kernel by
// name and its arguments) over its threads. The kernels write their results into memory from
// `pool.shared`, so the same code runs one job after another on this thread or spread over
// worker threads sharing that memory; either way every number comes out the same.

/** One call of a kernel (a function of kernels.ts's registry) by name, with its arguments. */
export interface Job {
  kernel: string;
  args: unknown[];
}

/** Runs independent jobs; resolves when all are done. */
export interface JobPool {
  /** Threads the jobs are spread over (1: one after another on this thread). */
  readonly size: number;
  run(jobs: Job[]): Promise<void>;
  /** Memory kernels may write into and every thread of the pool sees (a SharedArrayBuffer in a pool of threads). */
  shared(bytes: number): ArrayBuffer | SharedArrayBuffer;
}

/** A batch of jobs a step of an algorithm needs done before it goes on. */
export type JobSteps<T> = Generator<Job[], T, void>;

/** `[0, n)` cut into `parts` contiguous ranges of about equal length, each start a multiple of `align`. */
export function splitRange(n: number, parts: number, align = 1): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  for (let p = 0; p < parts && start < n; p++) {
    const end = p === parts - 1 ? n : Math.min(n, Math.ceil(((p + 1) * n) / parts / align) * align);
    if (end > start) out.push([start, end]);
    start = end;
  }
  return out;
}

/** Kernels by name: each writes its results into arrays it was given. */
export type KernelRegistry = Record<string, (...args: never[]) => void>;

/** Runs one job with a kernel of `kernels`. */
export function runJob(kernels: KernelRegistry, job: Job): void {
  const k = kernels[job.kernel] as ((...args: unknown[]) => void) | undefined;
  if (!k) throw new Error(`No kernel named ${job.kernel}`);
  k(...job.args);
}

/** Runs the steps on this thread, every job in order: what a pool of one thread does. */
export function runStepsInline<T>(steps: JobSteps<T>, kernels: KernelRegistry): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    for (const job of r.value) runJob(kernels, job);
  }
}

/** Runs the steps on a pool, each batch of jobs done before the next step. */
export async function runSteps<T>(steps: JobSteps<T>, pool: JobPool): Promise<T> {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await pool.run(r.value);
  }
}

/** Plain memory: for steps run inline. */
export const localMemory = (bytes: number): ArrayBuffer => new ArrayBuffer(bytes);

/** A pool of one thread: this one, running each job with `kernels` as it comes. */
export function inlinePool(kernels: KernelRegistry): JobPool {
  return {
    size: 1,
    shared: localMemory,
    run: async (jobs) => jobs.forEach((job) => runJob(kernels, job)),
  };
}
