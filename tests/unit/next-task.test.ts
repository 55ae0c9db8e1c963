// atMostEvery: the worker's wait between tokens, taken at most once per interval.
import { describe, expect, it } from 'vitest';
import { atMostEvery } from '../../src/lib/runner/next-task';

describe('atMostEvery', () => {
  it('waits only when the interval has passed since the last wait', async () => {
    let t = 0;
    let waits = 0;
    const between = atMostEvery(
      8,
      async () => void waits++,
      () => t,
    );
    for (const at of [1, 5, 7.9, 8, 9, 15, 16, 40]) {
      t = at;
      await between();
    }
    // Waits at 8 (8 since start), 16 (8 since 8) and 40; none at 1, 5, 7.9, 9 or 15.
    expect(waits).toBe(3);
  });
});
