// The ArrayBuffer churn probe (src/lib/bench/churn.ts): its figures from a scripted clock, worked
// out by hand; its bounds; the line the benchmark prints; and a real run reporting every field.
import { describe, expect, it } from 'vitest';
import { arrayBufferChurn, CHURN_SHAPE } from '../../src/lib/bench/churn';
import { formatChurn, type BenchMachine } from '../../src/lib/bench/report';

describe('arrayBufferChurn', () => {
  it('reports the median time per buffer and the median longest step over the runs after the warm-up', () => {
    // 3 steps a run, 2 buffers a step; the clock is read once at a run's start and once per step.
    // Step lengths (ms) per run, 2 warm-up runs first: the warm-up's would dominate if counted.
    const steps = [
      [100, 100, 100],
      [100, 100, 100],
      [1, 1, 4], // 6 ms / 6 buffers = 1000 µs, longest 4
      [1, 2, 3], // 6 ms -> 1000 µs, longest 3
      [2, 2, 8], // 12 ms -> 2000 µs, longest 8
    ];
    const times: number[] = [];
    let t = 0;
    for (const run of steps) {
      times.push(t);
      for (const d of run) times.push((t += d));
    }
    let i = 0;
    const r = arrayBufferChurn({ runs: 3, steps: 3, perStep: 2, bytes: 64 }, () => times[i++]);
    expect(i).toBe(times.length);
    expect(r).toEqual({ per_step: 2, bytes: 64, steps: 3, runs: 3, per_buffer_us: 1000, longest_step_ms: 4 });
  });

  it('refuses a shape that is not whole numbers >= 1', () => {
    expect(() => arrayBufferChurn({ ...CHURN_SHAPE, runs: 0 })).toThrow(/whole numbers >= 1/);
    expect(() => arrayBufferChurn({ ...CHURN_SHAPE, bytes: 1.5 })).toThrow(/whole numbers >= 1/);
  });

  it('measures this process: every field a positive number', () => {
    const r = arrayBufferChurn({ runs: 3, steps: 8, perStep: 4, bytes: 16384 });
    expect(r).toMatchObject({ per_step: 4, bytes: 16384, steps: 8, runs: 3 });
    expect(r.per_buffer_us).toBeGreaterThan(0);
    expect(r.longest_step_ms).toBeGreaterThan(0);
  });
});

describe('formatChurn', () => {
  const c = (us: number, ms: number) => ({ ...CHURN_SHAPE, per_step: 14, per_buffer_us: us, longest_step_ms: ms });
  const machine = (browser: boolean): BenchMachine => ({
    cores: 2,
    cpu_model: 'x',
    platform: 'linux',
    node_version: 'v20',
    array_buffer_churn: c(0.123, 0.5),
    ...(browser
      ? {
          browser: {
            hardware_concurrency: 2,
            user_agent: 'Chrome/1',
            onnxruntime_web_version: '1.0.0',
            cross_origin_isolated: true,
            threads: 2,
            spinning: true,
            array_buffer_churn: c(45.678, 21.25),
          },
        }
      : {}),
  });

  it("prints Node's figure, and the page's when a browser runtime ran", () => {
    expect(formatChurn(machine(false))).toMatch(
      /^ArrayBuffer churn \(14 typed arrays of 16 KB a step for 64 steps, .*\): node 0\.12 µs a buffer \(longest step 0\.50 ms\); /,
    );
    expect(formatChurn(machine(true))).toContain(
      'node 0.12 µs a buffer (longest step 0.50 ms), browser 45.68 µs a buffer (longest step 21.25 ms);',
    );
    expect(formatChurn(undefined)).toBeNull();
  });
});
