// The benchmark's memory readings from /proc: this process's resident set as Node itself reports
// it, a child process found below this one and counted, and the peak kept between resets.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  descendants,
  PeakSampler,
  processMemory,
  processRss,
  treeMemory,
  treeMemorySampler,
} from '../../src/node/memory';

describe('memory readings', () => {
  it("reads this process's resident set as Node does", () => {
    const a = process.memoryUsage().rss;
    const b = processMemory(process.pid);
    // Same figure (statm), read a moment apart: within 5 %.
    expect(Math.abs(b - a) / a).toBeLessThan(0.05);
    expect(processRss()).toBeGreaterThan(0);
    expect(processMemory(2 ** 22 + 12345)).toBe(0); // no such process (above Linux's pid_max)
  });

  it('finds a child process and sums its memory into the tree', async () => {
    // The child says when its runtime is up: at 'spawn' it may not yet hold a Node runtime's memory.
    const child = spawn(process.execPath, ['-e', "process.stdout.write('up'); setTimeout(() => {}, 20000)"], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    try {
      await new Promise((r) => child.stdout!.once('data', r));
      expect(descendants(process.pid)).toContain(child.pid);
      const own = processMemory(child.pid!);
      expect(own).toBeGreaterThan(1 << 20); // a Node process holds more than 1 MiB
      expect(treeMemory(process.pid)).toBeGreaterThanOrEqual(own);
      expect(treeMemorySampler(process.pid)()).toBeGreaterThanOrEqual(own);
      expect(descendants(child.pid!)).toEqual([]);
    } finally {
      child.kill();
    }
  });

  it('keeps the largest sample until reset', () => {
    const values = [5, 9, 3, 2, 4];
    let i = 0;
    const s = new PeakSampler(() => values[i++], 1_000_000);
    expect(s.sample()).toBe(5);
    expect(s.sample()).toBe(9);
    expect(s.peak).toBe(9); // samples 3
    s.reset(); // samples 2
    expect(s.peak).toBe(4); // samples 4
    s.stop();
  });
});
