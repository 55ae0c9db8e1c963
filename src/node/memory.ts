// Memory figures for the benchmark, sampled while it runs: this process's resident set (Node
// runtime), or the resident sets summed over a process tree read from /proc (the Chromium this
// process started: browser, renderer, GPU and utility processes alike). The sum counts a page
// shared by several of those processes (Chromium's own code, mostly) once per process, so it
// overstates the tree's memory somewhat; the proportional set size (smaps_rollup) would not, but
// reading it walks every page table - 150 ms for a renderer holding a 135M-parameter model, which
// would take a core away from the browser being timed. statm costs a fraction of a millisecond.

import { readdirSync, readFileSync } from 'node:fs';

/** This process's resident set size in bytes. */
export function processRss(): number {
  return process.memoryUsage.rss();
}

/** pid -> parent pid of every process /proc lists (empty off Linux). */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces or parentheses.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      out.set(Number(name), ppid);
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** Every descendant of `root` (not root itself). */
export function descendants(root: number): number[] {
  const ppid = parents();
  const children = new Map<number, number[]>();
  for (const [pid, parent] of ppid) children.set(parent, [...(children.get(parent) ?? []), pid]);
  const out: number[] = [];
  const stack = [...(children.get(root) ?? [])];
  while (stack.length) {
    const pid = stack.pop()!;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** One process's resident set size in bytes (from /proc/<pid>/statm), 0 if it is gone. */
export function processMemory(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * PAGE;
  } catch {
    return 0;
  }
}

/** Linux's page size on the machines this runs on (x86-64 and most arm64). */
const PAGE = 4096;

/** Resident memory of every process below `root` (the Chromium this Node process launched), summed. */
export function treeMemory(root: number = process.pid): number {
  return descendants(root).reduce((sum, pid) => sum + processMemory(pid), 0);
}

/**
 * treeMemory() for frequent sampling: the list of processes is read again every `refreshEvery`
 * calls only (Chromium starts its processes at launch; workers are threads).
 */
export function treeMemorySampler(root: number = process.pid, refreshEvery = 10): () => number {
  let pids: number[] = [];
  let calls = 0;
  return () => {
    if (calls++ % refreshEvery === 0) pids = descendants(root);
    return pids.reduce((sum, pid) => sum + processMemory(pid), 0);
  };
}

/** Samples `read()` every `intervalMs` (and on demand) and keeps the peak since the last reset. */
export class PeakSampler {
  #timer?: ReturnType<typeof setInterval>;
  #peak = 0;
  constructor(
    private readonly read: () => number,
    private readonly intervalMs = 100,
  ) {}
  start(): this {
    this.sample();
    this.#timer ??= setInterval(() => this.sample(), this.intervalMs);
    this.#timer.unref?.();
    return this;
  }
  sample(): number {
    this.#peak = Math.max(this.#peak, this.read());
    return this.#peak;
  }
  /** The peak so far (after one more sample). */
  get peak(): number {
    return this.sample();
  }
  reset(): void {
    this.#peak = 0;
    this.sample();
  }
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
